//! The history database schema, one SQL script per version.
//!
//! Invariant: a released script never changes; a new schema version appends a script to
//! [`MIGRATIONS`] (and a fixture `tests/fixtures/history/v<N>.sqlite3` of the version before
//! it). `PRAGMA user_version` holds the version a file is at.

/// Version 1: conversations, messages, the FTS5 index over message text and its triggers.
pub const V1: &str = r#"
CREATE TABLE conversations (
    id               TEXT PRIMARY KEY NOT NULL,
    title            TEXT NOT NULL,
    model            TEXT,
    system_prompt    TEXT,
    temperature      REAL,
    max_tokens       INTEGER,
    server_threads   INTEGER NOT NULL DEFAULT 0,
    server_thread_id TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX conversations_by_update ON conversations(updated_at DESC);

CREATE TABLE messages (
    seq               INTEGER PRIMARY KEY,
    id                TEXT NOT NULL UNIQUE,
    conversation_id   TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    role              TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
    content           TEXT NOT NULL,
    model             TEXT,
    created_at        INTEGER NOT NULL,
    status            TEXT NOT NULL
                      CHECK (status IN ('complete', 'streaming', 'interrupted', 'error')),
    error_kind        TEXT,
    error_message     TEXT,
    prompt_tokens     INTEGER,
    completion_tokens INTEGER,
    total_tokens      INTEGER,
    ttft_ms           INTEGER,
    tokens_per_second REAL,
    trace_id          TEXT,
    writer_lease      TEXT
);
CREATE INDEX messages_by_conversation ON messages(conversation_id, seq);
CREATE INDEX messages_streaming ON messages(status) WHERE status = 'streaming';

CREATE VIRTUAL TABLE messages_fts USING fts5(
    content,
    content = 'messages',
    content_rowid = 'seq',
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3 4'
);
-- Text is indexed once it stops streaming: re-indexing a growing answer on every flush would
-- make each flush cost the whole answer.
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages
WHEN new.status <> 'streaming' BEGIN
    INSERT INTO messages_fts(rowid, content) VALUES (new.seq, new.content);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
WHEN old.status <> 'streaming' BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.seq, old.content);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF content, status ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, content)
        SELECT 'delete', old.seq, old.content WHERE old.status <> 'streaming';
    INSERT INTO messages_fts(rowid, content)
        SELECT new.seq, new.content WHERE new.status <> 'streaming';
END;
"#;

/// Every schema script in order: index 0 takes a file from version 0 (empty) to 1.
pub const MIGRATIONS: &[&str] = &[V1];

/// The schema version this build writes.
pub const LATEST: u32 = MIGRATIONS.len() as u32;
