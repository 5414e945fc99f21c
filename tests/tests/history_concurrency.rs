//! The async exchange API, and concurrent writers: another process (the writer bin) and two
//! connections in this process write at once without `SQLITE_BUSY` failures, corruption or loss.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod history_common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use behest_desktop::core::history::{
    History, HistoryOptions, HistoryPaths, Metrics, Outcome, Status,
};
use history_common::{metrics, open, params};

/// Polls `check` until it holds (the writer thread works on its own clock), failing after 10 s.
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn with_options(dir: &std::path::Path, interval_ms: u64, bytes: usize) -> History {
    let options = HistoryOptions {
        flush_interval: Duration::from_millis(interval_ms),
        flush_bytes: bytes,
        ..HistoryOptions::default()
    };
    History::open(HistoryPaths::in_dir(dir), options).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_stream_is_still_flushed_on_the_interval() {
    let dir = tempfile::tempdir().unwrap();
    let history = with_options(dir.path(), 20, 1 << 20);
    let exchange = history
        .begin_exchange(None, "hello".into(), params())
        .await
        .unwrap();
    // The user's message is saved before the request would be sent.
    let saved = history.message(exchange.user_message_id()).unwrap();
    assert_eq!(
        (saved.content.as_str(), saved.status),
        ("hello", Status::Complete)
    );
    exchange.append("first words").unwrap();
    let id = exchange.message_id().to_string();
    let reader = history.clone();
    tokio::task::spawn_blocking(move || {
        eventually("the stalled text is saved", || {
            reader.message(&id).unwrap().content == "first words"
        })
    })
    .await
    .unwrap();
    exchange.append(", then more").unwrap();
    let done = exchange.finish(Outcome::Complete(metrics())).await.unwrap();
    assert_eq!(done.content, "first words, then more");
    assert_eq!(done.status, Status::Complete);
    assert_eq!(done.metrics, metrics());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_batch_is_flushed_at_once_and_a_dropped_exchange_is_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let history = with_options(dir.path(), 3_600_000, 16);
    let exchange = history
        .begin_exchange(None, "q".into(), params())
        .await
        .unwrap();
    exchange.append("0123456789").unwrap();
    exchange.append("abcdefghij").unwrap(); // 20 bytes ≥ 16: written without waiting an hour
    let id = exchange.message_id().to_string();
    let reader = history.clone();
    let id2 = id.clone();
    tokio::task::spawn_blocking(move || {
        eventually("the batch is saved", || {
            reader.message(&id2).unwrap().content.len() == 20
        })
    })
    .await
    .unwrap();
    exchange.append("tail").unwrap();
    drop(exchange);
    let reader = history.clone();
    tokio::task::spawn_blocking(move || {
        eventually("the dropped exchange is interrupted", || {
            reader.message(&id).unwrap().status == Status::Interrupted
        });
        assert_eq!(
            reader.message(&id).unwrap().content,
            "0123456789abcdefghijtail"
        );
    })
    .await
    .unwrap();
}

#[test]
fn another_process_and_two_connections_write_at_once_without_loss() {
    const EXCHANGES: usize = 30;
    const CHUNKS: usize = 200;
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path())); // create the file first so every writer opens the same schema
    let child = Command::new(env!("CARGO_BIN_EXE_history_writer"))
        .arg("finite")
        .arg(dir.path())
        .arg(EXCHANGES.to_string())
        .arg(CHUNKS.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let threads: Vec<_> = (0..2)
        .map(|t| {
            let path = dir.path().to_path_buf();
            std::thread::spawn(move || {
                let history = with_options(&path, 1, 64);
                for e in 0..EXCHANGES {
                    let mut w = history
                        .begin_exchange_blocking(
                            None,
                            &format!("thread {t} question {e}"),
                            &params(),
                        )
                        .unwrap();
                    for n in 0..CHUNKS {
                        w.append(&format!("t{t}-{e}-{n} ")).unwrap();
                    }
                    w.finish(Outcome::Complete(Metrics::default())).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "done");

    let history = open(dir.path());
    assert!(history.open_report().recovery.is_none());
    assert_eq!(history.open_report().interrupted, 0);
    let list = history.list_conversations().unwrap();
    assert_eq!(list.len(), 3 * EXCHANGES);
    assert_eq!(history.message_count().unwrap(), 6 * EXCHANGES as u64);
    for summary in list {
        let c = history.get_conversation(&summary.id).unwrap();
        let question = &c.messages[0].content;
        let answer = &c.messages[1];
        assert_eq!(answer.status, Status::Complete);
        let words: Vec<&str> = question.split_whitespace().collect();
        let expected: String = match words.as_slice() {
            ["thread", t, "question", e] => (0..CHUNKS).map(|n| format!("t{t}-{e}-{n} ")).collect(),
            ["child", "question", e] => (0..CHUNKS).map(|n| format!("child-{e}-{n} ")).collect(),
            other => panic!("unexpected question {other:?}"),
        };
        assert_eq!(answer.content, expected);
    }
}
