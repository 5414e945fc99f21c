//! The chat client against the local gateway over loopback: the request it sends and the retry
//! policy (reliability bar D1–D5), scripted with the gateway's fault knobs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod chat_support;

use std::time::Duration;

use behest_desktop::core::chat::{ChatEvent, ChatStatus};
use behest_desktop::core::gateway::{Fault, Route};
use behest_desktop::core::Error;
use chat_support::*;
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn a_stream_arrives_whole_with_the_right_request() {
    let gw = gateway().await;
    let tokens = CountingTokens::new(&gw, 1);
    let c = client(&gw.base_url(), tokens.clone(), config(IDLE));
    let mut s = send("hello there");
    s.thread_id = Some("thread_2026_abc".into());
    s.request.model = Some("behest-local-demo".into());
    s.request.temperature = Some(0.25);
    s.request.max_tokens = Some(300);
    let (events, sink) = collector();
    let out = c
        .send(&s, &CancellationToken::new(), sink)
        .await
        .expect("chat");

    assert_eq!(out.status, ChatStatus::Completed);
    assert_eq!(out.text, expected("hello there"));
    assert_eq!(out.finish_reason.as_deref(), Some("stop"));
    assert!(
        out.usage.is_some_and(|u| u.completion_tokens > 0),
        "{:?}",
        out.usage
    );
    assert!(out.ttft.is_some());
    let events = events.lock().unwrap().clone();
    assert!(matches!(
        events.first(),
        Some(ChatEvent::Started { trace_id: Some(_) })
    ));
    assert!(matches!(events.last(), Some(ChatEvent::Done { .. })));
    assert_eq!(delta_text(&events), out.text);
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, ChatEvent::Usage(_)))
            .count(),
        1
    );

    let seen = gw.requests();
    let req = seen
        .iter()
        .find(|r| r.path == "/v1/chat/completions")
        .expect("recorded");
    assert_eq!(req.status, 200);
    assert_eq!(req.header("x-session-id"), Some("sess-test"));
    assert_eq!(req.header("x-thread-id"), Some("thread_2026_abc"));
    assert_eq!(req.header("accept"), Some("text/event-stream"));
    assert!(req.header("x-tenant-id").is_none() && req.header("x-project-id").is_none());
    let body: serde_json::Value = serde_json::from_str(&req.body).expect("json body");
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"]["include_usage"], true);
    assert_eq!(body["model"], "behest-local-demo");
    assert_eq!(body["temperature"], 0.25);
    assert_eq!(body["max_tokens"], 300);
    assert_eq!(tokens.bearers(), 1);
}

#[tokio::test]
async fn non_streaming_mode_returns_the_same_text() {
    let gw = gateway().await;
    let c = client(&gw.base_url(), CountingTokens::new(&gw, 1), config(IDLE));
    let mut s = send("whole please");
    s.stream = false;
    s.request.model = None;
    let (events, sink) = collector();
    let out = c
        .send(&s, &CancellationToken::new(), sink)
        .await
        .expect("chat");
    assert_eq!(out.status, ChatStatus::Completed);
    assert_eq!(out.text, expected("whole please"));
    assert_eq!(delta_text(&events.lock().unwrap()), out.text);
    let seen = gw.requests();
    let body: serde_json::Value = serde_json::from_str(&seen[0].body).expect("json body");
    assert_eq!(body["stream"], false);
    assert!(body.get("model").is_none() && body.get("stream_options").is_none());
}

#[tokio::test]
async fn unauthorized_then_ok_refreshes_once_and_retries_once() {
    let gw = gateway().await;
    gw.faults().push(Route::Chat, Fault::status(401)).unwrap();
    let tokens = CountingTokens::new(&gw, 2);
    let c = client(&gw.base_url(), tokens.clone(), config(IDLE));
    let (_, sink) = collector();
    let out = c
        .send(&send("hi"), &CancellationToken::new(), sink)
        .await
        .expect("chat");
    assert_eq!(out.status, ChatStatus::Completed);
    assert_eq!(tokens.invalidations(), 1);
    assert_eq!(tokens.bearers(), 2);
    assert_eq!(chat_requests(&gw), 2);
}

#[tokio::test]
async fn unauthorized_twice_stops_after_two_requests() {
    let gw = gateway().await;
    gw.faults()
        .push_n(Route::Chat, Fault::status(401), 2)
        .unwrap();
    let tokens = CountingTokens::new(&gw, 2);
    let c = client(&gw.base_url(), tokens.clone(), config(IDLE));
    let (_, sink) = collector();
    let failure = c
        .send(&send("hi"), &CancellationToken::new(), sink)
        .await
        .expect_err("401");
    assert!(
        matches!(failure.error, Error::Unauthorized(_)),
        "{:?}",
        failure.error
    );
    assert!(failure.trace_id.is_some());
    assert_eq!(chat_requests(&gw), 2);
    assert_eq!(tokens.invalidations(), 1);
}

#[tokio::test]
async fn quota_exceeded_is_one_request_and_a_quota_error() {
    let gw = gateway().await;
    gw.faults().push(Route::Chat, Fault::status(402)).unwrap();
    let c = client(&gw.base_url(), CountingTokens::new(&gw, 1), config(IDLE));
    let (_, sink) = collector();
    let failure = c
        .send(&send("hi"), &CancellationToken::new(), sink)
        .await
        .expect_err("402");
    assert!(
        matches!(failure.error, Error::QuotaExceeded(_)),
        "{:?}",
        failure.error
    );
    assert_eq!(chat_requests(&gw), 1);
}

#[tokio::test]
async fn bad_request_not_found_and_unprocessable_are_not_retried() {
    for status in [400u16, 403, 404, 422] {
        let gw = gateway().await;
        gw.faults()
            .push(Route::Chat, Fault::status(status))
            .unwrap();
        let c = client(&gw.base_url(), CountingTokens::new(&gw, 1), config(IDLE));
        let (_, sink) = collector();
        let failure = c
            .send(&send("hi"), &CancellationToken::new(), sink)
            .await
            .expect_err("error");
        let ok = match status {
            400 | 422 => matches!(failure.error, Error::BadRequest(_)),
            403 => matches!(failure.error, Error::Forbidden(_)),
            _ => matches!(failure.error, Error::NotFound(_)),
        };
        assert!(ok, "{status}: {:?}", failure.error);
        assert_eq!(chat_requests(&gw), 1, "status {status}");
    }
}

#[tokio::test(start_paused = true)]
async fn rate_limited_with_retry_after_waits_then_succeeds() {
    let gw = gateway().await;
    gw.faults()
        .push(Route::Chat, Fault::status(429).retry_after(1))
        .unwrap();
    let c = client(&gw.base_url(), CountingTokens::new(&gw, 1), config(IDLE));
    let (events, sink) = collector();
    let start = tokio::time::Instant::now();
    let out = c
        .send(&send("hi"), &CancellationToken::new(), sink)
        .await
        .expect("chat");
    let waited = start.elapsed();
    assert_eq!(out.status, ChatStatus::Completed);
    assert!(waited >= Duration::from_secs(1), "waited only {waited:?}");
    assert!(waited < Duration::from_secs(2), "waited {waited:?}");
    assert_eq!(chat_requests(&gw), 2);
    // The wait was announced first, and only once.
    let events = events.lock().unwrap();
    assert_eq!(
        events.first(),
        Some(&ChatEvent::Retrying {
            attempt: 2,
            wait: Duration::from_secs(1),
            status: Some(429),
        })
    );
    let announced = events
        .iter()
        .filter(|e| matches!(e, ChatEvent::Retrying { .. }))
        .count();
    assert_eq!(announced, 1);
    assert!(matches!(events.get(1), Some(ChatEvent::Started { .. })));
}

#[tokio::test]
async fn retry_after_over_the_cap_is_surfaced_without_retrying() {
    let gw = gateway().await;
    gw.faults()
        .push(Route::Chat, Fault::status(429).retry_after(120))
        .unwrap();
    let c = client(&gw.base_url(), CountingTokens::new(&gw, 1), config(IDLE));
    let (_, sink) = collector();
    let failure = c
        .send(&send("hi"), &CancellationToken::new(), sink)
        .await
        .expect_err("429");
    assert!(matches!(failure.error, Error::RateLimited(_)));
    assert_eq!(failure.error.retry_after(), Some(Duration::from_secs(120)));
    assert_eq!(chat_requests(&gw), 1);
}

#[tokio::test]
async fn service_unavailable_twice_then_ok_succeeds() {
    let gw = gateway().await;
    gw.faults()
        .push_n(Route::Chat, Fault::status(503), 2)
        .unwrap();
    let c = client(&gw.base_url(), CountingTokens::new(&gw, 1), config(IDLE));
    let (_, sink) = collector();
    let out = c
        .send(&send("again"), &CancellationToken::new(), sink)
        .await
        .expect("chat");
    assert_eq!(out.text, expected("again"));
    assert_eq!(chat_requests(&gw), 3);
}

#[tokio::test]
async fn server_errors_three_times_give_up_after_two_retries() {
    let gw = gateway().await;
    gw.faults()
        .push_n(Route::Chat, Fault::status(502), 3)
        .unwrap();
    let c = client(&gw.base_url(), CountingTokens::new(&gw, 1), config(IDLE));
    let (_, sink) = collector();
    let failure = c
        .send(&send("hi"), &CancellationToken::new(), sink)
        .await
        .expect_err("502");
    assert!(matches!(failure.error, Error::Upstream(_)));
    assert_eq!(chat_requests(&gw), 3);
}
