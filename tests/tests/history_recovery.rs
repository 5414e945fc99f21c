//! Corrupt files are moved aside and the newest good backup restored, with a report; backups
//! are taken daily, kept to the last 7, and restorable.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod history_common;

use std::path::Path;

use behest_desktop::core::history::{
    backup, BackupKind, History, HistoryOptions, HistoryPaths, RecoveryReport,
};
use behest_desktop::core::Error;
use history_common::{completed, open, seed};

fn corrupt_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| {
            n.starts_with("history.sqlite3.corrupt-")
                && !n.ends_with("-wal")
                && !n.ends_with("-shm")
        })
        .collect()
}

/// Rewrites the history file of `dir` through `damage`; returns the damaged bytes.
fn damage(dir: &Path, damage: impl FnOnce(&mut [u8])) -> Vec<u8> {
    let db = dir.join("history.sqlite3");
    let mut bytes = std::fs::read(&db).unwrap();
    damage(&mut bytes);
    std::fs::write(&db, &bytes).unwrap();
    bytes
}

/// Opens the history of `dir`, which must report a recovery (`why` names the cause).
fn open_recovered(dir: &Path, why: &str) -> (History, RecoveryReport) {
    let history = open(dir);
    let report = history.open_report().recovery.clone().expect(why);
    (history, report)
}

#[test]
fn a_garbage_header_is_recovered_from_the_newest_backup_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let history = open(dir.path());
    seed(&history); // 8 messages
    let kept = history.backup_now().unwrap();
    // Written after the backup: these two are what the report says could not be recovered.
    completed(&history, "after the backup", "lost answer");
    drop(history);

    let bytes = damage(dir.path(), |b| b[..100].copy_from_slice(&[0xAB; 100]));

    let (history, report) = open_recovered(dir.path(), "recovery must be reported");
    assert_eq!(
        report.restored_from.as_ref().map(|b| &b.path),
        Some(&kept.path)
    );
    assert_eq!(report.messages_restored, 8);
    assert!(report.corrupt_file.is_file());
    assert_eq!(
        std::fs::read(&report.corrupt_file).unwrap(),
        bytes,
        "the damaged file must be kept as it was"
    );
    assert!(report.summary().contains("restored from backup of"));
    assert_eq!(corrupt_files(dir.path()).len(), 1);
    assert_eq!(history.message_count().unwrap(), 8);
    assert_eq!(history.list_conversations().unwrap().len(), 3);
    assert_eq!(history.search("fresnel", 5).unwrap().len(), 1);
}

#[test]
fn damaged_pages_are_detected_by_the_integrity_check_and_recovered() {
    let dir = tempfile::tempdir().unwrap();
    let history = open(dir.path());
    seed(&history);
    history.backup_now().unwrap();
    for i in 0..40 {
        completed(
            &history,
            &format!("question {i} {}", "x".repeat(2000)),
            "answer",
        );
    }
    drop(history);

    // Scribble over the last pages (message data), keeping the header and schema page intact.
    damage(dir.path(), |bytes| {
        let len = bytes.len();
        bytes[len - 3 * 4096..len - 4096].fill(0x5A);
    });

    let (history, report) = open_recovered(dir.path(), "quick_check must catch the damage");
    assert_eq!(report.messages_restored, 8);
    assert_eq!(history.message_count().unwrap(), 8);
    // Counting what was lost is best effort: here the damaged pages hold those very rows.
    assert!(report.messages_lost.is_none_or(|lost| lost <= 80));
    assert!(report.summary().contains("could not be recovered"));
}

#[test]
fn with_no_good_backup_history_starts_empty_but_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let paths = HistoryPaths::in_dir(dir.path());
    std::fs::write(
        &paths.db,
        b"this is not a database, it is a text file that got here somehow",
    )
    .unwrap();
    // A damaged backup is skipped, not restored.
    std::fs::create_dir_all(&paths.backups).unwrap();
    std::fs::write(
        paths
            .backups
            .join("history-daily-20261128T090000000Z.sqlite3"),
        b"junk",
    )
    .unwrap();
    let history = History::open(paths, HistoryOptions::default()).unwrap();
    let report = history.open_report().recovery.clone().unwrap();
    assert!(report.restored_from.is_none());
    assert!(report.summary().contains("no usable backup"));
    assert!(report.corrupt_file.is_file());
    assert_eq!(history.message_count().unwrap(), 0);
}

#[test]
fn daily_backups_are_taken_when_due_and_kept_to_seven() {
    let dir = tempfile::tempdir().unwrap();
    let paths = HistoryPaths::in_dir(dir.path());
    let first = open(dir.path());
    let daily = first
        .open_report()
        .daily_backup
        .clone()
        .expect("first open takes a daily backup");
    seed(&first);
    drop(first);
    // A second open on the same day takes none.
    assert!(open(dir.path()).open_report().daily_backup.is_none());

    // Pretend nine older daily backups exist (the newest two days old): the next open is due,
    // and keeps only the seven newest.
    std::fs::remove_file(&daily.path).unwrap();
    let day = 24 * 60 * 60 * 1000;
    let now = behest_desktop::core::history::now_ms();
    for d in 2..11 {
        let name = format!("history-daily-{}.sqlite3", backup::stamp(now - d * day));
        std::fs::copy(dir.path().join("history.sqlite3"), paths.backups.join(name)).unwrap();
    }
    let history = open(dir.path());
    let taken = history
        .open_report()
        .daily_backup
        .clone()
        .expect("a backup was due");
    let list = history.backups().unwrap();
    let dailies: Vec<_> = list
        .iter()
        .filter(|b| b.kind == BackupKind::Daily)
        .collect();
    assert_eq!(dailies.len(), 7);
    assert_eq!(dailies[0].path, taken.path);
    assert!(dailies.windows(2).all(|w| w[0].taken_at > w[1].taken_at));
    assert!(now - dailies[6].taken_at < 8 * day);
}

#[test]
fn restore_brings_a_backup_back_and_can_be_undone() {
    let dir = tempfile::tempdir().unwrap();
    let history = open(dir.path());
    seed(&history);
    let snapshot = history.backup_now().unwrap();
    let extra = completed(&history, "later", "later answer");
    assert_eq!(history.message_count().unwrap(), 10);

    let before = history.restore(&snapshot.path).unwrap();
    assert_eq!(before.kind, BackupKind::BeforeRestore);
    assert_eq!(history.message_count().unwrap(), 8);
    assert!(matches!(
        history.message(&extra.id),
        Err(Error::InvalidInput { .. })
    ));
    // Another connection sees the restored content too.
    assert_eq!(open(dir.path()).message_count().unwrap(), 8);

    history.restore(&before.path).unwrap();
    assert_eq!(history.message_count().unwrap(), 10);
    assert_eq!(history.message(&extra.id).unwrap().content, "later answer");

    let junk = dir.path().join("junk.sqlite3");
    std::fs::write(&junk, b"junk").unwrap();
    assert!(matches!(
        history.restore(&junk),
        Err(Error::InvalidInput { .. })
    ));
    assert_eq!(history.message_count().unwrap(), 10);
}
