//! Conversations and messages: create, read, rename, set parameters, delete.
//!
//! Invariants: every change to a conversation or its messages bumps its `updated_at`; messages
//! are returned in the order they were written (`seq`); deleting a conversation deletes its
//! messages (foreign key cascade) and their search entries (trigger). An unknown id is
//! [`Error::InvalidInput`], not a storage error.

use rusqlite::types::Type;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::record::{
    ChatParams, Conversation, ConversationSummary, ConversationWithMessages, DialoguePage, Message,
    Metrics, Role, Status,
};
use super::{now_ms, History};
use crate::core::protocol::chat::Usage;
use crate::core::{Error, Result};

/// The columns [`conversation_from_row`] reads, in order.
pub(crate) const CONVERSATION_COLUMNS: &str = "id, title, model, system_prompt, temperature, \
     max_tokens, server_threads, server_thread_id, created_at, updated_at";

/// The columns [`message_from_row`] reads, in order.
pub(crate) const MESSAGE_COLUMNS: &str = "id, conversation_id, role, content, model, created_at, \
     status, error_kind, error_message, prompt_tokens, completion_tokens, total_tokens, ttft_ms, \
     tokens_per_second, trace_id";

/// The longest title derived from a first message, in characters.
pub const TITLE_CHARS: usize = 60;

pub(crate) fn conversation_from_row(row: &Row<'_>) -> rusqlite::Result<Conversation> {
    Ok(Conversation {
        id: row.get(0)?,
        title: row.get(1)?,
        params: ChatParams {
            model: row.get(2)?,
            system_prompt: row.get(3)?,
            temperature: row.get(4)?,
            max_tokens: row.get(5)?,
        },
        server_threads: row.get(6)?,
        server_thread_id: row.get(7)?,
        created_at: row.get(8)?,
        updated_at: row.get(9)?,
    })
}

fn bad_value(index: usize, what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(index, Type::Text, format!("unknown {what}").into())
}

pub(crate) fn message_from_row(row: &Row<'_>) -> rusqlite::Result<Message> {
    let role: String = row.get(2)?;
    let status: String = row.get(6)?;
    let prompt: Option<u64> = row.get(9)?;
    let completion: Option<u64> = row.get(10)?;
    let total: Option<u64> = row.get(11)?;
    let usage = match (prompt, completion, total) {
        (None, None, None) => None,
        (p, c, t) => Some(Usage {
            prompt_tokens: p.unwrap_or(0),
            completion_tokens: c.unwrap_or(0),
            total_tokens: t.unwrap_or(0),
        }),
    };
    Ok(Message {
        id: row.get(0)?,
        conversation_id: row.get(1)?,
        role: Role::parse(&role).ok_or_else(|| bad_value(2, "role"))?,
        content: row.get(3)?,
        model: row.get(4)?,
        created_at: row.get(5)?,
        status: Status::parse(&status).ok_or_else(|| bad_value(6, "status"))?,
        error_kind: row.get(7)?,
        error_message: row.get(8)?,
        metrics: Metrics {
            usage,
            ttft_ms: row.get(12)?,
            tokens_per_second: row.get(13)?,
            trace_id: row.get(14)?,
        },
    })
}

/// [`Error::InvalidInput`] for an id that names no conversation.
pub fn unknown_conversation(id: &str) -> Error {
    Error::InvalidInput {
        what: "conversation id".into(),
        reason: format!("no conversation {id}"),
    }
}

/// A title from the first line of a message, cut to [`TITLE_CHARS`].
pub fn title_from(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let mut title: String = line.chars().take(TITLE_CHARS).collect();
    if line.chars().count() > TITLE_CHARS {
        title.push('…');
    }
    if title.is_empty() {
        "New conversation".into()
    } else {
        title
    }
}

/// Inserts a conversation row (used by create and import).
pub(crate) fn insert_conversation(conn: &Connection, c: &Conversation) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO conversations (id, title, model, system_prompt, temperature, \
         max_tokens, server_threads, server_thread_id, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        c.id,
        c.title,
        c.params.model,
        c.params.system_prompt,
        c.params.temperature,
        c.params.max_tokens,
        c.server_threads,
        c.server_thread_id,
        c.created_at,
        c.updated_at
    ])
}

/// Inserts a message row unless its id exists (used by the writer and import).
pub(crate) fn insert_message(conn: &Connection, m: &Message) -> rusqlite::Result<usize> {
    let usage = m.metrics.usage;
    conn.prepare_cached(
        "INSERT OR IGNORE INTO messages (id, conversation_id, role, content, model, created_at, \
         status, error_kind, error_message, prompt_tokens, completion_tokens, total_tokens, \
         ttft_ms, tokens_per_second, trace_id) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    )?
    .execute(params![
        m.id,
        m.conversation_id,
        m.role.as_str(),
        m.content,
        m.model,
        m.created_at,
        m.status.as_str(),
        m.error_kind,
        m.error_message,
        usage.map(|u| u.prompt_tokens),
        usage.map(|u| u.completion_tokens),
        usage.map(|u| u.total_tokens),
        m.metrics.ttft_ms,
        m.metrics.tokens_per_second,
        m.metrics.trace_id
    ])
}

/// Reads a conversation's metadata.
pub(crate) fn load_conversation(conn: &Connection, id: &str) -> Result<Conversation> {
    conn.prepare_cached(&format!(
        "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = ?1"
    ))?
    .query_row([id], conversation_from_row)
    .optional()?
    .ok_or_else(|| unknown_conversation(id))
}

/// Reads a conversation's messages, oldest first.
pub(crate) fn load_messages(conn: &Connection, id: &str) -> Result<Vec<Message>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ?1 ORDER BY seq"
    ))?;
    let rows = stmt.query_map([id], message_from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Sets `updated_at` of a conversation to `at`, or just past every other conversation's when
/// the clock has not moved on (same millisecond, or stepped back), so the conversation touched
/// last is always listed first; errors when it does not exist.
pub(crate) fn touch(conn: &Connection, id: &str, at: i64) -> Result<()> {
    let n = conn
        .prepare_cached(
            "UPDATE conversations SET updated_at = max(updated_at, ?2, \
             coalesce((SELECT max(updated_at) FROM conversations WHERE id <> ?1), 0) + 1) \
             WHERE id = ?1",
        )?
        .execute(params![id, at])?;
    if n == 0 {
        return Err(unknown_conversation(id));
    }
    Ok(())
}

/// The `updated_at` for a new conversation: `now`, or just past the newest one.
fn creation_stamp(conn: &Connection, now: i64) -> Result<i64> {
    let newest: Option<i64> = conn
        .prepare_cached("SELECT max(updated_at) FROM conversations")?
        .query_row([], |r| r.get(0))?;
    Ok(newest.map_or(now, |n| now.max(n + 1)))
}

impl History {
    /// Creates an empty conversation.
    pub fn create_conversation(&self, title: &str, params: ChatParams) -> Result<Conversation> {
        let now = now_ms();
        let conn = self.lock();
        let conversation = Conversation {
            id: uuid::Uuid::new_v4().to_string(),
            title: title.trim().to_string(),
            params,
            server_threads: false,
            server_thread_id: None,
            created_at: now,
            updated_at: creation_stamp(&conn, now)?,
        };
        insert_conversation(&conn, &conversation)?;
        Ok(conversation)
    }

    /// Every conversation, most recently updated first, with a preview of its last message.
    pub fn list_conversations(&self) -> Result<Vec<ConversationSummary>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT c.id, c.title, c.model, c.created_at, c.updated_at, \
               (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id), \
               coalesce((SELECT substr(m.content, 1, ?1) FROM messages m \
                         WHERE m.conversation_id = c.id ORDER BY m.seq DESC LIMIT 1), '') \
             FROM conversations c ORDER BY c.updated_at DESC, c.id",
        )?;
        let rows = stmt.query_map([ConversationSummary::PREVIEW_CHARS as i64], |row| {
            Ok(ConversationSummary {
                id: row.get(0)?,
                title: row.get(1)?,
                model: row.get(2)?,
                created_at: row.get(3)?,
                updated_at: row.get(4)?,
                message_count: row.get(5)?,
                preview: row.get(6)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// A conversation's metadata.
    pub fn conversation(&self, id: &str) -> Result<Conversation> {
        load_conversation(&self.lock(), id)
    }

    /// A conversation with all its messages.
    pub fn get_conversation(&self, id: &str) -> Result<ConversationWithMessages> {
        let conn = self.lock();
        let conversation = load_conversation(&conn, id)?;
        let messages = load_messages(&conn, id)?;
        Ok(ConversationWithMessages {
            conversation,
            messages,
        })
    }

    /// The latest `limit` (all when `None`) user and assistant messages of a conversation that
    /// come before the message `before` (before none: the latest of all), oldest first, and
    /// how many come before those. What the app shows a page at a time, and what a chat
    /// request carries (`before` the message a regenerate replaces). `before` must be a
    /// message of this conversation.
    pub fn dialogue(
        &self,
        conversation_id: &str,
        before: Option<&str>,
        limit: Option<u32>,
    ) -> Result<DialoguePage> {
        let conn = self.lock();
        let conversation = load_conversation(&conn, conversation_id)?;
        let bound = match before {
            None => i64::MAX,
            Some(id) => conn
                .prepare_cached("SELECT seq FROM messages WHERE id = ?1 AND conversation_id = ?2")?
                .query_row([id, conversation_id], |row| row.get::<_, i64>(0))
                .optional()?
                .ok_or_else(|| Error::InvalidInput {
                    what: "before".into(),
                    reason: format!("no message {id} in conversation {conversation_id}"),
                })?,
        };
        // Newest first so LIMIT keeps the latest; -1 is SQLite's "no limit".
        let mut messages = conn
            .prepare_cached(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ?1 AND seq < ?2 \
                 AND role <> 'system' ORDER BY seq DESC LIMIT ?3"
            ))?
            .query_map(
                params![conversation_id, bound, limit.map_or(-1, i64::from)],
                message_from_row,
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        messages.reverse();
        // Only a full page can have messages before it: counting them costs a pass over the
        // conversation, which the chat path (no limit) and short conversations skip.
        let full = limit.is_some_and(|limit| messages.len() as u64 == u64::from(limit));
        let earlier = if full {
            let total: u64 = conn
                .prepare_cached(
                    "SELECT count(*) FROM messages WHERE conversation_id = ?1 AND seq < ?2 \
                     AND role <> 'system'",
                )?
                .query_row(params![conversation_id, bound], |row| row.get(0))?;
            total.saturating_sub(messages.len() as u64)
        } else {
            0
        };
        Ok(DialoguePage {
            conversation,
            earlier,
            messages,
        })
    }

    /// One message.
    pub fn message(&self, id: &str) -> Result<Message> {
        self.lock()
            .prepare_cached(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?1"
            ))?
            .query_row([id], message_from_row)
            .optional()?
            .ok_or_else(|| Error::InvalidInput {
                what: "message id".into(),
                reason: format!("no message {id}"),
            })
    }

    /// Renames a conversation.
    pub fn rename_conversation(&self, id: &str, title: &str) -> Result<Conversation> {
        let conn = self.lock();
        conn.execute(
            "UPDATE conversations SET title = ?2 WHERE id = ?1",
            params![id, title.trim()],
        )?;
        touch(&conn, id, now_ms())?;
        load_conversation(&conn, id)
    }

    /// Sets a conversation's model, system prompt, temperature and max tokens.
    pub fn set_params(&self, id: &str, params: &ChatParams) -> Result<Conversation> {
        let conn = self.lock();
        conn.execute(
            "UPDATE conversations SET model = ?2, system_prompt = ?3, temperature = ?4, \
             max_tokens = ?5 WHERE id = ?1",
            params![
                id,
                params.model,
                params.system_prompt,
                params.temperature,
                params.max_tokens
            ],
        )?;
        touch(&conn, id, now_ms())?;
        load_conversation(&conn, id)
    }

    /// Turns server-side threads on or off; turning them on the first time picks the thread id
    /// sent as `X-Thread-Id` (kept when turned off and on again, so the server thread continues).
    pub fn set_server_threads(&self, id: &str, enabled: bool) -> Result<Conversation> {
        let conn = self.lock();
        let thread_id = format!("thread_{}", uuid::Uuid::new_v4().simple());
        conn.execute(
            "UPDATE conversations SET server_threads = ?2, \
             server_thread_id = coalesce(server_thread_id, ?3) WHERE id = ?1",
            params![id, enabled, thread_id],
        )?;
        touch(&conn, id, now_ms())?;
        load_conversation(&conn, id)
    }

    /// Deletes a conversation and its messages.
    pub fn delete_conversation(&self, id: &str) -> Result<()> {
        let n = self
            .lock()
            .execute("DELETE FROM conversations WHERE id = ?1", [id])?;
        if n == 0 {
            return Err(unknown_conversation(id));
        }
        Ok(())
    }

    /// Copies the write-ahead log into the main file and truncates it (SQLite does this on its
    /// own as the log grows; call it after a bulk import or before copying the file by hand).
    pub fn checkpoint(&self) -> Result<()> {
        let conn = self.lock();
        let _busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
        Ok(())
    }

    /// How many messages the history holds.
    pub fn message_count(&self) -> Result<u64> {
        Ok(self
            .lock()
            .query_row("SELECT count(*) FROM messages", [], |r| r.get(0))?)
    }
}
