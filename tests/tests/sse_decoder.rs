//! The SSE decoder through its public API: any split of a realistic chat stream gives the same
//! events (reliability bar E1), it agrees with `eventsource-stream` on well-formed LF streams,
//! and it keeps the trailing event that `eventsource-stream` drops (the reason we wrote our own).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use behest_desktop::core::protocol::sse::{
    encode_comment, encode_data, SseDecoder, SseError, SseEvent, DONE,
};
use bytes::Bytes;
use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use proptest::prelude::*;

/// A short chat stream with Unicode deltas, a keep-alive, a usage chunk and `[DONE]`.
fn chat_stream(words: &[String]) -> String {
    let mut s = String::new();
    for (i, w) in words.iter().enumerate() {
        if i % 3 == 1 {
            s.push_str(&encode_comment("keep-alive"));
        }
        let chunk =
            serde_json::json!({"choices":[{"index":0,"delta":{"content":w},"finish_reason":null}]});
        s.push_str(&encode_data(&chunk.to_string()));
    }
    s.push_str(&encode_data(
        r#"{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}"#,
    ));
    s.push_str(&encode_data(DONE));
    s
}

fn decode(pieces: &[&[u8]]) -> Result<Vec<SseEvent>, SseError> {
    let mut d = SseDecoder::new();
    let mut out = Vec::new();
    for p in pieces {
        d.feed(p, &mut out)?;
    }
    d.finish(&mut out)?;
    Ok(out)
}

fn with_crlf(s: &str) -> String {
    s.replace('\n', "\r\n")
}

fn split_at_all(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.sort_unstable();
    let mut out = Vec::new();
    let mut start = 0;
    for p in points {
        out.push(bytes[start..p].to_vec());
        start = p;
    }
    out.push(bytes[start..].to_vec());
    out
}

async fn reference(pieces: Vec<Vec<u8>>) -> Vec<(String, String)> {
    let body = futures_util::stream::iter(
        pieces
            .into_iter()
            .map(|p| Ok::<_, std::io::Error>(Bytes::from(p))),
    );
    body.eventsource()
        .filter_map(|e| async move { e.ok() })
        .map(|e| (e.event, e.data))
        .collect()
        .await
}

fn words() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec("[a-z é😀中\u{2028}]{0,6}", 1..12)
}

proptest! {
    #[test]
    fn any_split_of_a_chat_stream_gives_the_same_events(ws in words(), cuts in prop::collection::vec(0usize..4096, 0..10), crlf in any::<bool>()) {
        let mut text = chat_stream(&ws);
        if crlf {
            text = with_crlf(&text);
        }
        let whole = decode(&[text.as_bytes()]).unwrap();
        prop_assert_eq!(whole.len(), ws.len() + 2);
        prop_assert_eq!(whole.last().map(|e| e.data.as_str()), Some(DONE));
        let pieces = split_at_all(text.as_bytes(), &cuts);
        let refs: Vec<&[u8]> = pieces.iter().map(Vec::as_slice).collect();
        prop_assert_eq!(decode(&refs).unwrap(), whole);
    }
}

#[tokio::test]
async fn agrees_with_eventsource_stream_on_well_formed_streams() {
    let ws: Vec<String> = ["Hel", "lo ", "wörld ", "😀", ""]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let text = chat_stream(&ws);
    for cuts in [
        vec![],
        vec![1, 7, 100, 101, 102],
        (0..text.len()).step_by(3).collect::<Vec<_>>(),
    ] {
        let pieces = split_at_all(text.as_bytes(), &cuts);
        let ours: Vec<(String, String)> =
            decode(&pieces.iter().map(Vec::as_slice).collect::<Vec<_>>())
                .unwrap()
                .into_iter()
                .map(|e| (e.event.unwrap_or_else(|| "message".into()), e.data))
                .collect();
        assert_eq!(ours, reference(pieces).await);
    }
}

#[tokio::test]
async fn keeps_the_trailing_event_that_eventsource_stream_drops() {
    let text = "data: first\n\ndata: last words";
    let ours = decode(&[text.as_bytes()]).unwrap();
    assert_eq!(
        ours.iter().map(|e| e.data.as_str()).collect::<Vec<_>>(),
        ["first", "last words"]
    );
    let theirs = reference(vec![text.as_bytes().to_vec()]).await;
    assert_eq!(
        theirs.len(),
        1,
        "eventsource-stream now keeps the trailing event: {theirs:?}"
    );
}

#[test]
fn hostile_sizes_are_bounded() {
    let mut d = SseDecoder::new();
    let mut out = Vec::new();
    let block = vec![b'a'; 64 << 10];
    let mut result = Ok(());
    for _ in 0..32 {
        result = d.feed(&block, &mut out);
        if result.is_err() {
            break;
        }
    }
    assert!(matches!(result, Err(SseError::LineTooLong { .. })));
    // A 5 MiB event made of 1 KiB lines: under the line limit, over the event limit.
    let mut d = SseDecoder::new();
    let line = format!("data: {}\n", "b".repeat(1024));
    let mut result = Ok(());
    for _ in 0..(5 << 10) {
        result = d.feed(line.as_bytes(), &mut out);
        if result.is_err() {
            break;
        }
    }
    assert!(matches!(result, Err(SseError::EventTooLarge { .. })));
    assert!(out.is_empty());
}
