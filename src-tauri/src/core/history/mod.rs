//! Conversations in SQLite, owned by the Rust side so no update, crash or bad write loses them.
//!
//! [`History`] is the handle: cheap to clone, one SQLite connection behind a mutex. Every
//! method is blocking; async code goes through [`History::call`], which runs the closure on
//! `tokio::task::spawn_blocking` so the async workers never wait on SQLite.
//!
//! Invariants:
//! - Who locks what: the in-process [`std::sync::Mutex`] around the connection is held for one
//!   method call (one statement or one transaction), never across an await or a network call.
//!   Across processes (the app and a headless command), SQLite's WAL locking plus a
//!   `busy_timeout` serialise writers; multi-statement writes use `BEGIN IMMEDIATE` so a writer
//!   waits for the lock up front instead of failing with `SQLITE_BUSY` half-way.
//! - The file is in WAL mode with foreign keys on and `synchronous=NORMAL`; its schema is at
//!   [`schema::LATEST`] once [`History::open`] returns, migrated in one transaction after a
//!   backup (see [`migrations`]).
//! - Opening never silently starts empty: a corrupt file is moved aside and the newest good
//!   backup restored, and [`OpenReport::recovery`] says so (see [`recovery`]).
//! - Answers are saved as they stream ([`writer`], [`exchange`]); a `streaming` row found at
//!   open whose writer's [`lease`] is dead (the process crashed or was killed) is marked
//!   `interrupted` with its partial text kept; a live writer's row (the app streaming while a
//!   headless command opens the file) is left alone. Streaming text is indexed for search once
//!   the answer ends.
//! - Message text is never logged; log lines name ids and counts only.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::Connection;

use crate::core::{Error, Result};

pub mod backup;
pub mod exchange;
pub mod export;
pub mod export_file;
pub mod import;
pub mod lease;
pub mod migrations;
pub mod record;
pub mod recovery;
pub mod schema;
pub mod search;
pub mod store;
pub mod writer;

pub use backup::{BackupInfo, BackupKind};
pub use exchange::Exchange;
pub use export::{ExportFormat, HISTORY_FORMAT, HISTORY_FORMAT_VERSION};
pub use export_file::{ExportDocument, SavedExport};
pub use import::ImportReport;
pub use migrations::Migrated;
pub use record::{
    ChatParams, Conversation, ConversationSummary, ConversationWithMessages, DialoguePage, Message,
    Metrics, Role, Status,
};
pub use recovery::RecoveryReport;
pub use search::{SearchHit, SnippetPart};
pub use writer::{Outcome, StreamWriter};

/// The environment variable that overrides the data directory.
pub const DATA_DIR_ENV: &str = "BEHEST_DATA_DIR";

/// The app's folder name inside the OS data directory.
pub const APP_DIR_NAME: &str = "ai.behest.desktop";

/// Where the history lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryPaths {
    /// The data directory.
    pub dir: PathBuf,
    /// The database file, `<dir>/history.sqlite3`.
    pub db: PathBuf,
    /// The backups folder, `<dir>/backups`.
    pub backups: PathBuf,
}

impl HistoryPaths {
    /// The layout inside `dir`.
    pub fn in_dir(dir: impl Into<PathBuf>) -> Self {
        let dir = dir.into();
        HistoryPaths {
            db: dir.join("history.sqlite3"),
            backups: dir.join("backups"),
            dir,
        }
    }

    /// `$BEHEST_DATA_DIR`, else `<OS data dir>/ai.behest.desktop`.
    pub fn from_env() -> Result<Self> {
        match std::env::var_os(DATA_DIR_ENV) {
            Some(dir) if !dir.is_empty() => Ok(Self::in_dir(dir)),
            _ => dirs::data_dir()
                .map(|d| Self::in_dir(d.join(APP_DIR_NAME)))
                .ok_or_else(|| {
                    Error::settings(DATA_DIR_ENV, "this system has no data directory; set it")
                }),
        }
    }
}

/// Tunables; [`HistoryOptions::default`] is what the app uses.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryOptions {
    /// A streaming answer is flushed at least this often while text arrives.
    pub flush_interval: Duration,
    /// ... or as soon as this many bytes are waiting.
    pub flush_bytes: usize,
    /// How many backups of each kind are kept.
    pub keep_backups: usize,
    /// Whether open takes the daily backup when the last is a day old.
    pub daily_backup: bool,
    /// How long a write waits for another process's lock before failing.
    pub busy_timeout: Duration,
}

impl Default for HistoryOptions {
    fn default() -> Self {
        HistoryOptions {
            flush_interval: Duration::from_millis(250),
            flush_bytes: 4096,
            keep_backups: 7,
            daily_backup: true,
            busy_timeout: Duration::from_secs(10),
        }
    }
}

/// What happened while opening: the UI shows `recovery` when it is set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OpenReport {
    /// Set when the schema was migrated.
    pub migrated: Option<Migrated>,
    /// Set when the file was corrupt and a backup was restored.
    pub recovery: Option<RecoveryReport>,
    /// Answers left `streaming` by a crashed writer, now marked interrupted.
    pub interrupted: u64,
    /// The daily backup taken at this open, if one was due.
    pub daily_backup: Option<BackupInfo>,
}

struct Inner {
    conn: Mutex<Connection>,
    paths: HistoryPaths,
    options: HistoryOptions,
    report: OpenReport,
}

/// The history store. Clone it freely; all clones share one connection.
#[derive(Clone)]
pub struct History {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for History {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("History")
            .field("db", &self.inner.paths.db)
            .finish_non_exhaustive()
    }
}

impl History {
    /// Opens (creating, migrating or recovering as needed) the history at `paths`.
    pub fn open(paths: HistoryPaths, options: HistoryOptions) -> Result<History> {
        std::fs::create_dir_all(&paths.dir)?;
        std::fs::create_dir_all(&paths.backups)?;
        let now = now_ms();
        let (mut conn, recovery) = match recovery::open_checked(&paths.db, &options) {
            Ok(conn) => (conn, None),
            Err(recovery::OpenFailure::Corrupt(detail)) => {
                tracing::warn!(db = %paths.db.display(), %detail, "history file is corrupt");
                let report = recovery::recover(&paths, now)?;
                let conn = recovery::open_checked(&paths.db, &options)
                    .map_err(recovery::OpenFailure::into_error)?;
                (conn, Some(report))
            }
            Err(other) => return Err(other.into_error()),
        };
        let keep = options.keep_backups;
        let migrated = migrations::migrate(&mut conn, |c, from| {
            backup::take(c, &paths.backups, BackupKind::PreMigration { from }, now)?;
            backup::prune(&paths.backups, keep)
        })?;
        let interrupted = writer::recover_streaming(&conn)?;
        let daily_backup = if options.daily_backup && backup::daily_due(&paths.backups, now)? {
            let info = backup::take(&conn, &paths.backups, BackupKind::Daily, now)?;
            backup::prune(&paths.backups, keep)?;
            Some(info)
        } else {
            None
        };
        let report = OpenReport {
            migrated: (migrated.from != migrated.to).then_some(migrated),
            recovery,
            interrupted,
            daily_backup,
        };
        Ok(History {
            inner: Arc::new(Inner {
                conn: Mutex::new(conn),
                paths,
                options,
                report,
            }),
        })
    }

    /// Opens the history at [`HistoryPaths::from_env`] with default options.
    pub fn open_default() -> Result<History> {
        History::open(HistoryPaths::from_env()?, HistoryOptions::default())
    }

    /// [`History::open`] on a blocking thread.
    pub async fn open_async(paths: HistoryPaths, options: HistoryOptions) -> Result<History> {
        tokio::task::spawn_blocking(move || History::open(paths, options))
            .await
            .map_err(join_error)?
    }

    /// Runs blocking history work from async code, on `spawn_blocking`.
    pub async fn call<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&History) -> Result<T> + Send + 'static,
    {
        let history = self.clone();
        tokio::task::spawn_blocking(move || f(&history))
            .await
            .map_err(join_error)?
    }

    /// What happened at open (migration, recovery, crashed streams, daily backup).
    pub fn open_report(&self) -> &OpenReport {
        &self.inner.report
    }

    /// Where the files are.
    pub fn paths(&self) -> &HistoryPaths {
        &self.inner.paths
    }

    /// The options it was opened with.
    pub fn options(&self) -> &HistoryOptions {
        &self.inner.options
    }

    /// Locks the connection for one call. A panic in an earlier holder rolled its transaction
    /// back when the transaction dropped, so a poisoned lock still guards a usable connection.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Connection> {
        self.inner
            .conn
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Lets SQLite free this connection's page cache (up to its 2 MB default; it fills again
    /// from the file, which the OS still caches, on the next queries). The app calls it when it
    /// goes quiet, before giving the allocator's free memory back (`core::memory`).
    pub fn release_memory(&self) {
        if let Err(error) = self.lock().release_memory() {
            tracing::debug!(%error, "SQLite kept its page cache");
        }
    }

    /// The database file.
    pub fn db_path(&self) -> &Path {
        &self.inner.paths.db
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Storage(format!("history database: {e}"))
    }
}

fn join_error(e: tokio::task::JoinError) -> Error {
    Error::Storage(format!("history task did not finish: {e}"))
}

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    let nanos = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
    i64::try_from(nanos / 1_000_000).unwrap_or(i64::MAX)
}

/// Formats Unix milliseconds as RFC 3339 UTC (`2026-11-29T14:47:27.123Z`).
pub fn format_ms(ms: i64) -> String {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| ms.to_string())
}

/// Parses RFC 3339 into Unix milliseconds.
pub fn parse_ms(text: &str) -> Option<i64> {
    use time::format_description::well_known::Rfc3339;
    let t = time::OffsetDateTime::parse(text, &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}
