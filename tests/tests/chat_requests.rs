//! The chat client against the local gateway over loopback: the request it sends and the retry
//! policy (reliability bar D1–D5), scripted with the gateway's fault knobs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod chat_support;

use std::time::Duration;

use behest_desktop::core::chat::{ChatEvent, ChatStatus};
use behest_desktop::core::gateway::{Fault, Route};
use behest_desktop::core::Error;
use chat_support::*;

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
    let (out, events) = send_collecting(&c, &s).await;
    let out = out.expect("chat");

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
    let mut s = send("whole please");
    s.stream = false;
    s.request.model = None;
    let (out, events) = send_collecting(&gateway_client(&gw), &s).await;
    let out = out.expect("chat");
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
    let gw = gateway_with(Fault::status(401)).await;
    let tokens = CountingTokens::new(&gw, 2);
    let c = client(&gw.base_url(), tokens.clone(), config(IDLE));
    let out = chat(&c, "hi").await.expect("chat");
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
    let failure = chat(&c, "hi").await.expect_err("401");
    assert!(
        matches!(failure.error, Error::Unauthorized(_)),
        "{:?}",
        failure.error
    );
    assert!(failure.trace_id.is_some());
    assert_eq!(chat_requests(&gw), 2);
    assert_eq!(tokens.invalidations(), 1);
}

/// A failure the client must surface, typed, after exactly `requests` chat requests.
struct Surfaced {
    case: &'static str,
    fault: Fault,
    /// How many chat requests in a row meet `fault`.
    times: usize,
    error: fn(&Error) -> bool,
    requests: usize,
    /// The `Retry-After` the error must carry, where the case has one.
    retry_after: Option<Duration>,
}

#[tokio::test]
async fn failures_are_surfaced_typed_after_the_policy_s_request_count() {
    let cases = [
        Surfaced {
            case: "402: quota exceeded is one request",
            fault: Fault::status(402),
            times: 1,
            error: |e| matches!(e, Error::QuotaExceeded(_)),
            requests: 1,
            retry_after: None,
        },
        Surfaced {
            case: "400: bad request is not retried",
            fault: Fault::status(400),
            times: 1,
            error: |e| matches!(e, Error::BadRequest(_)),
            requests: 1,
            retry_after: None,
        },
        Surfaced {
            case: "403: forbidden is not retried",
            fault: Fault::status(403),
            times: 1,
            error: |e| matches!(e, Error::Forbidden(_)),
            requests: 1,
            retry_after: None,
        },
        Surfaced {
            case: "404: not found is not retried",
            fault: Fault::status(404),
            times: 1,
            error: |e| matches!(e, Error::NotFound(_)),
            requests: 1,
            retry_after: None,
        },
        Surfaced {
            case: "422: unprocessable is a bad request, not retried",
            fault: Fault::status(422),
            times: 1,
            error: |e| matches!(e, Error::BadRequest(_)),
            requests: 1,
            retry_after: None,
        },
        Surfaced {
            case: "429: a retry-after over the cap is surfaced without retrying",
            fault: Fault::status(429).retry_after(120),
            times: 1,
            error: |e| matches!(e, Error::RateLimited(_)),
            requests: 1,
            retry_after: Some(Duration::from_secs(120)),
        },
        Surfaced {
            case: "502 three times: give up after two retries",
            fault: Fault::status(502),
            times: 3,
            error: |e| matches!(e, Error::Upstream(_)),
            requests: 3,
            retry_after: None,
        },
    ];
    for row in cases {
        let gw = gateway().await;
        gw.faults()
            .push_n(Route::Chat, row.fault, row.times)
            .unwrap();
        let failure = chat(&gateway_client(&gw), "hi").await.expect_err(row.case);
        assert!(
            (row.error)(&failure.error),
            "{}: {:?}",
            row.case,
            failure.error
        );
        assert_eq!(chat_requests(&gw), row.requests, "{}", row.case);
        if let Some(wait) = row.retry_after {
            assert_eq!(failure.error.retry_after(), Some(wait), "{}", row.case);
        }
    }
}

#[tokio::test(start_paused = true)]
async fn rate_limited_with_retry_after_waits_then_succeeds() {
    let gw = gateway_with(Fault::status(429).retry_after(1)).await;
    let start = tokio::time::Instant::now();
    let (out, events) = send_collecting(&gateway_client(&gw), &send("hi")).await;
    let out = out.expect("chat");
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
async fn service_unavailable_twice_then_ok_succeeds() {
    let gw = gateway().await;
    gw.faults()
        .push_n(Route::Chat, Fault::status(503), 2)
        .unwrap();
    let out = chat(&gateway_client(&gw), "again").await.expect("chat");
    assert_eq!(out.text, expected("again"));
    assert_eq!(chat_requests(&gw), 3);
}
