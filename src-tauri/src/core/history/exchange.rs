//! The async face of the streaming writer, for the app's chat and the headless `chat` command.
//!
//! ```ignore
//! let exchange = history.begin_exchange(None, text, params).await?; // user message saved
//! // send the request with exchange.conversation().thread_header() as X-Thread-Id ...
//! exchange.append(delta)?;                                          // per streamed delta
//! let message = exchange.finish(Outcome::Complete(metrics)).await?;
//! ```
//!
//! Invariants: [`Exchange::append`] never blocks and never touches SQLite on the caller's
//! thread; it hands the text to a dedicated writer thread that owns the [`StreamWriter`] and
//! wakes at least every `flush_interval`, so text is saved on time even when the stream stalls.
//! Dropping an [`Exchange`] without finishing saves the text as `interrupted`. A failed flush
//! keeps the text waiting and is retried at the next flush; `finish` reports the final write.

use std::sync::mpsc::{self, RecvTimeoutError};

use tokio::sync::oneshot;

use super::record::{ChatParams, Conversation, Message};
use super::writer::{Outcome, StreamWriter};
use super::History;
use crate::core::{Error, Result};

enum Command {
    Append(String),
    Finish(Outcome, oneshot::Sender<Result<Message>>),
}

/// An exchange being recorded; made by [`History::begin_exchange`].
#[derive(Debug)]
pub struct Exchange {
    commands: mpsc::Sender<Command>,
    conversation: Conversation,
    user_message_id: String,
    message_id: String,
}

fn writer_gone() -> Error {
    Error::Storage("the history writer thread stopped".into())
}

impl History {
    /// Starts recording an exchange (see [`History::begin_exchange_blocking`]): when this
    /// returns, the user's message is saved and the request may be sent.
    pub async fn begin_exchange(
        &self,
        conversation_id: Option<String>,
        user_message: String,
        params: ChatParams,
    ) -> Result<Exchange> {
        let writer = self
            .call(move |h| {
                h.begin_exchange_blocking(conversation_id.as_deref(), &user_message, &params)
            })
            .await?;
        Exchange::spawn(writer, self.options().flush_interval)
    }
}

impl Exchange {
    fn spawn(writer: StreamWriter, interval: std::time::Duration) -> Result<Exchange> {
        let (commands, inbox) = mpsc::channel::<Command>();
        let conversation = writer.conversation().clone();
        let user_message_id = writer.user_message_id().to_string();
        let message_id = writer.message_id().to_string();
        std::thread::Builder::new()
            .name("history-writer".into())
            .spawn(move || run(writer, &inbox, interval))?;
        Ok(Exchange {
            commands,
            conversation,
            user_message_id,
            message_id,
        })
    }

    /// The conversation; [`Conversation::thread_header`] is the `X-Thread-Id` to send.
    pub fn conversation(&self) -> &Conversation {
        &self.conversation
    }

    /// The id of the saved user message.
    pub fn user_message_id(&self) -> &str {
        &self.user_message_id
    }

    /// The id of the answer being written.
    pub fn message_id(&self) -> &str {
        &self.message_id
    }

    /// Queues streamed text for saving. Never blocks.
    pub fn append(&self, delta: &str) -> Result<()> {
        if delta.is_empty() {
            return Ok(());
        }
        self.commands
            .send(Command::Append(delta.to_string()))
            .map_err(|_| writer_gone())
    }

    /// Saves the rest of the text with the final status and metrics; returns the message.
    pub async fn finish(self, outcome: Outcome) -> Result<Message> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Finish(outcome, reply))
            .map_err(|_| writer_gone())?;
        answer.await.map_err(|_| writer_gone())?
    }
}

fn run(mut writer: StreamWriter, inbox: &mpsc::Receiver<Command>, interval: std::time::Duration) {
    loop {
        let step = match inbox.recv_timeout(interval) {
            Ok(Command::Append(delta)) => writer.append(&delta),
            Ok(Command::Finish(outcome, reply)) => {
                // The caller may have stopped waiting; the message is saved either way.
                let _ = reply.send(writer.finish(outcome));
                return;
            }
            Err(RecvTimeoutError::Timeout) => writer.tick(),
            // The Exchange was dropped unfinished: dropping the writer saves it as interrupted.
            Err(RecvTimeoutError::Disconnected) => return,
        };
        if let Err(e) = step {
            tracing::warn!(message = %writer.message_id(), error = %e,
                "history flush failed; the text stays queued and is retried");
        }
    }
}
