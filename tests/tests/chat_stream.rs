//! The chat client against the local gateway over loopback: stream faults and cancellation
//! (reliability bar E3, E5, E6, E8, D5, D6), scripted with the gateway's fault knobs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod chat_support;

use std::sync::Arc;
use std::time::Duration;

use behest_desktop::core::chat::{ChatEvent, ChatStatus, InterruptReason};
use behest_desktop::core::gateway::Fault;
use behest_desktop::core::Error;
use chat_support::*;
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn a_reset_mid_stream_keeps_the_text_and_is_not_resent() {
    let gw = gateway_with(Fault::stream().reset_after(5)).await;
    let (out, events) = send_collecting(&gateway_client(&gw), &send("reset me")).await;
    let out = out.expect("outcome");
    assert_eq!(
        out.status,
        ChatStatus::Interrupted {
            reason: InterruptReason::ConnectionLost
        }
    );
    assert!(!out.text.is_empty());
    assert!(expected("reset me").starts_with(&out.text));
    assert!(out.text.len() < expected("reset me").len());
    let events = events.lock().unwrap().clone();
    assert_eq!(
        events.last(),
        Some(&ChatEvent::Interrupted {
            reason: InterruptReason::ConnectionLost,
            partial_text_len: out.text.len()
        })
    );
    // Give an automatic resend every chance to show up: none may.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(chat_requests(&gw), 1);
}

#[tokio::test]
async fn crlf_framing_split_events_and_split_utf8_give_the_exact_text() {
    let prompt = "héllo 😀 你好";
    for fault in [
        Fault::stream().crlf(),
        Fault::stream().split_events(),
        Fault::stream().split_utf8(),
        Fault::stream()
            .crlf()
            .split_events()
            .split_utf8()
            .keep_alive(),
    ] {
        let gw = gateway_with(fault.clone()).await;
        let out = chat(&gateway_client(&gw), prompt).await.expect("chat");
        assert_eq!(out.status, ChatStatus::Completed, "{fault:?}");
        assert_eq!(out.text, expected(prompt), "{fault:?}");
    }
}

#[tokio::test]
async fn a_missing_done_after_the_finish_reason_is_still_complete() {
    let gw = gateway_with(Fault::stream().omit_done()).await;
    let out = chat(&gateway_client(&gw), "no done").await.expect("chat");
    assert_eq!(out.status, ChatStatus::Completed);
    assert_eq!(out.text, expected("no done"));
}

#[tokio::test]
async fn a_mid_stream_error_keeps_the_text() {
    let gw = gateway_with(Fault::stream().error_after(4)).await;
    let (failure, events) = send_collecting(&gateway_client(&gw), &send("error me")).await;
    let failure = failure.expect_err("stream error");
    assert!(
        matches!(failure.error, Error::StreamError(_)),
        "{:?}",
        failure.error
    );
    assert!(!failure.text.is_empty());
    assert!(expected("error me").starts_with(&failure.text));
    assert_eq!(delta_text(&events.lock().unwrap()), failure.text);
    assert_eq!(chat_requests(&gw), 1);
}

#[tokio::test]
async fn malformed_json_mid_stream_is_a_protocol_error() {
    let gw = gateway_with(Fault::stream().malformed_after(3)).await;
    let failure = chat(&gateway_client(&gw), "bad json")
        .await
        .expect_err("protocol");
    let Error::Protocol(message) = &failure.error else {
        panic!("{:?}", failure.error)
    };
    assert!(message.chars().count() <= 300, "{message}");
    assert!(!failure.text.is_empty());
}

#[tokio::test]
async fn a_stall_mid_stream_is_interrupted_by_the_idle_timeout() {
    let gw = gateway_with(Fault::stream().stall_after(3)).await;
    let c = gateway_client_idle(&gw, Duration::from_millis(300));
    let out = chat(&c, "stall").await.expect("outcome");
    assert_eq!(
        out.status,
        ChatStatus::Interrupted {
            reason: InterruptReason::IdleTimeout
        }
    );
    assert!(!out.text.is_empty());
    assert_eq!(chat_requests(&gw), 1);
}

#[tokio::test]
async fn cancel_mid_stream_ends_the_send_at_once() {
    let gw = gateway_with(Fault::stream().stall_after(2)).await;
    let c = gateway_client_idle(&gw, Duration::from_secs(60));
    let cancel = CancellationToken::new();
    let start = std::time::Instant::now();
    let out = c
        .send(&send("cancel me"), &cancel, cancel_on_first_delta(&cancel))
        .await
        .expect("outcome");
    assert_eq!(out.status, ChatStatus::Cancelled);
    assert!(!out.text.is_empty());
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn cancel_during_a_backoff_returns_at_once_and_sends_nothing_more() {
    let gw = gateway_with(Fault::status(503).retry_after(30)).await;
    let c = Arc::new(gateway_client(&gw));
    let cancel = CancellationToken::new();
    let task = {
        let (c, cancel) = (Arc::clone(&c), cancel.clone());
        tokio::spawn(async move {
            let (_, sink) = collector();
            c.send(&send("hi"), &cancel, sink).await
        })
    };
    while chat_requests(&gw) == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let start = std::time::Instant::now();
    cancel.cancel();
    let out = tokio::time::timeout(Duration::from_secs(1), task)
        .await
        .expect("returned within 1 s");
    let out = out.expect("task").expect("outcome");
    assert!(
        start.elapsed() < Duration::from_millis(100),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(out.status, ChatStatus::Cancelled);
    assert_eq!(chat_requests(&gw), 1);
}

#[tokio::test]
async fn a_closed_sink_cancels_the_request() {
    let gw = gateway().await;
    let c = gateway_client(&gw);
    let cancel = CancellationToken::new();
    let mut seen = 0;
    let sink = move |_: ChatEvent| {
        seen += 1;
        if seen > 3 {
            Err(behest_desktop::core::chat::SinkClosed)
        } else {
            Ok(())
        }
    };
    let out = c
        .send(&send("window closed"), &cancel, sink)
        .await
        .expect("outcome");
    assert_eq!(out.status, ChatStatus::Cancelled);
    assert!(cancel.is_cancelled());
}
