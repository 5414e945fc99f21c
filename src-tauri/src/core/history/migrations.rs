//! Brings a history file to [`schema::LATEST`] at open.
//!
//! Invariants: the pending scripts run in one `BEGIN IMMEDIATE` transaction together with the
//! `user_version` bump, so a crash mid-migration leaves the file at its old version; before a
//! file holding data is migrated, the caller's backup hook takes a consistent copy; a file from a
//! newer build is refused, never downgraded or touched.

use rusqlite::{Connection, TransactionBehavior};

use super::schema;
use crate::core::{Error, Result};

/// What [`migrate`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migrated {
    /// The version the file was at.
    pub from: u32,
    /// The version it is at now ([`schema::LATEST`]).
    pub to: u32,
}

/// Reads `PRAGMA user_version`.
pub fn user_version(conn: &Connection) -> Result<u32> {
    Ok(conn.query_row("PRAGMA user_version", [], |row| row.get::<_, u32>(0))?)
}

/// Runs the pending migrations; `backup(from)` is called first when the file is at a released
/// version below the latest (a brand-new empty file has nothing to back up).
pub fn migrate(
    conn: &mut Connection,
    backup: impl FnOnce(&Connection, u32) -> Result<()>,
) -> Result<Migrated> {
    migrate_with(conn, schema::MIGRATIONS, backup)
}

/// [`migrate`] over an explicit script list (index `i` takes version `i` to `i + 1`).
fn migrate_with(
    conn: &mut Connection,
    scripts: &[&str],
    backup: impl FnOnce(&Connection, u32) -> Result<()>,
) -> Result<Migrated> {
    let latest = scripts.len() as u32;
    let from = user_version(conn)?;
    if from > latest {
        return Err(Error::Storage(format!(
            "history database is schema version {from}, newer than this build's {}; \
             update Behest Desktop to open it",
            latest
        )));
    }
    if from == latest {
        return Ok(Migrated { from, to: from });
    }
    if from > 0 {
        backup(conn, from)?;
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Another process may have migrated between the read above and taking the write lock.
    let current = user_version(&tx)?;
    for script in scripts.iter().skip(current as usize) {
        tx.execute_batch(script)?;
    }
    tx.pragma_update(None, "user_version", latest)?;
    tx.commit()?;
    Ok(Migrated { from, to: latest })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn fresh_file_goes_to_latest_without_backup() {
        let mut conn = Connection::open_in_memory().unwrap();
        let mut called = false;
        let m = migrate(&mut conn, |_, _| {
            called = true;
            Ok(())
        })
        .unwrap();
        assert_eq!(
            m,
            Migrated {
                from: 0,
                to: schema::LATEST
            }
        );
        assert!(!called);
        assert_eq!(user_version(&conn).unwrap(), schema::LATEST);
        // Running again is a no-op.
        let again = migrate(&mut conn, |_, _| Ok(())).unwrap();
        assert_eq!(again.from, schema::LATEST);
    }

    #[test]
    fn an_older_file_is_backed_up_then_migrated_in_one_transaction() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, |_, _| Ok(())).unwrap();
        let v2 = "ALTER TABLE conversations ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;";
        let mut backed_up = None;
        let m = migrate_with(&mut conn, &[schema::V1, v2], |_, from| {
            backed_up = Some(from);
            Ok(())
        })
        .unwrap();
        assert_eq!((m.from, m.to, backed_up), (1, 2, Some(1)));
        conn.execute("UPDATE conversations SET pinned = 1", [])
            .unwrap();

        // A failing script leaves the file at its old version, unchanged.
        let broken = ["", "", "CREATE TABLE extra (x); THIS IS NOT SQL;"];
        let err = migrate_with(&mut conn, &broken, |_, _| Ok(())).unwrap_err();
        assert!(matches!(err, Error::Storage(_)));
        assert_eq!(user_version(&conn).unwrap(), 2);
        let extra: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'extra'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(extra, 0);
        // A failing backup stops the migration before anything changes.
        let refused = migrate_with(&mut conn, &["", "", "CREATE TABLE extra (x);"], |_, _| {
            Err(Error::Storage("disk full".into()))
        });
        assert!(refused.is_err());
        assert_eq!(user_version(&conn).unwrap(), 2);
    }

    #[test]
    fn newer_file_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", schema::LATEST + 1)
            .unwrap();
        let err = migrate(&mut conn, |_, _| Ok(())).unwrap_err();
        assert!(matches!(err, Error::Storage(_)));
        assert_eq!(user_version(&conn).unwrap(), schema::LATEST + 1);
    }
}
