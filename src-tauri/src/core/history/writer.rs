//! The streaming writer: saves a chat exchange as it happens, so a crash keeps what was shown.
//!
//! Invariants:
//! - The user's message and an empty assistant row (status `streaming`) are committed in one
//!   transaction by [`History::begin_exchange_blocking`], before the caller sends the request.
//! - Text given to [`StreamWriter::append`] is in the database within `flush_interval` (when
//!   more text or a [`StreamWriter::tick`] comes) or as soon as `flush_bytes` are waiting; a
//!   flush appends only the new text (`content || ?`).
//! - [`StreamWriter::finish`] writes the rest of the text together with the final status and
//!   metrics in one statement. A writer dropped unfinished saves its text as `interrupted`.
//! - The row carries the writer's [`Lease`]; at open, a `streaming` row whose lease is dead is
//!   turned `interrupted` ([`recover_streaming`]); live writers' rows are left alone.

use std::time::Instant;

use rusqlite::{params, Connection, TransactionBehavior};

use super::lease::{self, Lease};
use super::record::{ChatParams, Conversation, Message, Metrics, Role, Status};
use super::store::{self, insert_conversation, insert_message, load_conversation};
use super::{now_ms, History};
use crate::core::chat::{ChatFailure, ChatOutcome, ChatStatus};
use crate::core::{Error, Result};

/// How an answer ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The stream finished normally.
    Complete(Metrics),
    /// The user stopped it, or the connection ended early; the partial text is kept.
    Interrupted(Metrics),
    /// It ended with an error; the partial text is kept.
    Error {
        /// Machine-readable kind (e.g. `rateLimited`, `network`).
        kind: String,
        /// Human-readable message (already free of secrets).
        message: String,
        /// What was measured before the error.
        metrics: Metrics,
    },
}

impl Outcome {
    /// An [`Outcome::Error`] from a core error.
    pub fn failed(error: &Error, metrics: Metrics) -> Outcome {
        let kind = match error {
            Error::Unauthorized(_) => "unauthorized",
            Error::Forbidden(_) => "forbidden",
            Error::QuotaExceeded(_) => "quotaExceeded",
            Error::RateLimited(_) => "rateLimited",
            Error::BadRequest(_) => "badRequest",
            Error::NotFound(_) => "notFound",
            Error::Upstream(_) => "upstream",
            Error::StreamError(_) => "streamError",
            Error::Network(_) => "network",
            Error::Timeout(_) => "timeout",
            Error::Protocol(_) => "protocol",
            _ => "other",
        };
        let mut metrics = metrics;
        if metrics.trace_id.is_none() {
            metrics.trace_id = error.trace_id().map(str::to_string);
        }
        Outcome::Error {
            kind: kind.into(),
            message: error.to_string(),
            metrics,
        }
    }

    /// How a chat's result is saved: complete, interrupted (a broken stream or a cancel) or an
    /// error, with the metrics the chat measured (the app and the headless `chat` both use it).
    pub fn of_chat(result: &std::result::Result<ChatOutcome, ChatFailure>) -> Outcome {
        match result {
            Ok(o) => {
                let metrics = Metrics {
                    usage: o.usage,
                    ttft_ms: o
                        .ttft
                        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
                    tokens_per_second: o.tokens_per_second,
                    trace_id: o.trace_id.clone(),
                };
                match o.status {
                    ChatStatus::Completed => Outcome::Complete(metrics),
                    ChatStatus::Interrupted { .. } | ChatStatus::Cancelled => {
                        Outcome::Interrupted(metrics)
                    }
                }
            }
            Err(f) => Outcome::failed(
                &f.error,
                Metrics {
                    trace_id: f.trace_id.clone(),
                    ..Metrics::default()
                },
            ),
        }
    }

    fn parts(&self) -> (Status, Option<&str>, Option<&str>, &Metrics) {
        match self {
            Outcome::Complete(m) => (Status::Complete, None, None, m),
            Outcome::Interrupted(m) => (Status::Interrupted, None, None, m),
            Outcome::Error {
                kind,
                message,
                metrics,
            } => (Status::Error, Some(kind), Some(message), metrics),
        }
    }
}

/// Writes one streaming answer; made by [`History::begin_exchange_blocking`]. Blocking.
#[derive(Debug)]
pub struct StreamWriter {
    history: History,
    conversation: Conversation,
    user_message_id: String,
    message_id: String,
    pending: String,
    last_flush: Instant,
    lease: Option<Lease>,
}

impl History {
    /// Starts an exchange: creates the conversation when `conversation_id` is `None` (titled from
    /// the message, with `params`), else checks it exists; commits the user's message and an
    /// empty `streaming` assistant row. `params.model` is recorded on the answer (falling back to
    /// the conversation's model).
    pub fn begin_exchange_blocking(
        &self,
        conversation_id: Option<&str>,
        user_message: &str,
        params: &ChatParams,
    ) -> Result<StreamWriter> {
        let lease = Lease::take(&self.paths().dir)?;
        let now = now_ms();
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let conversation = match conversation_id {
            Some(id) => load_conversation(&tx, id)?,
            None => {
                let c = Conversation {
                    id: uuid::Uuid::new_v4().to_string(),
                    title: store::title_from(user_message),
                    params: params.clone(),
                    server_threads: false,
                    server_thread_id: None,
                    created_at: now,
                    updated_at: now,
                };
                insert_conversation(&tx, &c)?;
                c
            }
        };
        let model = params
            .model
            .clone()
            .or_else(|| conversation.params.model.clone());
        let user = new_message(
            &conversation.id,
            Role::User,
            user_message,
            None,
            now,
            Status::Complete,
        );
        let answer = new_message(
            &conversation.id,
            Role::Assistant,
            "",
            model,
            now,
            Status::Streaming,
        );
        insert_message(&tx, &user)?;
        insert_message(&tx, &answer)?;
        tx.execute(
            "UPDATE messages SET writer_lease = ?2 WHERE id = ?1",
            params![answer.id, lease.id()],
        )?;
        store::touch(&tx, &conversation.id, now)?;
        tx.commit()?;
        drop(conn);
        Ok(StreamWriter {
            history: self.clone(),
            conversation,
            user_message_id: user.id,
            message_id: answer.id,
            pending: String::new(),
            last_flush: Instant::now(),
            lease: Some(lease),
        })
    }
}

fn new_message(
    conversation_id: &str,
    role: Role,
    content: &str,
    model: Option<String>,
    at: i64,
    status: Status,
) -> Message {
    Message {
        id: uuid::Uuid::new_v4().to_string(),
        conversation_id: conversation_id.to_string(),
        role,
        content: content.to_string(),
        model,
        created_at: at,
        status,
        error_kind: None,
        error_message: None,
        metrics: Metrics::default(),
    }
}

impl StreamWriter {
    /// The conversation (new or existing); its [`Conversation::thread_header`] is the
    /// `X-Thread-Id` to send.
    pub fn conversation(&self) -> &Conversation {
        &self.conversation
    }

    /// The id of the user's message.
    pub fn user_message_id(&self) -> &str {
        &self.user_message_id
    }

    /// The id of the answer being written.
    pub fn message_id(&self) -> &str {
        &self.message_id
    }

    /// Adds streamed text; writes it out when `flush_bytes` are waiting or `flush_interval` has
    /// passed since the last write.
    pub fn append(&mut self, delta: &str) -> Result<()> {
        self.pending.push_str(delta);
        let options = self.history.options();
        if self.pending.len() >= options.flush_bytes
            || self.last_flush.elapsed() >= options.flush_interval
        {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes waiting text if `flush_interval` has passed; call it when no text arrives.
    pub fn tick(&mut self) -> Result<()> {
        if self.last_flush.elapsed() >= self.history.options().flush_interval {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes all waiting text now.
    pub fn flush(&mut self) -> Result<()> {
        if !self.pending.is_empty() {
            self.history
                .lock()
                .prepare_cached("UPDATE messages SET content = content || ?2 WHERE id = ?1")?
                .execute(params![self.message_id, self.pending])?;
            self.pending.clear();
        }
        self.last_flush = Instant::now();
        Ok(())
    }

    /// Writes the rest of the text with the final status and metrics; returns the message.
    pub fn finish(mut self, outcome: Outcome) -> Result<Message> {
        self.finalize(&outcome)?;
        self.history.message(&self.message_id)
    }

    fn finalize(&mut self, outcome: &Outcome) -> Result<()> {
        let (status, kind, message, metrics) = outcome.parts();
        let usage = metrics.usage;
        let now = now_ms();
        let mut conn = self.history.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "UPDATE messages SET content = content || ?2, status = ?3, error_kind = ?4, \
             error_message = ?5, prompt_tokens = ?6, completion_tokens = ?7, total_tokens = ?8, \
             ttft_ms = ?9, tokens_per_second = ?10, trace_id = ?11, writer_lease = NULL \
             WHERE id = ?1",
            params![
                self.message_id,
                self.pending,
                status.as_str(),
                kind,
                message,
                usage.map(|u| u.prompt_tokens),
                usage.map(|u| u.completion_tokens),
                usage.map(|u| u.total_tokens),
                metrics.ttft_ms,
                metrics.tokens_per_second,
                metrics.trace_id
            ],
        )?;
        store::touch(&tx, &self.conversation.id, now)?;
        tx.commit()?;
        self.pending.clear();
        self.lease = None;
        Ok(())
    }
}

impl Drop for StreamWriter {
    fn drop(&mut self) {
        if self.lease.is_none() {
            return;
        }
        if let Err(e) = self.finalize(&Outcome::Interrupted(Metrics::default())) {
            tracing::warn!(message = %self.message_id, error = %e,
                "could not save an abandoned answer; it is recovered at next open");
        }
    }
}

/// Marks `streaming` rows whose writer is gone as `interrupted`; returns how many.
pub fn recover_streaming(conn: &Connection) -> Result<u64> {
    let dir = conn.path().and_then(|p| {
        std::path::Path::new(p)
            .parent()
            .map(std::path::Path::to_path_buf)
    });
    let rows: Vec<(String, Option<String>)> = conn
        .prepare("SELECT id, writer_lease FROM messages WHERE status = 'streaming'")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut marked = 0;
    for (id, lease_id) in rows {
        let dead = match (&dir, lease_id) {
            (Some(dir), Some(lease_id)) => lease::is_dead(dir, &lease_id),
            _ => true,
        };
        if dead {
            marked += conn.execute(
                "UPDATE messages SET status = 'interrupted', writer_lease = NULL \
                 WHERE id = ?1 AND status = 'streaming'",
                [&id],
            )? as u64;
        }
    }
    if marked > 0 {
        tracing::info!(
            count = marked,
            "answers left streaming by a crash marked interrupted"
        );
    }
    Ok(marked)
}
