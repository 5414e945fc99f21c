//! Import of the JSON export (see [`super::export`] for the format).
//!
//! Invariants: an import is one transaction (all or nothing); it is idempotent: a conversation
//! or message whose id already exists is left as it is, so importing a file twice adds nothing;
//! the whole file is validated (format, version, ids, roles, times) before anything is written.
//! A message that was `streaming` when exported is imported as `interrupted`: nobody is
//! writing it here.

use rusqlite::TransactionBehavior;

use super::export::{HistoryFile, HISTORY_FORMAT, HISTORY_FORMAT_VERSION};
use super::record::{ChatParams, Conversation, Message, Metrics, Status};
use super::store::{insert_conversation, insert_message};
use super::{parse_ms, History};
use crate::core::{Error, Result};

/// What an import added.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ImportReport {
    /// Conversations created.
    pub conversations_added: u64,
    /// Messages added (to new or existing conversations).
    pub messages_added: u64,
    /// Messages skipped because their id already existed.
    pub messages_skipped: u64,
}

fn invalid(reason: impl Into<String>) -> Error {
    Error::InvalidInput {
        what: "import file".into(),
        reason: reason.into(),
    }
}

fn time_of(text: &str, what: &str) -> Result<i64> {
    parse_ms(text).ok_or_else(|| invalid(format!("{what} is not an RFC 3339 time: {text:?}")))
}

fn check_id(id: &str, what: &str) -> Result<()> {
    if id.is_empty() || id.len() > 200 {
        return Err(invalid(format!("{what} id must be 1 to 200 characters")));
    }
    Ok(())
}

/// Parses and validates an export file into rows.
pub fn parse(text: &str) -> Result<Vec<(Conversation, Vec<Message>)>> {
    let file: HistoryFile =
        serde_json::from_str(text).map_err(|e| invalid(format!("not a history export: {e}")))?;
    if file.format != HISTORY_FORMAT {
        return Err(invalid(format!(
            "format is {:?}, expected {HISTORY_FORMAT:?}",
            file.format
        )));
    }
    if file.version == 0 || file.version > HISTORY_FORMAT_VERSION {
        return Err(invalid(format!(
            "version {} is not supported (this build reads up to {HISTORY_FORMAT_VERSION})",
            file.version
        )));
    }
    let mut out = Vec::with_capacity(file.conversations.len());
    for c in file.conversations {
        check_id(&c.id, "conversation")?;
        let conversation = Conversation {
            id: c.id.clone(),
            title: c.title,
            params: ChatParams {
                model: c.model,
                system_prompt: c.system_prompt,
                temperature: c.temperature,
                max_tokens: c.max_tokens,
            },
            server_threads: c.server_threads,
            server_thread_id: c.server_thread_id,
            created_at: time_of(&c.created_at, "created_at")?,
            updated_at: time_of(&c.updated_at, "updated_at")?,
        };
        let mut messages = Vec::with_capacity(c.messages.len());
        for m in c.messages {
            check_id(&m.id, "message")?;
            messages.push(Message {
                id: m.id,
                conversation_id: c.id.clone(),
                role: m.role,
                content: m.content,
                model: m.model,
                created_at: time_of(&m.created_at, "created_at")?,
                status: match m.status {
                    Status::Streaming => Status::Interrupted,
                    other => other,
                },
                error_kind: m.error_kind,
                error_message: m.error_message,
                metrics: Metrics {
                    usage: m.usage,
                    ttft_ms: m.ttft_ms,
                    tokens_per_second: m.tokens_per_second,
                    trace_id: m.trace_id,
                },
            });
        }
        out.push((conversation, messages));
    }
    Ok(out)
}

impl History {
    /// Imports an export file's text; idempotent.
    pub fn import_json(&self, text: &str) -> Result<ImportReport> {
        let rows = parse(text)?;
        let mut report = ImportReport::default();
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for (conversation, messages) in &rows {
            report.conversations_added += insert_conversation(&tx, conversation)? as u64;
            for m in messages {
                // A message id already used in another conversation is skipped as well.
                let added = insert_message(&tx, m)? as u64;
                report.messages_added += added;
                report.messages_skipped += 1 - added;
            }
        }
        tx.commit()?;
        Ok(report)
    }

    /// Reads and imports an export file.
    pub fn import_file(&self, path: &std::path::Path) -> Result<ImportReport> {
        let text = std::fs::read_to_string(path)?;
        self.import_json(&text)
    }
}
