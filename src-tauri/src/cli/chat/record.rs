//! Recording the headless chat in the app's history: the conversation's earlier messages and
//! parameters as the request's context, the user's message saved before the request is sent,
//! the answer saved as it streams, and its outcome with its metrics at the end.
//!
//! Invariants: the context is what the app would send for the same conversation (its system
//! prompt, then every non-empty user and assistant message in order); the text written to the
//! history is exactly the text printed, from the same event; a cancel or a broken stream is
//! saved `interrupted`, a failure `error`, both with the partial text. A process killed
//! mid-stream leaves a `streaming` row the next open marks `interrupted` (the history's lease).

use crate::core::chat::{ChatFailure, ChatOutcome};
use crate::core::history::{
    ChatParams, Conversation, Exchange, History, HistoryOptions, HistoryPaths, Outcome, Role,
};
use crate::core::protocol::chat::ChatMessage;
use crate::core::{Error, Result};

/// A stored conversation as a request's context.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Context {
    /// The conversation's model, system prompt, temperature and max tokens.
    pub params: ChatParams,
    /// Its earlier user and assistant messages, oldest first (no system prompt).
    pub messages: Vec<ChatMessage>,
}

/// Opens the history at [`HistoryPaths::from_env`] (`BEHEST_DATA_DIR`, else the app's).
pub async fn open() -> Result<History> {
    let history = History::open_async(HistoryPaths::from_env()?, HistoryOptions::default()).await?;
    if let Some(recovery) = &history.open_report().recovery {
        eprintln!("behest-desktop chat: {}", recovery.summary());
    }
    Ok(history)
}

/// The context of conversation `id` (an unknown id is [`Error::InvalidInput`]).
pub async fn context(history: &History, id: &str) -> Result<Context> {
    let id = id.to_string();
    let full = history.call(move |h| h.get_conversation(&id)).await?;
    let messages = full
        .messages
        .iter()
        .filter(|m| m.role != Role::System && !m.content.is_empty())
        .map(|m| ChatMessage::new(m.role.as_str(), m.content.clone()))
        .collect();
    Ok(Context {
        params: full.conversation.params,
        messages,
    })
}

/// An exchange being recorded.
#[derive(Debug)]
pub struct Recording {
    exchange: Exchange,
}

impl Recording {
    /// Saves the user's `prompt` in conversation `id` (a new one, titled from the prompt and
    /// keeping `params`, when `None`); the request may be sent once this returns.
    pub async fn begin(
        history: &History,
        id: Option<&str>,
        prompt: &str,
        params: ChatParams,
    ) -> Result<Recording> {
        let exchange = history
            .begin_exchange(id.map(str::to_string), prompt.to_string(), params)
            .await?;
        Ok(Recording { exchange })
    }

    /// The conversation being recorded.
    pub fn conversation(&self) -> &Conversation {
        self.exchange.conversation()
    }

    /// Queues streamed text for saving (never blocks). A failure is logged, not fatal: the
    /// text is still printed, and the history keeps what it could save.
    pub fn append(&self, text: &str) {
        if let Err(error) = self.exchange.append(text) {
            tracing::warn!(%error, "history append failed; the text is still printed");
        }
    }

    /// Saves the outcome: complete, interrupted (a broken stream or a cancel) or error, with
    /// the metrics measured.
    pub async fn finish(
        self,
        result: &std::result::Result<ChatOutcome, ChatFailure>,
    ) -> Result<()> {
        let outcome = Outcome::of_chat(result);
        self.exchange.finish(outcome).await.map(drop)
    }
}

/// Why recording could not start, with the way out.
pub fn unavailable(error: &Error) -> String {
    format!("cannot record the chat in the history ({error}); use --no-history to chat without it")
}
