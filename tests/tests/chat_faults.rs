//! Faults that need byte-level control the gateway does not offer, against a raw-TCP test double
//! (`chat_support::TcpDouble`): the server observing the client's disconnect on cancel (E8),
//! keep-alives outlasting the idle timeout (D6), resets before the headers (D4), a silent server
//! (D6), and hostile sizes (E7).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod chat_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use behest_desktop::core::chat::{ChatClient, ChatConfig, ChatEvent, ChatStatus};
use behest_desktop::core::Error;
use chat_support::*;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

fn tokens() -> Arc<CountingTokens> {
    CountingTokens::fixed("SENTINEL_TOK_chat")
}

/// A client for `double` with the sentinel token and the `idle` timeout.
fn double_client(double: &TcpDouble, idle: Duration) -> ChatClient {
    client(&double.base_url(), tokens(), config(idle))
}

#[tokio::test]
async fn cancel_mid_stream_closes_the_connection_within_a_second() {
    let (seen_tx, seen_rx) = oneshot::channel::<Option<Duration>>();
    let seen_tx = Arc::new(std::sync::Mutex::new(Some(seen_tx)));
    let double = TcpDouble::spawn(move |_, mut stream| {
        let seen_tx = Arc::clone(&seen_tx);
        async move {
            read_request(&mut stream).await;
            write(&mut stream, SSE_HEAD).await;
            write(&mut stream, sse_delta("first words", None).as_bytes()).await;
            // Now hold the stream open and watch for the client going away.
            let start = Instant::now();
            let closed = wait_for_close(&mut stream, Duration::from_secs(5)).await;
            if let Some(tx) = seen_tx.lock().unwrap().take() {
                // The receiver may be gone if the test already failed.
                let _ = tx.send(closed.then(|| start.elapsed()));
            }
        }
    })
    .await;
    let c = double_client(&double, Duration::from_secs(60));
    let cancel = CancellationToken::new();
    let out = c
        .send(&send("hi"), &cancel, cancel_on_first_delta(&cancel))
        .await
        .expect("outcome");
    assert_eq!(out.status, ChatStatus::Cancelled);
    assert_eq!(out.text, "first words");
    let closed_after = seen_rx.await.expect("double reported");
    let closed_after = closed_after.expect("the server never saw the disconnect");
    assert!(closed_after < Duration::from_secs(1), "{closed_after:?}");
}

#[tokio::test]
async fn keep_alives_longer_than_the_idle_timeout_in_total_do_not_kill_the_stream() {
    let double = TcpDouble::spawn(|_, mut stream| async move {
        read_request(&mut stream).await;
        write(&mut stream, SSE_HEAD).await;
        write(&mut stream, sse_delta("a", None).as_bytes()).await;
        // 16 pings 50 ms apart: 800 ms of keep-alives under a 200 ms idle timeout.
        for _ in 0..16 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            write(&mut stream, b": ping\n\n").await;
        }
        write(&mut stream, sse_delta("b", Some("stop")).as_bytes()).await;
        write(&mut stream, b"data: [DONE]\n\n").await;
    })
    .await;
    let c = double_client(&double, Duration::from_millis(200));
    let start = Instant::now();
    let out = chat(&c, "hi").await.expect("outcome");
    assert_eq!(out.status, ChatStatus::Completed);
    assert_eq!(out.text, "ab");
    assert!(start.elapsed() >= Duration::from_millis(800));
}

#[tokio::test]
async fn resets_before_the_headers_are_retried() {
    let double = TcpDouble::spawn(|index, mut stream| async move {
        read_request(&mut stream).await;
        if index < 2 {
            // RST instead of FIN: the client sees "connection reset" before any header.
            stream.set_zero_linger().ok();
            drop(stream);
            return;
        }
        write(&mut stream, SSE_HEAD).await;
        write(
            &mut stream,
            sse_delta("third time", Some("stop")).as_bytes(),
        )
        .await;
        write(&mut stream, b"data: [DONE]\n\n").await;
    })
    .await;
    let c = double_client(&double, Duration::from_secs(5));
    let out = chat(&c, "hi").await.expect("outcome");
    assert_eq!(out.text, "third time");
    assert_eq!(double.accepted(), 3);
}

#[tokio::test]
async fn three_resets_before_the_headers_give_a_network_error() {
    let double = TcpDouble::spawn(|_, mut stream| async move {
        read_request(&mut stream).await;
        stream.set_zero_linger().ok();
    })
    .await;
    let c = double_client(&double, Duration::from_secs(5));
    let failure = chat(&c, "hi").await.expect_err("network");
    assert!(
        matches!(failure.error, Error::Network(_)),
        "{:?}",
        failure.error
    );
    assert!(!failure.error.to_string().contains("SENTINEL_TOK"));
    assert_eq!(double.accepted(), 3);
}

#[tokio::test]
async fn a_silent_server_trips_the_header_timeout() {
    let double = TcpDouble::spawn(|_, mut stream| async move {
        read_request(&mut stream).await;
        tokio::time::sleep(Duration::from_secs(10)).await;
    })
    .await;
    let mut cfg = config(Duration::from_secs(5));
    cfg.header_timeout = Duration::from_millis(200);
    let c = client(&double.base_url(), tokens(), cfg);
    let start = Instant::now();
    let failure = chat(&c, "hi").await.expect_err("timeout");
    assert!(
        matches!(failure.error, Error::Timeout(_)),
        "{:?}",
        failure.error
    );
    assert!(start.elapsed() < Duration::from_secs(2));
    assert_eq!(double.accepted(), 1);
}

#[tokio::test]
async fn a_two_mebibyte_line_without_newline_is_a_typed_error() {
    let double = TcpDouble::spawn(|_, mut stream| async move {
        read_request(&mut stream).await;
        write(&mut stream, SSE_HEAD).await;
        write(&mut stream, b"data: ").await;
        write(&mut stream, &vec![b'a'; 2 << 20]).await;
    })
    .await;
    let c = double_client(&double, Duration::from_secs(5));
    let failure = chat(&c, "hi").await.expect_err("too long");
    assert!(
        matches!(failure.error, Error::Protocol(_)),
        "{:?}",
        failure.error
    );
}

#[tokio::test]
async fn many_tiny_events_are_fine() {
    const N: usize = 100_000;
    let double = TcpDouble::spawn(|_, mut stream| async move {
        read_request(&mut stream).await;
        write(&mut stream, SSE_HEAD).await;
        let one = sse_delta("x", None);
        let mut batch = String::new();
        for i in 0..N {
            batch.push_str(&one);
            if i % 1000 == 999 {
                write(&mut stream, batch.as_bytes()).await;
                batch.clear();
            }
        }
        write(&mut stream, sse_delta("", Some("stop")).as_bytes()).await;
        write(&mut stream, b"data: [DONE]\n\n").await;
    })
    .await;
    let c = double_client(&double, Duration::from_secs(5));
    let mut deltas = 0usize;
    let sink = |e: ChatEvent| {
        if matches!(e, ChatEvent::Delta { .. }) {
            deltas += 1;
        }
        Ok(())
    };
    let out = c
        .send(&send("hi"), &CancellationToken::new(), sink)
        .await
        .expect("outcome");
    assert_eq!(out.status, ChatStatus::Completed);
    assert_eq!(out.text.len(), N);
    assert_eq!(deltas, N);
}

#[tokio::test]
async fn extra_headers_are_sent_and_tenant_headers_refused() {
    let (head_tx, head_rx) = oneshot::channel::<String>();
    let head_tx = Arc::new(std::sync::Mutex::new(Some(head_tx)));
    let double = TcpDouble::spawn(move |_, mut stream| {
        let head_tx = Arc::clone(&head_tx);
        async move {
            let head = read_request(&mut stream).await;
            if let Some(tx) = head_tx.lock().unwrap().take() {
                // The receiver only disappears if the test already failed.
                let _ = tx.send(head);
            }
            write(&mut stream, SSE_HEAD).await;
            write(&mut stream, sse_delta("ok", Some("stop")).as_bytes()).await;
        }
    })
    .await;
    let mut cfg = config(Duration::from_secs(5));
    cfg.extra_headers
        .insert("x-corp-gateway", "blue".parse().unwrap());
    let c = client(&double.base_url(), tokens(), cfg);
    let mut s = send("hi");
    s.session_id = Some("explicit-session".into());
    let out = send_collecting(&c, &s).await.0.expect("outcome");
    assert_eq!(out.status, ChatStatus::Completed);
    let head = head_rx.await.unwrap().to_ascii_lowercase();
    assert!(
        head.starts_with("post /v1/chat/completions http/1.1"),
        "{head}"
    );
    assert!(head.contains("x-corp-gateway: blue"));
    assert!(head.contains("authorization: bearer sentinel_tok_chat"));
    assert!(head.contains("x-session-id: explicit-session"));
    assert!(!head.contains("x-thread-id") && !head.contains("x-tenant-id"));

    for name in ["x-tenant-id", "x-project-id", "authorization"] {
        let mut cfg = ChatConfig::default();
        cfg.extra_headers.insert(name, "x".parse().unwrap());
        let http = behest_desktop::core::http::shared_client().unwrap();
        let refused = ChatClient::new(http, "http://127.0.0.1:1", tokens(), cfg);
        assert!(
            matches!(refused, Err(Error::InvalidSettings { .. })),
            "{name}"
        );
    }
}
