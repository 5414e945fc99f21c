//! Opening the history file safely, and recovering when it is corrupt.
//!
//! Invariants: a file is only called corrupt when SQLite says so (`SQLITE_NOTADB`,
//! `SQLITE_CORRUPT`, or a failing `PRAGMA quick_check`); permission or I/O errors are returned
//! as errors and the file is left alone. A corrupt file is never deleted: it (and its `-wal` and
//! `-shm` files) is renamed to `<name>.corrupt-<timestamp>`, then the newest backup that passes
//! its own check is copied in place. With no good backup the history starts empty, and the
//! report says so: the UI always learns what happened.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, ErrorCode, OpenFlags};

use super::backup::{self, BackupInfo};
use super::{format_ms, HistoryOptions, HistoryPaths};
use crate::core::{Error, Result};

/// What recovery did, for the UI to show.
#[derive(Debug, Clone, PartialEq)]
pub struct RecoveryReport {
    /// Where the corrupt file was moved.
    pub corrupt_file: PathBuf,
    /// The backup restored, or `None` when there was no good one (history starts empty).
    pub restored_from: Option<BackupInfo>,
    /// Messages in the restored backup.
    pub messages_restored: u64,
    /// Messages in the corrupt file newer than the backup, when they could still be counted.
    pub messages_lost: Option<u64>,
}

impl RecoveryReport {
    /// One sentence for the user, e.g. "restored from backup of 2026-11-28T09:00:00Z; 3 messages
    /// since then could not be recovered".
    pub fn summary(&self) -> String {
        match &self.restored_from {
            Some(b) => {
                let lost = match self.messages_lost {
                    Some(n) => format!("{n} messages"),
                    None => "messages written".to_string(),
                };
                format!(
                    "the history file was damaged and was moved to {}; restored from backup of \
                     {} ({} messages); {lost} since then could not be recovered",
                    self.corrupt_file.display(),
                    format_ms(b.taken_at),
                    self.messages_restored
                )
            }
            None => format!(
                "the history file was damaged and was moved to {}; no usable backup was found, \
                 so history starts empty",
                self.corrupt_file.display()
            ),
        }
    }
}

/// Why [`open_checked`] failed.
#[derive(Debug)]
pub enum OpenFailure {
    /// SQLite reports the file as damaged or not a database.
    Corrupt(String),
    /// Anything else (permissions, disk, a locked file): not grounds to move the file.
    Other(Error),
}

impl OpenFailure {
    /// The failure as a core error.
    pub fn into_error(self) -> Error {
        match self {
            OpenFailure::Corrupt(detail) => {
                Error::Storage(format!("history database is damaged: {detail}"))
            }
            OpenFailure::Other(e) => e,
        }
    }
}

impl From<rusqlite::Error> for OpenFailure {
    fn from(e: rusqlite::Error) -> Self {
        if is_corruption(&e) {
            OpenFailure::Corrupt(e.to_string())
        } else {
            OpenFailure::Other(e.into())
        }
    }
}

/// Whether SQLite says the file is damaged.
pub fn is_corruption(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)
    )
}

/// Opens `db` read-write with the history settings and checks its integrity.
pub fn open_checked(db: &Path, options: &HistoryOptions) -> Result<Connection, OpenFailure> {
    let conn = Connection::open(db)?;
    conn.busy_timeout(options.busy_timeout)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(OpenFailure::Other(Error::Storage(format!(
            "history database refused WAL mode (got {mode})"
        ))));
    }
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    quick_check(&conn)?;
    Ok(conn)
}

/// Runs `PRAGMA quick_check`, mapping a failed check to [`OpenFailure::Corrupt`].
fn quick_check(conn: &Connection) -> Result<(), OpenFailure> {
    let verdict: String = conn.query_row("PRAGMA quick_check(1)", [], |r| r.get(0))?;
    if verdict == "ok" {
        Ok(())
    } else {
        Err(OpenFailure::Corrupt(verdict))
    }
}

/// Checks a file read-only and counts its messages; `None` when it is unusable.
pub fn verify(path: &Path) -> Option<u64> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .ok()?;
    quick_check(&conn).ok()?;
    conn.query_row("SELECT count(*) FROM messages", [], |r| r.get::<_, u64>(0))
        .ok()
}

/// Moves the corrupt file aside and restores the newest good backup in its place.
pub fn recover(paths: &HistoryPaths, now: i64) -> Result<RecoveryReport> {
    let stamp = backup::stamp(now);
    let corrupt_file = sibling(&paths.db, &format!(".corrupt-{stamp}"));
    std::fs::rename(&paths.db, &corrupt_file)?;
    for suffix in ["-wal", "-shm"] {
        let side = sibling(&paths.db, suffix);
        if side.exists() {
            std::fs::rename(&side, sibling(&corrupt_file, suffix))?;
        }
    }
    for candidate in backup::list(&paths.backups)? {
        let Some(messages_restored) = verify(&candidate.path) else {
            tracing::warn!(backup = %candidate.path.display(), "skipping unusable backup");
            continue;
        };
        let partial = sibling(&paths.db, ".restoring");
        std::fs::copy(&candidate.path, &partial)?;
        std::fs::rename(&partial, &paths.db)?;
        let messages_lost = count_newer(&corrupt_file, candidate.taken_at);
        tracing::warn!(backup = %candidate.path.display(), "history restored from backup");
        return Ok(RecoveryReport {
            corrupt_file,
            restored_from: Some(candidate),
            messages_restored,
            messages_lost,
        });
    }
    tracing::warn!("no usable history backup; starting empty");
    Ok(RecoveryReport {
        corrupt_file,
        restored_from: None,
        messages_restored: 0,
        messages_lost: None,
    })
}

/// Best effort: messages in the damaged file written after `since`.
fn count_newer(corrupt: &Path, since: i64) -> Option<u64> {
    let conn = Connection::open_with_flags(corrupt, OpenFlags::SQLITE_OPEN_READ_ONLY).ok()?;
    conn.query_row(
        "SELECT count(*) FROM messages WHERE created_at > ?1",
        [since],
        |r| r.get::<_, u64>(0),
    )
    .ok()
}

/// `path` with `suffix` appended to its file name.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}
