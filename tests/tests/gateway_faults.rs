//! Every fault knob over loopback: scripted statuses (with `Retry-After`, bodies, headers, per
//! route, N times), delays, mint latency, and the SSE breakages (stall, reset, CRLF, split
//! events, split UTF-8, missing `[DONE]`, malformed JSON, mid-stream error, keep-alives), plus
//! the admin route and the off switch.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod gateway_support;

use std::time::{Duration, Instant};

use behest_desktop::core::gateway::{Fault, GatewayHandle, Route};
use bytes::Bytes;
use futures_util::StreamExt as _;
use gateway_support::*;
use serde_json::{json, Value};

/// Streams a chat and returns the chunks as received, and the error the body ended in, if any.
async fn stream_chunks(gw: &GatewayHandle, token: &str) -> (Vec<Bytes>, Option<reqwest::Error>) {
    let r = chat(gw, token, &chat_body("café ☕ please", true)).await;
    assert_eq!(r.status(), 200);
    let mut chunks = Vec::new();
    let mut body = r.bytes_stream();
    while let Some(item) = body.next().await {
        match item {
            Ok(b) => chunks.push(b),
            Err(e) => return (chunks, Some(e)),
        }
    }
    (chunks, None)
}

fn cat(chunks: &[Bytes]) -> Vec<u8> {
    chunks.iter().flat_map(|c| c.iter().copied()).collect()
}

fn joined(chunks: &[Bytes]) -> String {
    String::from_utf8(cat(chunks)).unwrap()
}

#[tokio::test]
async fn scripted_statuses_per_route_with_headers_and_counts() {
    let gw = start(|_| {}).await;
    let t = token(&gw, "alice", None).await;
    let f = gw.faults();
    f.push_n(Route::Chat, Fault::status(503), 2).unwrap();
    f.push(Route::Chat, Fault::status(429).retry_after(7))
        .unwrap();
    f.push(
        Route::Chat,
        Fault::status(402)
            .body(r#"{"error":{"code":"quota_exceeded","message":"m","details":{"tier":"free"}}}"#)
            .header("x-extra", "1"),
    )
    .unwrap();
    for _ in 0..2 {
        let r = chat(&gw, &t, &chat_body("x", false)).await;
        assert_eq!(r.status(), 503);
        assert!(r.headers().contains_key("x-trace-id"));
        assert_eq!(code(&r.json().await.unwrap()), Some("server_error"));
    }
    let r = chat(&gw, &t, &chat_body("x", false)).await;
    assert_eq!(
        (
            r.status().as_u16(),
            r.headers()["retry-after"].to_str().unwrap()
        ),
        (429, "7")
    );
    assert_eq!(code(&r.json().await.unwrap()), Some("rate_limited"));
    let r = chat(&gw, &t, &chat_body("x", false)).await;
    assert_eq!(
        (
            r.status().as_u16(),
            r.headers()["x-extra"].to_str().unwrap()
        ),
        (402, "1")
    );
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["details"]["tier"],
        "free"
    );
    assert_eq!(chat_status(&gw, &t).await, 200, "queue drained");
    // Other routes.
    let c = client();
    let base = gw.base_url();
    let key = gw.credentials().api_key;
    // Each route's fault is queued first; then one request per route meets it.
    let routes = [
        (
            Route::Mint,
            500,
            c.post(format!("{base}/v1/auth/mint"))
                .bearer_auth(key.expose())
                .json(&json!({"user_id": "a"})),
        ),
        (
            Route::Jwks,
            502,
            c.get(format!("{base}/.well-known/jwks.json")),
        ),
        (
            Route::Threads,
            504,
            c.get(format!("{base}/v1/threads")).bearer_auth(&t),
        ),
        (
            Route::Usage,
            404,
            c.get(format!("{base}/v1/usage")).bearer_auth(&t),
        ),
        (
            Route::Models,
            401,
            c.get(format!("{base}/v1/models")).bearer_auth(&t),
        ),
        (Route::Token, 403, c.post(gw.credentials().token_url)),
    ];
    for (route, status, _) in &routes {
        f.push(*route, Fault::status(*status)).unwrap();
    }
    for (route, status, request) in routes {
        assert_eq!(request.send().await.unwrap().status(), status, "{route:?}");
    }
    gw.shutdown().await;
}

#[tokio::test]
async fn delays_and_mint_latency() {
    let gw = start(|_| {}).await;
    let t = token(&gw, "alice", None).await;
    gw.faults()
        .push(
            Route::Chat,
            Fault::stream().delay(Duration::from_millis(150)),
        )
        .unwrap();
    let started = Instant::now();
    assert_eq!(chat_status(&gw, &t).await, 200);
    assert!(started.elapsed() >= Duration::from_millis(150));
    gw.faults()
        .set_mint_latency(Duration::from_millis(120))
        .unwrap();
    let started = Instant::now();
    token(&gw, "alice", None).await;
    assert!(started.elapsed() >= Duration::from_millis(120));
    gw.shutdown().await;
}

#[tokio::test]
async fn stall_holds_the_connection_silent_after_n_events() {
    let gw = start(|_| {}).await;
    let t = token(&gw, "alice", None).await;
    gw.faults()
        .push(Route::Chat, Fault::stream().stall_after(2))
        .unwrap();
    let r = chat(&gw, &t, &chat_body("x", true)).await;
    let mut body = r.bytes_stream();
    let mut got = Vec::new();
    while sse_payloads(&String::from_utf8_lossy(&cat(&got))).len() < 2 {
        got.push(body.next().await.unwrap().unwrap());
    }
    let next = tokio::time::timeout(Duration::from_millis(300), body.next()).await;
    assert!(next.is_err(), "no byte after the stall point");
    gw.shutdown().await;
}

/// The `io::ErrorKind` found along an error's source chain.
fn io_kind(error: &(dyn std::error::Error + 'static)) -> Option<std::io::ErrorKind> {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        next = e.source();
    }
    None
}

#[tokio::test]
async fn reset_breaks_the_connection_mid_stream() {
    let gw = start(|_| {}).await;
    let t = token(&gw, "alice", None).await;
    gw.faults()
        .push_n(Route::Chat, Fault::stream().reset_after(3), 2)
        .unwrap();

    // Through reqwest (what the client core uses): the body ends in ECONNRESET, not a clean end.
    let (chunks, error) = stream_chunks(&gw, &t).await;
    let error = error.expect("the body ended cleanly: a FIN, not a reset");
    assert_eq!(
        io_kind(&error),
        Some(std::io::ErrorKind::ConnectionReset),
        "{error:?}"
    );
    let text = String::from_utf8_lossy(&cat(&chunks)).to_string();
    assert!(sse_payloads(&text).len() <= 3);
    assert!(!text.contains("[DONE]"));

    // On a raw socket: the head and the first events arrive, then read() fails with
    // ECONNRESET (RST), where a normal close would give end of file.
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let payload = chat_body("raw", true).to_string();
    let mut tcp = tokio::net::TcpStream::connect(gw.addr()).await.unwrap();
    let request = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {t}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{payload}",
        payload.len()
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let error = loop {
        match tokio::time::timeout(Duration::from_secs(10), tcp.read(&mut buf))
            .await
            .expect("the gateway resets promptly")
        {
            Ok(0) => panic!("end of file: the connection was closed, not reset"),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => break e,
        }
    };
    assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset);
    let got = String::from_utf8_lossy(&got).to_string();
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
    assert!(
        got.contains("\"role\":\"assistant\""),
        "the first event arrived first"
    );
    assert!(!got.contains("[DONE]"));
    gw.shutdown().await;
}

#[tokio::test]
async fn framing_faults() {
    let gw = start(|_| {}).await;
    let t = token(&gw, "alice", None).await;
    let f = gw.faults();

    f.push(Route::Chat, Fault::stream().crlf()).unwrap();
    let body = joined(&stream_chunks(&gw, &t).await.0);
    assert!(body.starts_with("data: {") && body.ends_with("data: [DONE]\r\n\r\n"));
    assert!(body.matches("\r\n\r\n").count() > 10);
    assert!(
        !body.replace("\r\n\r\n", "").contains('\n'),
        "every line break is CRLF"
    );

    f.push(Route::Chat, Fault::stream().split_events()).unwrap();
    let (chunks, _) = stream_chunks(&gw, &t).await;
    assert!(
        chunks.iter().any(|c| !c.ends_with(b"\n\n")),
        "some event arrived in pieces"
    );
    let body = joined(&chunks);
    assert!(body.ends_with("data: [DONE]\n\n"));
    assert!(sse_payloads(&body)
        .iter()
        .filter(|p| *p != "[DONE]")
        .all(|p| serde_json::from_str::<Value>(p).is_ok()));

    f.push(Route::Chat, Fault::stream().split_utf8()).unwrap();
    let (chunks, _) = stream_chunks(&gw, &t).await;
    assert!(
        chunks.iter().any(|c| std::str::from_utf8(c).is_err()),
        "a character was split"
    );
    assert!(joined(&chunks).contains("café"));

    f.push(Route::Chat, Fault::stream().omit_done()).unwrap();
    let (chunks, error) = stream_chunks(&gw, &t).await;
    let body = joined(&chunks);
    assert!(error.is_none() && !body.contains("[DONE]"));
    assert!(body.contains("\"finish_reason\":\"stop\""));

    f.push(Route::Chat, Fault::stream().keep_alive()).unwrap();
    let body = joined(&stream_chunks(&gw, &t).await.0);
    assert!(body.starts_with(": keep-alive\n\n"));
    assert_eq!(
        body.matches(": keep-alive\n\n").count(),
        sse_payloads(&body).len() - 1
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn malformed_json_and_mid_stream_errors() {
    let gw = start(|_| {}).await;
    let t = token(&gw, "alice", None).await;
    gw.faults()
        .push(Route::Chat, Fault::stream().malformed_after(2))
        .unwrap();
    let p = sse_payloads(&joined(&stream_chunks(&gw, &t).await.0));
    assert_eq!(p.len(), 3);
    assert!(serde_json::from_str::<Value>(&p[1]).is_ok());
    assert!(serde_json::from_str::<Value>(&p[2]).is_err());

    gw.faults()
        .push(Route::Chat, Fault::stream().error_after(2))
        .unwrap();
    let p = sse_payloads(&joined(&stream_chunks(&gw, &t).await.0));
    assert_eq!(p.len(), 3);
    let err: Value = serde_json::from_str(&p[2]).unwrap();
    assert_eq!(code(&err), Some("server_error"));
    gw.shutdown().await;
}

#[tokio::test]
async fn admin_route_scripts_faults_only_when_enabled() {
    let gw = start(|_| {}).await;
    let t = token(&gw, "alice", None).await;
    let c = client();
    let admin = format!("{}/__behest/faults", gw.base_url());
    let r = c
        .post(&admin)
        .json(&json!({"route": "chat", "fault": {"status": 502}, "times": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(chat_status(&gw, &t).await, 502);
    assert_eq!(c.delete(&admin).send().await.unwrap().status(), 204);
    assert_eq!(chat_status(&gw, &t).await, 200, "cleared");
    assert_eq!(c.post(&admin).body("{").send().await.unwrap().status(), 400);
    assert_eq!(
        c.post(&admin)
            .json(&json!({"mint_latency_ms": 1}))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );

    // The recorded requests: what the chats sent, never a header.
    let listed = get_json(&gw, "/__behest/requests").await;
    let listed = listed.as_array().unwrap();
    let chats: Vec<&Value> = listed
        .iter()
        .filter(|r| r["path"] == "/v1/chat/completions")
        .collect();
    assert_eq!(
        chats
            .iter()
            .map(|r| r["status"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [502, 200]
    );
    let body: Value = serde_json::from_str(chats[1]["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["messages"][0]["content"], "x");
    assert!(chats.iter().all(|r| r.get("headers").is_none()));
    assert!(
        !listed.iter().any(|r| r.to_string().contains(&t)),
        "no token"
    );
    gw.shutdown().await;

    let gw = start(|c| c.faults_enabled = false).await;
    assert!(matches!(
        gw.faults().push(Route::Chat, Fault::status(500)),
        Err(behest_desktop::core::Error::InvalidSettings { .. })
    ));
    let r = c
        .post(format!("{}/__behest/faults", gw.base_url()))
        .json(&json!({"route": "chat", "fault": {"status": 502}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let t = token(&gw, "alice", None).await;
    assert_eq!(chat_status(&gw, &t).await, 200);
    let r = c
        .get(format!("{}/__behest/requests", gw.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "no admin routes without faults");
    gw.shutdown().await;
}
