//! SSE decoding throughput on a recorded-style 100,000-event chat stream: our decoder beside
//! `eventsource-stream`, in the same run, on the same bytes split into 16 KiB reads (about what a
//! socket read hands over).
//!
//! Run: `cargo bench -p behest-desktop-tests --bench sse`. Criterion reports MB/s (throughput in
//! bytes); events/s = 100,000 / time per iteration.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use behest_desktop::core::protocol::sse::{encode_comment, encode_data, SseDecoder, DONE};
use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use eventsource_stream::Eventsource;
use futures_util::StreamExt;

const EVENTS: usize = 100_000;
const READ: usize = 16 << 10;

/// A deterministic chat stream: 99,998 content chunks (words from a fixed list, some
/// multi-byte), a keep-alive every 50 events, one usage chunk and `[DONE]`.
fn recorded_stream() -> Vec<u8> {
    let words = [
        "Hello", " world", ",", " the", " quick", " brown", " fox", " café", " 你好", " 🚀", "\n",
        " jumps",
    ];
    let mut s = String::with_capacity(EVENTS * 200);
    for i in 0..EVENTS - 2 {
        if i % 50 == 49 {
            s.push_str(&encode_comment("keep-alive"));
        }
        let word = words[i % words.len()];
        let chunk = serde_json::json!({
            "id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1_790_000_000u64,
            "model": "behest-local-demo",
            "choices": [{"index": 0, "delta": {"content": word}, "finish_reason": null}],
        });
        s.push_str(&encode_data(&chunk.to_string()));
    }
    s.push_str(&encode_data(
        r#"{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1790000000,"model":"behest-local-demo","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":99998,"total_tokens":100010}}"#,
    ));
    s.push_str(&encode_data(DONE));
    s.into_bytes()
}

fn ours(reads: &[Bytes]) -> usize {
    let mut d = SseDecoder::new();
    let mut out = Vec::with_capacity(256);
    let mut n = 0;
    for r in reads {
        d.feed(r, &mut out).unwrap();
        n += out.len();
        out.clear();
    }
    d.finish(&mut out).unwrap();
    n + out.len()
}

fn theirs(rt: &tokio::runtime::Runtime, reads: &[Bytes]) -> usize {
    let body = futures_util::stream::iter(reads.iter().cloned().map(Ok::<_, std::io::Error>));
    rt.block_on(
        body.eventsource()
            .filter(|e| std::future::ready(e.is_ok()))
            .count(),
    )
}

fn bench(c: &mut Criterion) {
    let stream = recorded_stream();
    let reads: Vec<Bytes> = stream.chunks(READ).map(Bytes::copy_from_slice).collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(ours(&reads), EVENTS);
    assert_eq!(theirs(&rt, &reads), EVENTS);
    eprintln!(
        "stream: {} bytes, {} events, {} reads",
        stream.len(),
        EVENTS,
        reads.len()
    );

    let mut group = c.benchmark_group("sse_decode_100k_events");
    group.throughput(Throughput::Bytes(stream.len() as u64));
    group.sample_size(20);
    group.bench_with_input(
        BenchmarkId::new("behest_decoder", READ),
        &reads,
        |b, reads| b.iter(|| ours(reads)),
    );
    group.bench_with_input(
        BenchmarkId::new("eventsource_stream", READ),
        &reads,
        |b, reads| b.iter(|| theirs(&rt, reads)),
    );
    group.finish();

    let mut group = c.benchmark_group("sse_decode_100k_events_per_event");
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.sample_size(20);
    group.bench_with_input(
        BenchmarkId::new("behest_decoder", READ),
        &reads,
        |b, reads| b.iter(|| ours(reads)),
    );
    group.bench_with_input(
        BenchmarkId::new("eventsource_stream", READ),
        &reads,
        |b, reads| b.iter(|| theirs(&rt, reads)),
    );
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
