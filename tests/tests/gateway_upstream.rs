//! The upstream responder over loopback: a gateway fronting another OpenAI-compatible server
//! (here a second local gateway, whose chat route wants a bearer) relays its streamed text in
//! both answer modes; an upstream that refuses or is unreachable becomes a 502 envelope.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod gateway_support;

use std::sync::Arc;

use behest_desktop::core::gateway::{Fault, Route, UpstreamResponder};
use behest_desktop::core::redact::Secret;
use gateway_support::*;
use serde_json::Value;

#[tokio::test]
async fn relays_an_openai_compatible_upstream() {
    let upstream = start(|_| {}).await;
    let upstream_key = upstream.mint("relay", None, 3600).unwrap();
    let base = format!("{}/v1", upstream.base_url());
    let front = start(move |c| {
        c.responder = Arc::new(UpstreamResponder::new(&base, Some(upstream_key), None))
    })
    .await;
    let t = token(&front, "alice", None).await;

    let c: Value = chat(&front, &t, &chat_body("through the relay", false))
        .await
        .json()
        .await
        .unwrap();
    let text = c["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(
        text.contains("> through the relay"),
        "the upstream's reply: {text}"
    );
    let raw = chat(&front, &t, &chat_body("streamed relay", true))
        .await
        .text()
        .await
        .unwrap();
    assert!(raw.ends_with("data: [DONE]\n\n"));
    let streamed: String = sse_payloads(&raw)
        .iter()
        .filter_map(|p| serde_json::from_str::<Value>(p).ok())
        .filter_map(|v| {
            v.pointer("/choices/0/delta/content")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .collect();
    assert!(streamed.contains("> streamed relay"));
    // The upstream saw our model name and its own bearer, never our user's token.
    let seen = upstream.requests();
    let relayed: Vec<_> = seen
        .iter()
        .filter(|r| r.path == "/v1/chat/completions")
        .collect();
    assert_eq!(relayed.len(), 2);
    assert_eq!(
        relayed[0].claims.as_ref().map(|c| c.uid.as_str()),
        Some("relay")
    );
    assert!(relayed[0].body.contains("\"stream\":true"));

    // Upstream failures become 502 server_error; a mid-stream upstream error becomes an error event.
    upstream
        .faults()
        .push(Route::Chat, Fault::status(500))
        .unwrap();
    let r = chat(&front, &t, &chat_body("x", false)).await;
    assert_eq!(r.status(), 502);
    assert_eq!(code(&r.json().await.unwrap()), Some("server_error"));
    upstream
        .faults()
        .push(Route::Chat, Fault::stream().error_after(3))
        .unwrap();
    let raw = chat(&front, &t, &chat_body("x", true))
        .await
        .text()
        .await
        .unwrap();
    let last: Value = serde_json::from_str(sse_payloads(&raw).last().unwrap()).unwrap();
    assert_eq!(code(&last), Some("server_error"));
    front.shutdown().await;
    upstream.shutdown().await;
}

#[tokio::test]
async fn an_unreachable_upstream_is_a_502() {
    let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = dead.local_addr().unwrap();
    drop(dead);
    let front = start(move |c| {
        c.responder = Arc::new(UpstreamResponder::new(
            &format!("http://{addr}"),
            Some(Secret::new("k")),
            Some("m".into()),
        ))
    })
    .await;
    let t = token(&front, "alice", None).await;
    let r = chat(&front, &t, &chat_body("x", true)).await;
    assert_eq!(r.status(), 502);
    front.shutdown().await;
}
