//! Writer leases: how a process opening the history tells a live stream from a crashed one.
//!
//! Each streaming answer is written under a lease: a small lock file
//! `<data dir>/leases/<uuid>.lock` that the writer holds an exclusive SQLite lock on for as long
//! as it streams. The operating system drops the lock when the process dies, however it dies
//! (SIGKILL included), on every platform SQLite runs on. The message row records the lease id.
//!
//! Invariants: the lease is locked before the row naming it is inserted, so a row whose lease
//! can be locked by someone else belongs to a dead writer; only the recoverer that finds a lease
//! dead deletes its file; a live writer's row is never marked interrupted.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode};

use crate::core::Result;

/// A held lease; dropping it releases the lock and deletes the file.
pub struct Lease {
    id: String,
    path: PathBuf,
    conn: Option<Connection>,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease").field("id", &self.id).finish()
    }
}

fn lease_path(dir: &Path, id: &str) -> PathBuf {
    dir.join("leases").join(format!("{id}.lock"))
}

impl Lease {
    /// Takes a new lease under `dir` (the data directory).
    pub fn take(dir: &Path) -> Result<Lease> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let path = lease_path(dir, &id);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let conn = Connection::open(&path)?;
        conn.execute_batch("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE;")?;
        Ok(Lease {
            id,
            path,
            conn: Some(conn),
        })
    }

    /// The id stored in the message row.
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        // Close the connection (releasing the lock) before deleting the file.
        drop(self.conn.take());
        if let Err(e) = std::fs::remove_file(&self.path) {
            tracing::debug!(lease = %self.id, error = %e, "could not delete a released lease");
        }
    }
}

/// Whether the writer holding lease `id` is gone (its file is missing or lockable). A dead
/// lease's file is deleted.
pub fn is_dead(dir: &Path, id: &str) -> bool {
    let path = lease_path(dir, id);
    if !path.exists() {
        return true;
    }
    let probe = match Connection::open(&path) {
        Ok(conn) => conn,
        Err(_) => return false,
    };
    if probe.busy_timeout(Duration::ZERO).is_err() {
        return false;
    }
    match probe.execute_batch("BEGIN EXCLUSIVE; COMMIT;") {
        Ok(()) => {
            drop(probe);
            if let Err(e) = std::fs::remove_file(&path) {
                tracing::debug!(lease = %id, error = %e, "could not delete a dead lease");
            }
            true
        }
        Err(e) if e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy) => false,
        Err(e) => {
            tracing::debug!(lease = %id, error = %e, "lease probe failed; treating as live");
            false
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lease_is_live_and_a_released_one_dead() {
        let dir = tempfile::tempdir().unwrap();
        let lease = Lease::take(dir.path()).unwrap();
        let id = lease.id().to_string();
        assert!(!is_dead(dir.path(), &id));
        drop(lease);
        assert!(is_dead(dir.path(), &id));
        assert!(is_dead(dir.path(), "never-existed"));
    }
}
