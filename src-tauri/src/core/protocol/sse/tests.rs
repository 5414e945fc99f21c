//! Unit tests of the SSE encoder and decoder: the framing table and the split property.

use super::*;
use proptest::prelude::*;
use std::time::Duration;

fn ev(data: &str) -> SseEvent {
    SseEvent {
        event: None,
        data: data.to_string(),
        id: None,
    }
}

/// Decodes `input` fed as the given pieces, then finishes.
fn decode_pieces(pieces: &[&[u8]]) -> Result<Vec<SseEvent>, SseError> {
    let mut d = SseDecoder::new();
    let mut out = Vec::new();
    for p in pieces {
        d.feed(p, &mut out)?;
    }
    d.finish(&mut out)?;
    Ok(out)
}

fn decode(input: &[u8]) -> Result<Vec<SseEvent>, SseError> {
    decode_pieces(&[input])
}

/// Every way of cutting `input` in two, and one byte at a time, gives `want`.
fn assert_all_splits(input: &[u8], want: &[SseEvent]) {
    for cut in 0..=input.len() {
        let got = decode_pieces(&[&input[..cut], &input[cut..]]);
        assert_eq!(got.as_deref(), Ok(want), "input {input:?} cut at {cut}");
    }
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(
        decode_pieces(&bytes).as_deref(),
        Ok(want),
        "input {input:?} byte by byte"
    );
}

#[test]
fn frames_use_lf_only() {
    assert_eq!(encode_data("{}"), "data: {}\n\n");
    assert_eq!(encode_data(DONE), "data: [DONE]\n\n");
    assert_eq!(encode_comment("keep-alive"), ": keep-alive\n\n");
}

#[test]
fn encoder_output_round_trips() {
    let wire = format!(
        "{}{}{}",
        encode_data("{\"a\":1}"),
        encode_comment("ping"),
        encode_data(DONE)
    );
    assert_eq!(decode(wire.as_bytes()), Ok(vec![ev("{\"a\":1}"), ev(DONE)]));
}

#[test]
fn framing_table() {
    let with = |event: Option<&str>, data: &str, id: Option<&str>| SseEvent {
        event: event.map(str::to_string),
        data: data.to_string(),
        id: id.map(str::to_string),
    };
    let table: Vec<(&str, &[u8], Vec<SseEvent>)> = vec![
        ("lf", b"data: a\n\ndata: b\n\n", vec![ev("a"), ev("b")]),
        (
            "crlf",
            b"data: a\r\n\r\ndata: b\r\n\r\n",
            vec![ev("a"), ev("b")],
        ),
        ("cr only", b"data: a\r\rdata: b\r\r", vec![ev("a"), ev("b")]),
        (
            "mixed",
            b"data: a\r\n\ndata: b\r\rdata: c\n\r\n",
            vec![ev("a"), ev("b"), ev("c")],
        ),
        ("bom", b"\xEF\xBB\xBFdata: a\n\n", vec![ev("a")]),
        (
            "bom only at start",
            b"data: a\n\n\xEF\xBB\xBFdata: b\n\n",
            vec![ev("a")],
        ),
        (
            "comments",
            b": keep-alive\n\n:\ndata: a\n: mid\n\n",
            vec![ev("a")],
        ),
        (
            "no space",
            b"data:a\n\ndata:  two\n\n",
            vec![ev("a"), ev(" two")],
        ),
        (
            "multi-line",
            b"data: a\ndata: b\ndata:\n\n",
            vec![ev("a\nb\n")],
        ),
        ("bare data", b"data\n\n", vec![ev("")]),
        (
            "unknown fields",
            b"foo: x\nbar\ndata: a\nDATA: no\n\n",
            vec![ev("a")],
        ),
        (
            "event type",
            b"event: usage\ndata: a\n\ndata: b\n\n",
            vec![with(Some("usage"), "a", None), ev("b")],
        ),
        (
            "id persists",
            b"id: 7\ndata: a\n\ndata: b\n\n",
            vec![with(None, "a", Some("7")), with(None, "b", Some("7"))],
        ),
        (
            "id with nul",
            b"id: 1\nid: x\0y\ndata: a\n\n",
            vec![with(None, "a", Some("1"))],
        ),
        (
            "no data no event",
            b"event: x\nid: 2\n\n\n\ndata: a\n\n",
            vec![with(None, "a", Some("2"))],
        ),
        (
            "trailing event at eof",
            b"data: a\n\ndata: b",
            vec![ev("a"), ev("b")],
        ),
        (
            "trailing event, one newline",
            b"data: a\ndata: b\n",
            vec![ev("a\nb")],
        ),
        ("trailing cr", b"data: a\r", vec![ev("a")]),
        (
            "utf-8",
            "data: héllo 😀 中文 \u{2028}\n\n".as_bytes(),
            vec![ev("héllo 😀 中文 \u{2028}")],
        ),
        ("partial bom is content", b"\xEF\xBB", vec![]),
        ("empty", b"", vec![]),
    ];
    for (name, input, want) in table {
        if name == "partial bom is content" {
            assert_eq!(
                decode(input),
                Err(SseError::InvalidUtf8 { line: 1 }),
                "{name}"
            );
            continue;
        }
        assert_eq!(decode(input).as_deref(), Ok(&want[..]), "{name}");
        assert_all_splits(input, &want);
    }
}

#[test]
fn cr_then_lf_across_reads_is_one_line_ending() {
    let got = decode_pieces(&[b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"]);
    assert_eq!(got, Ok(vec![ev("a\nb")]));
    let got = decode_pieces(&[b"data: a\r", b"", b"\n", b"\r\n"]);
    assert_eq!(got, Ok(vec![ev("a")]));
}

#[test]
fn retry_field_sets_reconnection_time() {
    let mut d = SseDecoder::new();
    let mut out = Vec::new();
    assert_eq!(
        d.feed(b"retry: 1500\nretry: x1\nretry:\n\n", &mut out),
        Ok(())
    );
    assert_eq!(d.retry(), Some(Duration::from_millis(1500)));
    assert!(out.is_empty());
}

#[test]
fn oversized_line_is_an_error_and_the_decoder_stays_failed() {
    let mut d = SseDecoder::with_limits(16, 64);
    let mut out = Vec::new();
    assert_eq!(d.feed(b"data: 0123456789", &mut out), Ok(()));
    assert_eq!(
        d.feed(b"x", &mut out),
        Err(SseError::LineTooLong { limit: 16 })
    );
    assert_eq!(
        d.feed(b"\n\n", &mut out),
        Err(SseError::LineTooLong { limit: 16 })
    );
    assert_eq!(d.finish(&mut out), Err(SseError::LineTooLong { limit: 16 }));
    // A line that fits exactly is fine, also when it arrives in one piece.
    let mut d = SseDecoder::with_limits(16, 64);
    assert_eq!(d.feed(b"data: 0123456789\n\n", &mut out), Ok(()));
    assert_eq!(out, vec![ev("0123456789")]);
    let mut d = SseDecoder::with_limits(16, 64);
    assert_eq!(
        d.feed(b"data: 01234567890\n", &mut out),
        Err(SseError::LineTooLong { limit: 16 })
    );
}

#[test]
fn default_line_limit_is_one_mebibyte() {
    let mut d = SseDecoder::new();
    let mut out = Vec::new();
    let line = vec![b'a'; MAX_LINE_BYTES];
    assert_eq!(d.feed(&line, &mut out), Ok(()));
    assert_eq!(
        d.feed(b"a", &mut out),
        Err(SseError::LineTooLong {
            limit: MAX_LINE_BYTES
        })
    );
}

#[test]
fn oversized_event_is_an_error() {
    let mut d = SseDecoder::with_limits(16, 20);
    let mut out = Vec::new();
    assert_eq!(d.feed(b"data: 0123456789\n", &mut out), Ok(()));
    assert_eq!(d.feed(b"data: 012345678\n", &mut out), Ok(()));
    assert_eq!(
        d.feed(b"data: x\n", &mut out),
        Err(SseError::EventTooLarge { limit: 20 })
    );
    assert!(out.is_empty());
}

#[test]
fn invalid_utf8_is_an_error_not_a_panic() {
    assert_eq!(
        decode(b"data: a\n\ndata: \xFF\n\n"),
        Err(SseError::InvalidUtf8 { line: 3 })
    );
    // Truncated multi-byte character at end of stream.
    assert_eq!(
        decode(b"data: \xE4\xB8"),
        Err(SseError::InvalidUtf8 { line: 1 })
    );
    let e: crate::core::Error = SseError::InvalidUtf8 { line: 1 }.into();
    assert!(matches!(e, crate::core::Error::Protocol(_)));
}

#[test]
fn many_tiny_events() {
    let input = "data:x\n\n".repeat(100_000);
    let got = decode(input.as_bytes()).unwrap_or_default();
    assert_eq!(got.len(), 100_000);
    assert!(got.iter().all(|e| e.data == "x"));
}

/// Bytes drawn from the pieces that matter for framing: line endings, BOM bytes, field names,
/// colons, multi-byte characters.
fn stream_bytes() -> impl Strategy<Value = Vec<u8>> {
    let atoms: Vec<&'static [u8]> = vec![
        b"\n",
        b"\r",
        b"\r\n",
        b"data",
        b"data:",
        b"data: ",
        b"event:",
        b"id:",
        b"retry:",
        b":",
        b" ",
        b"x",
        b"[DONE]",
        b"{\"a\":1}",
        "é".as_bytes(),
        "😀".as_bytes(),
        "中".as_bytes(),
        b"\xEF\xBB\xBF",
        b"\0",
    ];
    prop::collection::vec(prop::sample::select(atoms), 0..60).prop_map(|v| v.concat())
}

proptest! {
    #[test]
    fn any_split_gives_the_same_events(input in stream_bytes(), cuts in prop::collection::vec(0usize..400, 0..8)) {
        let whole = decode(&input);
        let mut points: Vec<usize> = cuts.into_iter().map(|c| c % (input.len() + 1)).collect();
        points.sort_unstable();
        let mut pieces = Vec::new();
        let mut start = 0;
        for p in points {
            pieces.push(&input[start..p]);
            start = p;
        }
        pieces.push(&input[start..]);
        prop_assert_eq!(decode_pieces(&pieces), whole.clone());
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        prop_assert_eq!(decode_pieces(&bytes), whole);
    }

    #[test]
    fn arbitrary_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..512), cut in 0usize..512) {
        let cut = cut % (input.len() + 1);
        prop_assert_eq!(decode_pieces(&[&input[..cut], &input[cut..]]), decode(&input));
    }
}
