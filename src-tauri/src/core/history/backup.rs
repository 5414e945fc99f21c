//! Consistent backups of the history file (SQLite online backup API), their listing, pruning
//! and restore.
//!
//! Invariants: a backup is written to `<name>.partial` and renamed when complete, so a listed
//! backup is always whole; its name carries its kind and UTC time
//! (`history-daily-20261129T144727123Z.sqlite3`, `history-pre-v1-…`, `history-before-restore-…`),
//! and listing trusts the name, not the file's mtime. At most `keep` backups of each kind are
//! kept. Restoring first backs up the current file, so a restore can itself be undone.

use std::path::{Path, PathBuf};

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, MAIN_DB};

use super::History;
use crate::core::{Error, Result};

/// Why a backup was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum BackupKind {
    /// The once-a-day backup.
    Daily,
    /// Taken just before migrating from schema version `from`.
    PreMigration {
        /// The schema version of the file backed up.
        from: u32,
    },
    /// Taken just before a restore replaced the file.
    BeforeRestore,
}

impl BackupKind {
    fn prefix(self) -> String {
        match self {
            BackupKind::Daily => "history-daily-".into(),
            BackupKind::PreMigration { from } => format!("history-pre-v{from}-"),
            BackupKind::BeforeRestore => "history-before-restore-".into(),
        }
    }

    fn parse(name: &str) -> Option<(BackupKind, &str)> {
        let rest = name.strip_prefix("history-")?.strip_suffix(".sqlite3")?;
        if let Some(stamp) = rest.strip_prefix("daily-") {
            return Some((BackupKind::Daily, stamp));
        }
        if let Some(stamp) = rest.strip_prefix("before-restore-") {
            return Some((BackupKind::BeforeRestore, stamp));
        }
        let (version, stamp) = rest.strip_prefix("pre-v")?.split_once('-')?;
        Some((
            BackupKind::PreMigration {
                from: version.parse().ok()?,
            },
            stamp,
        ))
    }
}

/// One backup file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BackupInfo {
    /// The file.
    pub path: PathBuf,
    /// Why it was taken.
    pub kind: BackupKind,
    /// When, Unix ms (from its name).
    pub taken_at: i64,
}

/// A file-name-safe UTC stamp with milliseconds: `20261129T144727123Z`.
pub fn stamp(ms: i64) -> String {
    let format = time::macros::format_description!(
        "[year][month][day]T[hour][minute][second][subsecond digits:3]Z"
    );
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| ms.to_string())
}

fn parse_stamp(text: &str) -> Option<i64> {
    let format = time::macros::format_description!(
        "[year][month][day]T[hour][minute][second][subsecond digits:3]Z"
    );
    let t = time::PrimitiveDateTime::parse(text, &format)
        .ok()?
        .assume_utc();
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// Takes a consistent copy of `conn`'s main database into `dir`.
pub fn take(conn: &Connection, dir: &Path, kind: BackupKind, now: i64) -> Result<BackupInfo> {
    std::fs::create_dir_all(dir)?;
    let mut at = now;
    let mut path = dir.join(format!("{}{}.sqlite3", kind.prefix(), stamp(at)));
    while path.exists() {
        at += 1;
        path = dir.join(format!("{}{}.sqlite3", kind.prefix(), stamp(at)));
    }
    let partial = path.with_extension("sqlite3.partial");
    copy_into(conn, &partial)?;
    std::fs::rename(&partial, &path)?;
    tracing::info!(backup = %path.display(), "history backup taken");
    Ok(BackupInfo {
        path,
        kind,
        taken_at: at,
    })
}

/// Copies `conn`'s main database into a new file at `dest` (rollback-journal mode, so the copy is
/// one self-contained file).
fn copy_into(conn: &Connection, dest: &Path) -> Result<()> {
    if dest.exists() {
        std::fs::remove_file(dest)?;
    }
    let mut out = Connection::open(dest)?;
    {
        let backup = Backup::new_with_names(conn, MAIN_DB, &mut out, MAIN_DB)?;
        // Copy everything in one step; on a busy or locked source, wait briefly and retry.
        while backup.step(-1)? != StepResult::Done {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
    let _mode: String = out.query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))?;
    Ok(())
}

/// Every backup in `dir`, newest first.
pub fn list(dir: &Path) -> Result<Vec<BackupInfo>> {
    let mut found = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(e.into()),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some((kind, stamp)) = name.to_str().and_then(BackupKind::parse) else {
            continue;
        };
        if let Some(taken_at) = parse_stamp(stamp) {
            found.push(BackupInfo {
                path: entry.path(),
                kind,
                taken_at,
            });
        }
    }
    found.sort_by_key(|b| std::cmp::Reverse(b.taken_at));
    Ok(found)
}

/// Deletes all but the newest `keep` backups of each kind (pre-migration backups of all versions
/// count as one kind).
pub fn prune(dir: &Path, keep: usize) -> Result<()> {
    let all = list(dir)?;
    for group in [0u8, 1, 2] {
        let of_kind = all.iter().filter(|b| {
            group
                == match b.kind {
                    BackupKind::Daily => 0,
                    BackupKind::PreMigration { .. } => 1,
                    BackupKind::BeforeRestore => 2,
                }
        });
        for old in of_kind.skip(keep) {
            std::fs::remove_file(&old.path)?;
        }
    }
    Ok(())
}

/// Whether the newest daily backup is a day old or missing.
pub fn daily_due(dir: &Path, now: i64) -> Result<bool> {
    const DAY_MS: i64 = 24 * 60 * 60 * 1000;
    let newest = list(dir)?.into_iter().find(|b| b.kind == BackupKind::Daily);
    Ok(newest.is_none_or(|b| now - b.taken_at >= DAY_MS))
}

impl History {
    /// Every backup of this history, newest first.
    pub fn backups(&self) -> Result<Vec<BackupInfo>> {
        list(&self.paths().backups)
    }

    /// Takes a backup now (kind `Daily`, so it counts toward the kept daily backups).
    pub fn backup_now(&self) -> Result<BackupInfo> {
        let info = take(
            &self.lock(),
            &self.paths().backups,
            BackupKind::Daily,
            super::now_ms(),
        )?;
        prune(&self.paths().backups, self.options().keep_backups)?;
        Ok(info)
    }

    /// Takes a daily backup now if the last one is a day old; for apps that run for days.
    pub fn backup_if_due(&self) -> Result<Option<BackupInfo>> {
        let now = super::now_ms();
        if !daily_due(&self.paths().backups, now)? {
            return Ok(None);
        }
        let info = take(&self.lock(), &self.paths().backups, BackupKind::Daily, now)?;
        prune(&self.paths().backups, self.options().keep_backups)?;
        Ok(Some(info))
    }

    /// Replaces the live history with the backup at `path` (after backing up the current file),
    /// then migrates it and marks crashed streams. Other connections see the restored content.
    pub fn restore(&self, path: &Path) -> Result<BackupInfo> {
        if super::recovery::verify(path).is_none() {
            return Err(Error::InvalidInput {
                what: "backup".into(),
                reason: format!("{} is not a usable history backup", path.display()),
            });
        }
        let now = super::now_ms();
        let mut conn = self.lock();
        let before = take(&conn, &self.paths().backups, BackupKind::BeforeRestore, now)?;
        conn.restore(MAIN_DB, path, None::<fn(rusqlite::backup::Progress)>)?;
        super::migrations::migrate(&mut conn, |c, from| {
            take(
                c,
                &self.paths().backups,
                BackupKind::PreMigration { from },
                now,
            )
            .map(|_| ())
        })?;
        super::writer::recover_streaming(&conn)?;
        drop(conn);
        prune(&self.paths().backups, self.options().keep_backups)?;
        Ok(before)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let ms = 1_795_000_000_123;
        for kind in [
            BackupKind::Daily,
            BackupKind::PreMigration { from: 3 },
            BackupKind::BeforeRestore,
        ] {
            let name = format!("{}{}.sqlite3", kind.prefix(), stamp(ms));
            let (parsed, s) = BackupKind::parse(&name).unwrap();
            assert_eq!(parsed, kind);
            assert_eq!(parse_stamp(s), Some(ms));
        }
        assert!(BackupKind::parse("history.sqlite3").is_none());
        assert!(BackupKind::parse("history-daily-x.sqlite3.partial").is_none());
    }
}
