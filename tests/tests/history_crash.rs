//! A writer process killed with SIGKILL mid-stream keeps its partial answer, marked interrupted
//! at the next open; a live writer in another process is never marked interrupted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod history_common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use behest_desktop::core::history::{Role, Status};
use history_common::open;

/// The text the writer bin streams: `chunk-000000 chunk-000001 ...`, `n` chunks.
fn expected(n: usize) -> String {
    (0..n).map(|i| format!("chunk-{i:06} ")).collect()
}

#[test]
fn sigkill_mid_stream_keeps_the_partial_answer_as_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_history_writer"))
        .arg("stream")
        .arg(dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let ids: Vec<String> = first.split_whitespace().map(str::to_string).collect();
    assert_eq!(ids.len(), 2, "writer printed {first:?}");
    let (conversation_id, message_id) = (&ids[0], &ids[1]);

    // A second process opening the history while the writer streams must leave it alone.
    let watcher = open(dir.path());
    assert_eq!(watcher.open_report().interrupted, 0);
    let deadline = Instant::now() + Duration::from_secs(30);
    let seen = loop {
        let m = watcher.message(message_id).unwrap();
        assert_eq!(m.status, Status::Streaming);
        // Several batches flushed (a batch is 4 KB or 250 ms).
        if m.content.len() >= 3 * 4096 {
            break m.content;
        }
        assert!(
            Instant::now() < deadline,
            "the writer flushed only {} bytes",
            m.content.len()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(watcher);

    child.kill().unwrap(); // SIGKILL on Unix: no destructor, no flush, no finish
    let status = child.wait().unwrap();
    assert!(!status.success());

    let history = open(dir.path());
    assert_eq!(history.open_report().interrupted, 1);
    let answer = history.message(message_id).unwrap();
    assert_eq!(answer.status, Status::Interrupted);
    assert!(
        answer.content.starts_with(&seen),
        "text seen before the kill was lost"
    );
    let chunks = answer.content.len() / "chunk-000000 ".len();
    assert_eq!(
        answer.content,
        expected(chunks),
        "the saved text is not a clean prefix"
    );

    let conversation = history.get_conversation(conversation_id).unwrap();
    assert_eq!(conversation.messages.len(), 2);
    assert_eq!(conversation.messages[0].role, Role::User);
    assert_eq!(conversation.messages[0].content, "tell me a long story");
    assert_eq!(conversation.messages[0].status, Status::Complete);
    // The dead writer's lease file was cleaned up.
    let leases: Vec<_> = std::fs::read_dir(dir.path().join("leases"))
        .unwrap()
        .collect();
    assert!(leases.is_empty(), "{leases:?}");
    // Opening again finds nothing more to recover.
    drop(history);
    assert_eq!(open(dir.path()).open_report().interrupted, 0);
}
