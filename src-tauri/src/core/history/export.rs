//! Export of one conversation or all of them, as Markdown (to read) or JSON (to keep and
//! re-import).
//!
//! # The JSON format (`behest-desktop-history`, version 1)
//!
//! ```json
//! { "format": "behest-desktop-history", "version": 1,
//!   "conversations": [ {
//!     "id": "<uuid>", "title": "…", "model": "…"|null, "system_prompt": "…"|null,
//!     "temperature": 0.7|null, "max_tokens": 512|null,
//!     "server_threads": false, "server_thread_id": "thread_…"|null,
//!     "created_at": "2026-11-29T14:47:27.123Z", "updated_at": "…",
//!     "messages": [ {
//!       "id": "<uuid>", "role": "system"|"user"|"assistant", "content": "…",
//!       "model": "…"|null, "created_at": "…",
//!       "status": "complete"|"streaming"|"interrupted"|"error",
//!       "error_kind": …|null, "error_message": …|null,
//!       "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}|null,
//!       "ttft_ms": 120|null, "tokens_per_second": 41.5|null, "trace_id": "…"|null } ] } ] }
//! ```
//!
//! Times are RFC 3339 UTC with milliseconds. Invariants: the output is deterministic
//! (conversations by creation time then id, messages in the order written, no export time), so
//! exporting, importing into an empty history and exporting again gives the same bytes; a reader
//! must ignore fields it does not know, and `version` only changes when a field changes meaning.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::export_file::write_atomically;
use super::record::{Conversation, ConversationWithMessages, Message, Role, Status};
use super::store::{load_messages, CONVERSATION_COLUMNS};
use super::{format_ms, History};
use crate::core::protocol::chat::Usage;
use crate::core::{Error, Result};

/// The `format` field of the JSON export.
pub const HISTORY_FORMAT: &str = "behest-desktop-history";
/// The `version` field this build writes (and the newest it reads).
pub const HISTORY_FORMAT_VERSION: u32 = 1;

/// Markdown or JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// Human-readable Markdown.
    Md,
    /// The documented, re-importable JSON.
    Json,
}

/// The whole JSON file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryFile {
    /// Always [`HISTORY_FORMAT`].
    pub format: String,
    /// [`HISTORY_FORMAT_VERSION`] when written by this build.
    pub version: u32,
    /// The conversations.
    pub conversations: Vec<ConversationEntry>,
}

/// A conversation in the JSON file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationEntry {
    /// UUID text.
    pub id: String,
    /// Title.
    pub title: String,
    /// Model.
    pub model: Option<String>,
    /// System prompt.
    pub system_prompt: Option<String>,
    /// Temperature.
    pub temperature: Option<f64>,
    /// Max tokens.
    pub max_tokens: Option<u32>,
    /// Whether server-side threads are on.
    #[serde(default)]
    pub server_threads: bool,
    /// The `X-Thread-Id` used.
    #[serde(default)]
    pub server_thread_id: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
    /// Messages in the order written.
    pub messages: Vec<MessageEntry>,
}

/// A message in the JSON file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageEntry {
    /// UUID text.
    pub id: String,
    /// Who wrote it.
    pub role: Role,
    /// Text.
    pub content: String,
    /// Model.
    #[serde(default)]
    pub model: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// Status.
    pub status: Status,
    /// Error kind.
    #[serde(default)]
    pub error_kind: Option<String>,
    /// Error message.
    #[serde(default)]
    pub error_message: Option<String>,
    /// Usage.
    #[serde(default)]
    pub usage: Option<Usage>,
    /// Time to first token, ms.
    #[serde(default)]
    pub ttft_ms: Option<u64>,
    /// Tokens per second.
    #[serde(default)]
    pub tokens_per_second: Option<f64>,
    /// Trace id.
    #[serde(default)]
    pub trace_id: Option<String>,
}

impl ConversationEntry {
    fn new(c: &ConversationWithMessages) -> Self {
        let meta = &c.conversation;
        ConversationEntry {
            id: meta.id.clone(),
            title: meta.title.clone(),
            model: meta.params.model.clone(),
            system_prompt: meta.params.system_prompt.clone(),
            temperature: meta.params.temperature,
            max_tokens: meta.params.max_tokens,
            server_threads: meta.server_threads,
            server_thread_id: meta.server_thread_id.clone(),
            created_at: format_ms(meta.created_at),
            updated_at: format_ms(meta.updated_at),
            messages: c.messages.iter().map(MessageEntry::new).collect(),
        }
    }
}

impl MessageEntry {
    fn new(m: &Message) -> Self {
        MessageEntry {
            id: m.id.clone(),
            role: m.role,
            content: m.content.clone(),
            model: m.model.clone(),
            created_at: format_ms(m.created_at),
            status: m.status,
            error_kind: m.error_kind.clone(),
            error_message: m.error_message.clone(),
            usage: m.metrics.usage,
            ttft_ms: m.metrics.ttft_ms,
            tokens_per_second: m.metrics.tokens_per_second,
            trace_id: m.metrics.trace_id.clone(),
        }
    }
}

/// Renders conversations as Markdown.
pub fn to_markdown(conversations: &[ConversationWithMessages]) -> String {
    let mut out = String::new();
    for (i, c) in conversations.iter().enumerate() {
        if i > 0 {
            out.push_str("\n---\n\n");
        }
        let meta = &c.conversation;
        out.push_str(&format!("# {}\n\n", meta.title));
        out.push_str(&format!("- Conversation: `{}`\n", meta.id));
        if let Some(model) = &meta.params.model {
            out.push_str(&format!("- Model: {model}\n"));
        }
        out.push_str(&format!("- Created: {}\n", format_ms(meta.created_at)));
        out.push_str(&format!("- Updated: {}\n", format_ms(meta.updated_at)));
        if let Some(prompt) = &meta.params.system_prompt {
            out.push_str("- System prompt:\n\n");
            for line in prompt.lines() {
                out.push_str(&format!("  > {line}\n"));
            }
        }
        for m in &c.messages {
            let who = match m.role {
                Role::System => "System",
                Role::User => "User",
                Role::Assistant => "Assistant",
            };
            let mut heading = format!("\n## {who} · {}", format_ms(m.created_at));
            if let Some(model) = m.model.as_deref().filter(|_| m.role == Role::Assistant) {
                heading.push_str(&format!(" · {model}"));
            }
            if m.status != Status::Complete {
                heading.push_str(&format!(" · {}", m.status.as_str()));
            }
            out.push_str(&heading);
            out.push_str("\n\n");
            out.push_str(&m.content);
            if !m.content.ends_with('\n') {
                out.push('\n');
            }
            if let Some(message) = &m.error_message {
                out.push_str(&format!("\n> Error: {message}\n"));
            }
        }
    }
    out
}

/// Renders conversations as the JSON file.
pub fn to_json(conversations: &[ConversationWithMessages]) -> Result<String> {
    let file = HistoryFile {
        format: HISTORY_FORMAT.into(),
        version: HISTORY_FORMAT_VERSION,
        conversations: conversations.iter().map(ConversationEntry::new).collect(),
    };
    let mut text = serde_json::to_string_pretty(&file)
        .map_err(|e| Error::Storage(format!("could not encode the export: {e}")))?;
    text.push('\n');
    Ok(text)
}

impl History {
    /// The conversations to export: one, or all (oldest first), each with its messages.
    pub fn export_set(&self, conversation: Option<&str>) -> Result<Vec<ConversationWithMessages>> {
        if let Some(id) = conversation {
            return Ok(vec![self.get_conversation(id)?]);
        }
        let conn = self.lock();
        let metas: Vec<Conversation> = conn
            .prepare(&format!(
                "SELECT {CONVERSATION_COLUMNS} FROM conversations ORDER BY created_at, id"
            ))?
            .query_map([], super::store::conversation_from_row)?
            .collect::<rusqlite::Result<_>>()?;
        metas
            .into_iter()
            .map(|conversation| {
                let messages = load_messages(&conn, &conversation.id)?;
                Ok(ConversationWithMessages {
                    conversation,
                    messages,
                })
            })
            .collect()
    }

    /// Exports one conversation (`Some(id)`) or all of them in `format`.
    pub fn export(&self, conversation: Option<&str>, format: ExportFormat) -> Result<String> {
        let set = self.export_set(conversation)?;
        match format {
            ExportFormat::Md => Ok(to_markdown(&set)),
            ExportFormat::Json => to_json(&set),
        }
    }

    /// Exports to `path`: written to a temporary file beside it, synced, then renamed over it, so
    /// `path` never holds a half-written export.
    pub fn export_to_file(
        &self,
        conversation: Option<&str>,
        format: ExportFormat,
        path: &Path,
    ) -> Result<()> {
        let text = self.export(conversation, format)?;
        write_atomically(path, text.as_bytes())
    }
}
