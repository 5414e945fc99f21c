//! Unit tests of the stream driver over in-memory byte streams (no network).

use super::*;
use futures_util::stream;

type Item = Result<Bytes, std::io::Error>;

fn ctx(idle_ms: u64) -> StreamContext {
    StreamContext {
        started: Instant::now(),
        trace_id: Some("tr-1".into()),
        http_status: 200,
        idle_timeout: Duration::from_millis(idle_ms),
        max_body_bytes: 1 << 20,
    }
}

fn chunk(text: &str, finish: Option<&str>) -> String {
    let finish = finish.map_or("null".to_string(), |f| format!("\"{f}\""));
    let text = serde_json::to_string(text).unwrap_or_default();
    format!(
        "data: {{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":{text}}},\"finish_reason\":{finish}}}]}}\n\n"
    )
}

fn ok(s: &str) -> Item {
    Ok(Bytes::from(s.to_string()))
}

async fn run(items: Vec<Item>) -> (Result<ChatOutcome, ChatFailure>, Vec<ChatEvent>) {
    let mut events = Vec::new();
    let cancel = CancellationToken::new();
    let mut sink = |e: ChatEvent| {
        events.push(e);
        Ok(())
    };
    let r = drive(stream::iter(items), ctx(1000), &cancel, &mut sink).await;
    (r, events)
}

#[tokio::test]
async fn a_complete_stream_with_usage() {
    let usage = r#"data: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}"#;
    let items = vec![
        ok(&chunk("Hel", None)),
        ok(&chunk("lo", Some("stop"))),
        ok(&format!("{usage}\n\n")),
        ok("data: [DONE]\n\ndata: ignored after done\n\n"),
    ];
    let (r, events) = run(items).await;
    let out = r.unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(out.text, "Hello");
    assert_eq!(out.status, ChatStatus::Completed);
    assert_eq!(out.finish_reason.as_deref(), Some("stop"));
    assert_eq!(out.usage.map(|u| u.total_tokens), Some(7));
    assert!(out.ttft.is_some());
    assert_eq!(out.trace_id.as_deref(), Some("tr-1"));
    assert_eq!(events.len(), 4, "{events:?}");
    assert_eq!(events[0], ChatEvent::Delta { text: "Hel".into() });
    assert!(
        matches!(events[3], ChatEvent::Done { ref finish_reason, .. } if finish_reason.as_deref() == Some("stop"))
    );
}

#[tokio::test]
async fn early_close_without_done_or_finish_is_interrupted() {
    let (r, events) = run(vec![ok(&chunk("partial ", None)), ok(&chunk("text", None))]).await;
    let out = r.unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(out.text, "partial text");
    assert_eq!(
        out.status,
        ChatStatus::Interrupted {
            reason: InterruptReason::EarlyClose
        }
    );
    assert_eq!(
        events.last(),
        Some(&ChatEvent::Interrupted {
            reason: InterruptReason::EarlyClose,
            partial_text_len: 12
        })
    );
}

#[tokio::test]
async fn finish_reason_without_done_is_complete_and_trailing_event_is_flushed() {
    let last = chunk("end", Some("length"));
    let (r, _) = run(vec![ok(&chunk("a ", None)), ok(last.trim_end())]).await;
    let out = r.unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(out.text, "a end");
    assert_eq!(out.status, ChatStatus::Completed);
    assert_eq!(out.finish_reason.as_deref(), Some("length"));
}

#[tokio::test]
async fn a_reset_keeps_the_text() {
    let reset = Err(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
    let (r, _) = run(vec![ok(&chunk("kept", None)), reset]).await;
    let out = r.unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(out.text, "kept");
    assert_eq!(
        out.status,
        ChatStatus::Interrupted {
            reason: InterruptReason::ConnectionLost
        }
    );
}

#[tokio::test]
async fn the_http_clients_own_read_timeout_counts_as_idle() {
    let timed_out = Err(std::io::Error::from(std::io::ErrorKind::TimedOut));
    let (r, _) = run(vec![ok(&chunk("kept", None)), timed_out]).await;
    let out = r.unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(
        out.status,
        ChatStatus::Interrupted {
            reason: InterruptReason::IdleTimeout
        }
    );
}

#[tokio::test]
async fn mid_stream_error_fails_with_the_text_kept() {
    let error = "data: {\"error\":{\"code\":\"server_error\",\"message\":\"upstream died\"}}\n\n";
    let (r, events) = run(vec![
        ok(&chunk("so far", None)),
        ok(error),
        ok(&chunk("never", None)),
    ])
    .await;
    let failure = r.err();
    assert!(matches!(
        failure.as_ref().map(|f| &f.error),
        Some(Error::StreamError(_))
    ));
    assert_eq!(failure.map(|f| f.text).as_deref(), Some("so far"));
    assert_eq!(events.len(), 1);
}

#[tokio::test]
async fn non_json_chunk_is_a_protocol_error_with_a_short_excerpt() {
    let junk = format!("data: <html>{}</html>\n\n", "x".repeat(1000));
    let (r, _) = run(vec![ok(&junk)]).await;
    let error = r.err().map(|f| f.error);
    let Some(Error::Protocol(message)) = error else {
        panic!("expected a protocol error, got {error:?}");
    };
    assert!(message.chars().count() < 300, "{message}");
}

#[tokio::test]
async fn oversized_line_is_a_protocol_error() {
    let items: Vec<Item> = (0..3)
        .map(|_| Ok(Bytes::from(vec![b'a'; 512 << 10])))
        .collect();
    let (r, _) = run(items).await;
    assert!(matches!(r.err().map(|f| f.error), Some(Error::Protocol(_))));
}

#[tokio::test(start_paused = true)]
async fn silence_past_the_idle_timeout_is_interrupted() {
    let body = stream::iter(vec![ok(&chunk("a", None))]).chain(stream::pending());
    let cancel = CancellationToken::new();
    let mut sink = |_: ChatEvent| Ok(());
    let out = drive(Box::pin(body), ctx(100), &cancel, &mut sink).await;
    let out = out.unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(
        out.status,
        ChatStatus::Interrupted {
            reason: InterruptReason::IdleTimeout
        }
    );
    assert_eq!(out.text, "a");
}

#[tokio::test(start_paused = true)]
async fn keep_alives_reset_the_idle_timeout() {
    // 20 pings 60 ms apart (1.2 s in all) under a 100 ms idle timeout.
    let pings = stream::iter(0..20).then(|_| async {
        tokio::time::sleep(Duration::from_millis(60)).await;
        ok(": ping\n\n")
    });
    let body = pings.chain(stream::iter(vec![
        ok(&chunk("done", Some("stop"))),
        ok("data: [DONE]\n\n"),
    ]));
    let cancel = CancellationToken::new();
    let mut sink = |_: ChatEvent| Ok(());
    let out = drive(Box::pin(body), ctx(100), &cancel, &mut sink).await;
    assert_eq!(out.map(|o| o.status).ok(), Some(ChatStatus::Completed));
}

#[tokio::test]
async fn a_closed_sink_cancels() {
    let cancel = CancellationToken::new();
    let mut sink = |_: ChatEvent| Err(SinkClosed);
    let body = stream::iter(vec![ok(&chunk("a", None)), ok(&chunk("b", None))]);
    let out = drive(body, ctx(1000), &cancel, &mut sink).await;
    assert_eq!(out.map(|o| o.status).ok(), Some(ChatStatus::Cancelled));
    assert!(cancel.is_cancelled());
}

#[tokio::test]
async fn a_tripped_token_cancels_a_stalled_read() {
    let cancel = CancellationToken::new();
    let body = stream::iter(vec![ok(&chunk("a", None))]).chain(stream::pending());
    let trip = cancel.clone();
    let mut sink = move |_: ChatEvent| {
        trip.cancel();
        Ok(())
    };
    let out = drive(Box::pin(body), ctx(60_000), &cancel, &mut sink).await;
    let out = out.unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(out.status, ChatStatus::Cancelled);
    assert_eq!(out.text, "a");
}

#[tokio::test]
async fn a_whole_answer_becomes_one_delta() {
    let body = r#"{"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Hi there"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}"#;
    let mut events = Vec::new();
    let cancel = CancellationToken::new();
    let mut sink = |e: ChatEvent| {
        events.push(e);
        Ok(())
    };
    let items: Vec<Item> = vec![ok(&body[..10]), ok(&body[10..])];
    let out = whole(stream::iter(items), ctx(1000), &cancel, &mut sink).await;
    let out = out.unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(out.text, "Hi there");
    assert_eq!(out.finish_reason.as_deref(), Some("stop"));
    assert_eq!(out.usage.map(|u| u.completion_tokens), Some(2));
    assert_eq!(events.len(), 3);
    let bad = whole(
        stream::iter(vec![ok("nope")]),
        ctx(1000),
        &cancel,
        &mut |_| Ok(()),
    )
    .await;
    assert!(matches!(
        bad.err().map(|f| f.error),
        Some(Error::Protocol(_))
    ));
}
