//! The records history stores: conversations, messages and the summaries the sidebar lists.
//!
//! Plain data with serde derives; these are also the shapes of the JSON export (see
//! [`super::export`]), so a field added here is a format change. Timestamps are Unix
//! milliseconds in memory and in SQLite, RFC 3339 in the export.

use serde::{Deserialize, Serialize};

use crate::core::protocol::chat::Usage;

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A system prompt stored as a message.
    System,
    /// The person chatting.
    User,
    /// The model.
    Assistant,
}

impl Role {
    /// The lowercase name stored in SQLite and shown in exports.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }

    /// Parses the stored name.
    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "system" => Some(Role::System),
            "user" => Some(Role::User),
            "assistant" => Some(Role::Assistant),
            _ => None,
        }
    }
}

/// Where a message is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Fully written.
    Complete,
    /// An answer still arriving (or, after a crash, until the next open marks it interrupted).
    Streaming,
    /// Cut short (stop, network loss, crash); the partial text is kept.
    Interrupted,
    /// Ended by an error; `error_kind`/`error_message` say which, partial text is kept.
    Error,
}

impl Status {
    /// The lowercase name stored in SQLite.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Complete => "complete",
            Status::Streaming => "streaming",
            Status::Interrupted => "interrupted",
            Status::Error => "error",
        }
    }

    /// Parses the stored name.
    pub fn parse(text: &str) -> Option<Status> {
        match text {
            "complete" => Some(Status::Complete),
            "streaming" => Some(Status::Streaming),
            "interrupted" => Some(Status::Interrupted),
            "error" => Some(Status::Error),
            _ => None,
        }
    }
}

/// The per-conversation chat parameters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatParams {
    /// The model to ask; `None` uses the app's default.
    pub model: Option<String>,
    /// The system prompt sent first; `None` sends none.
    pub system_prompt: Option<String>,
    /// Sampling temperature.
    pub temperature: Option<f64>,
    /// Cap on generated tokens.
    pub max_tokens: Option<u32>,
}

/// A conversation's metadata (without its messages).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    /// UUID text.
    pub id: String,
    /// Shown in the sidebar.
    pub title: String,
    /// Model, system prompt, temperature, max tokens.
    #[serde(flatten)]
    pub params: ChatParams,
    /// Whether chats send `X-Thread-Id` so the server keeps the thread too.
    pub server_threads: bool,
    /// The thread id sent as `X-Thread-Id` when `server_threads` is on.
    pub server_thread_id: Option<String>,
    /// Creation time, Unix ms.
    pub created_at: i64,
    /// Last change (message, rename, parameters), Unix ms.
    pub updated_at: i64,
}

impl Conversation {
    /// The `X-Thread-Id` header value to send with this conversation's chats, if any
    /// (behest-protocol §7.2).
    pub fn thread_header(&self) -> Option<&str> {
        if self.server_threads {
            self.server_thread_id.as_deref()
        } else {
            None
        }
    }
}

/// How an answer ended and how fast it came.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Token counts reported by the server.
    pub usage: Option<Usage>,
    /// Time to first token, ms.
    pub ttft_ms: Option<u64>,
    /// Completion tokens per second of streaming.
    pub tokens_per_second: Option<f64>,
    /// The gateway's trace id, for support.
    pub trace_id: Option<String>,
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// UUID text.
    pub id: String,
    /// The conversation it belongs to.
    pub conversation_id: String,
    /// Who wrote it.
    pub role: Role,
    /// The text (partial for streaming, interrupted and error answers).
    pub content: String,
    /// The model that wrote it (assistant messages).
    pub model: Option<String>,
    /// Creation time, Unix ms.
    pub created_at: i64,
    /// Complete, streaming, interrupted or error.
    pub status: Status,
    /// Machine-readable error kind when `status` is `error`.
    pub error_kind: Option<String>,
    /// Human-readable error when `status` is `error`.
    pub error_message: Option<String>,
    /// Usage, time to first token, speed, trace id.
    #[serde(flatten)]
    pub metrics: Metrics,
}

/// A conversation as the sidebar lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationSummary {
    /// UUID text.
    pub id: String,
    /// Shown in the sidebar.
    pub title: String,
    /// The conversation's model.
    pub model: Option<String>,
    /// Creation time, Unix ms.
    pub created_at: i64,
    /// Last change, Unix ms (the list is sorted by it, newest first).
    pub updated_at: i64,
    /// How many messages it holds.
    pub message_count: u64,
    /// The start of its last message, at most [`ConversationSummary::PREVIEW_CHARS`] characters.
    pub preview: String,
}

impl ConversationSummary {
    /// Longest preview, in characters.
    pub const PREVIEW_CHARS: usize = 120;
}

/// A stretch of a conversation's dialogue: its user and assistant messages (a system message
/// is a parameter of the conversation, not part of the dialogue), oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct DialoguePage {
    /// The conversation's metadata.
    pub conversation: Conversation,
    /// The messages, oldest first.
    pub messages: Vec<Message>,
    /// How many messages of the dialogue come before the first of `messages`.
    pub earlier: u64,
}

/// A conversation with all its messages, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationWithMessages {
    /// The metadata.
    #[serde(flatten)]
    pub conversation: Conversation,
    /// The messages in the order they were written.
    pub messages: Vec<Message>,
}
