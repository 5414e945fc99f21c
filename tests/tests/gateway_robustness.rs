//! Bad input never crashes the gateway: malformed JSON, a 10 MB body, a missing body, deep
//! nesting, garbage on the socket, a slow client; a client that disconnects stops generation and
//! is billed only for what it got; 1,000 concurrent streams are held at once (bounded, loopback).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod gateway_support;

use std::time::Duration;

use behest_desktop::core::gateway::responder::{chunks, demo_text};
use behest_desktop::core::gateway::{DemoResponder, Fault, Route, TierLimits};
use behest_desktop::core::protocol::chat::ChatMessage;
use futures_util::StreamExt as _;
use gateway_support::*;
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

#[tokio::test]
async fn malformed_bodies_get_validation_errors() {
    let gw = start(|_| {}).await;
    let t = token(&gw, "alice", None).await;
    let url = format!("{}/v1/chat/completions", gw.base_url());
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let bodies: Vec<String> = vec![
        String::new(),
        "{".into(),
        "null".into(),
        "[]".into(),
        r#"{"messages":[]}"#.into(),
        r#"{"messages":"hi"}"#.into(),
        r#"{"messages":[{"role":"user"}]}"#.into(),
        r#"{"messages":[{"role":"user","content":"x"}],"stream":"yes"}"#.into(),
        deep,
        "\u{0}\u{1}binary".into(),
    ];
    for body in bodies {
        let r = client()
            .post(&url)
            .bearer_auth(&t)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            400,
            "body {:?}",
            body.chars().take(40).collect::<String>()
        );
        assert!(r.headers().contains_key("x-trace-id"));
        assert_eq!(
            code(&r.json::<Value>().await.unwrap()),
            Some("validation_error")
        );
    }
    // Malformed path and query parameters get the envelope too.
    for path in [
        "/v1/threads/%FF",
        "/v1/threads/%FF/messages",
        "/v1/usage?from=a&from=b",
        "/v1/billing/usage?granularity=a&granularity=b",
    ] {
        let r = client()
            .get(format!("{}{path}", gw.base_url()))
            .bearer_auth(&t)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{path}");
        assert_eq!(
            code(&r.json::<Value>().await.unwrap()),
            Some("validation_error"),
            "{path}"
        );
    }
    still_serves(&gw, &t).await;
    gw.shutdown().await;
}

#[tokio::test]
async fn a_ten_megabyte_body_is_refused_with_an_envelope() {
    let gw = start(|_| {}).await;
    let t = token(&gw, "alice", None).await;
    let big = format!(
        r#"{{"messages":[{{"role":"user","content":"{}"}}]}}"#,
        "x".repeat(10 * 1024 * 1024)
    );
    let r = client()
        .post(format!("{}/v1/chat/completions", gw.base_url()))
        .bearer_auth(&t)
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(
        code(&r.json::<Value>().await.unwrap()),
        Some("payload_too_large")
    );
    let key = gw.credentials().api_key;
    let r = client()
        .post(format!("{}/v1/auth/mint", gw.base_url()))
        .bearer_auth(key.expose())
        .body(vec![b'x'; 10 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    still_serves(&gw, &t).await;
    gw.shutdown().await;
}

#[tokio::test]
async fn garbage_and_slow_clients_do_not_block_others() {
    let gw = start(|_| {}).await;
    let t = token(&gw, "alice", None).await;
    let mut garbage = tokio::net::TcpStream::connect(gw.addr()).await.unwrap();
    garbage
        .write_all(b"\x16\x03\x01GARBAGE / NOTHTTP\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), garbage.read_to_end(&mut answer)).await;
    assert!(
        read.is_ok(),
        "the gateway answers or closes garbage promptly"
    );
    // A client that sends half a request and waits.
    let mut slow = tokio::net::TcpStream::connect(gw.addr()).await.unwrap();
    slow.write_all(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{",
    )
    .await
    .unwrap();
    // A client that never reads its stream.
    let unread = chat(&gw, &t, &chat_body("never read", true)).await;
    for _ in 0..5 {
        assert_eq!(
            chat(&gw, &t, &chat_body("others are served", false))
                .await
                .status(),
            200
        );
    }
    drop((slow, unread));
    gw.shutdown().await;
}

#[tokio::test]
async fn a_client_disconnect_stops_generation_and_bills_only_what_was_sent() {
    let gw =
        start(|c| c.responder = std::sync::Arc::new(DemoResponder::new(Duration::from_millis(5))))
            .await;
    let t = token(&gw, "alice", None).await;
    let full = chunks(&demo_text(&[ChatMessage::new("user", "leave early")])).len() as u64;
    let r = chat(&gw, &t, &chat_body("leave early", true)).await;
    let mut body = r.bytes_stream();
    let mut seen = String::new();
    while sse_payloads(&seen).len() < 4 {
        seen.push_str(&String::from_utf8_lossy(
            &body.next().await.unwrap().unwrap(),
        ));
    }
    drop(body);
    let usage_url = format!("{}/v1/billing/usage", gw.base_url());
    let mut billed = None;
    for _ in 0..500 {
        let u = json_of(client().get(&usage_url).bearer_auth(&t)).await;
        if u["platform"]["requests"] == 1 {
            billed = u["platform"]["output_tokens"].as_u64();
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let billed = billed.expect("the interrupted chat was recorded");
    assert!(
        billed >= 2 && billed < full / 2,
        "billed {billed} of {full}"
    );
    gw.shutdown().await;
}

/// Descriptors the 1,000-stream test needs in this one process: a client and a server socket per
/// stream, plus headroom for the runtime, other tests of this binary and the gateway's listener.
const FDS_NEEDED: u64 = 2 * 1_000 + 512;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_streams_are_held() {
    const STREAMS: usize = 1_000;
    raise_fd_limit(FDS_NEEDED);
    let gw = start(|c| {
        let lots = TierLimits {
            rpm: 1_000_000,
            requests_per_day: 1_000_000,
            tokens_per_day: u64::MAX,
        };
        c.projects[0].tier_limits.insert("free".into(), lots);
    })
    .await;
    gw.faults()
        .push_n(Route::Chat, Fault::stream().stall_after(1), STREAMS)
        .unwrap();
    let t = token(&gw, "alice", None).await;
    let c = client();
    let url = format!("{}/v1/chat/completions", gw.base_url());
    let tasks: Vec<_> = (0..STREAMS)
        .map(|_| {
            let (c, url, t) = (c.clone(), url.clone(), t.clone());
            tokio::spawn(async move {
                let r = c
                    .post(&url)
                    .bearer_auth(&t)
                    .json(&chat_body("hold", true))
                    .send()
                    .await
                    .ok()?;
                if r.status() != 200 {
                    return None;
                }
                let mut body = r.bytes_stream();
                let first = body.next().await?.ok()?;
                String::from_utf8_lossy(&first)
                    .contains("\"role\":\"assistant\"")
                    .then_some(body)
            })
        })
        .collect();
    let mut held = Vec::new();
    for task in tasks {
        if let Some(body) = task.await.unwrap() {
            held.push(body);
        }
    }
    assert_eq!(
        held.len(),
        STREAMS,
        "every stream opened and got its first event"
    );
    // All still open: the server is stalled on each, and still answers a new request.
    still_serves(&gw, &t).await;
    drop(held);
    gw.shutdown().await;
}
