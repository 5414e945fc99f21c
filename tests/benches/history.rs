//! History performance on 100,000 messages in 1,000 conversations (one of them 10,000
//! messages long): full-text search, opening the long conversation, listing, opening the file,
//! and appending streamed chunks (p50/p99/max printed from 50,000 timed appends, besides
//! criterion's mean).
//!
//! Run: `cargo bench -p behest-desktop-tests --bench history`. The database is built once per
//! run in a temp dir through the JSON import (one transaction).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use behest_desktop::core::history::export::{
    ConversationEntry, HistoryFile, MessageEntry, HISTORY_FORMAT, HISTORY_FORMAT_VERSION,
};
use behest_desktop::core::history::{
    format_ms, ChatParams, History, HistoryOptions, HistoryPaths, Metrics, Outcome, Role, Status,
};
use criterion::{criterion_group, criterion_main, Criterion};

const CONVERSATIONS: usize = 1_000;
const MESSAGES: usize = 100_000;
const LONG: usize = 10_000;

/// A small deterministic generator (xorshift64*), so every run builds the same database.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// 20,000 pronounceable words; drawn with a skew so a few are very common (like real text).
fn vocabulary() -> Vec<String> {
    let syllables = [
        "ka", "lo", "mi", "ter", "on", "sa", "ve", "ri", "du", "pen", "gal", "no", "chi", "ur",
        "bel", "tas",
    ];
    (0..20_000)
        .map(|i| {
            let mut w = String::new();
            let mut n = i + 16;
            while n > 0 {
                w.push_str(syllables[n % 16]);
                n /= 16;
            }
            w
        })
        .collect()
}

fn message_text(rng: &mut Rng, vocab: &[String], index: usize) -> String {
    let words = 10 + (rng.next() % 70) as usize;
    let mut text = String::with_capacity(words * 8);
    for _ in 0..words {
        let u = rng.unit();
        let w = &vocab[((u * u * u) * vocab.len() as f64) as usize];
        text.push_str(w);
        text.push(' ');
    }
    // Planted terms of known frequency: 5,000 messages and 100 messages.
    if index % 20 == 7 {
        text.push_str("zebra ");
    }
    if index % 1000 == 3 {
        text.push_str("lighthouse keeper");
    }
    text
}

/// Builds the database; returns the history and the id of the 10,000-message conversation.
fn build(dir: &std::path::Path) -> (History, String) {
    let start = Instant::now();
    let vocab = vocabulary();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let base = 1_780_000_000_000i64;
    let mut index = 0;
    let mut conversations = Vec::with_capacity(CONVERSATIONS);
    let per_short = (MESSAGES - LONG) / (CONVERSATIONS - 1);
    let extra = (MESSAGES - LONG) - per_short * (CONVERSATIONS - 1);
    for c in 0..CONVERSATIONS {
        let count = if c == 0 {
            LONG
        } else {
            per_short + usize::from(c <= extra)
        };
        let id = format!("00000000-0000-4000-8000-{c:012}");
        let mut messages = Vec::with_capacity(count);
        for m in 0..count {
            let at = base + (index as i64) * 1000;
            messages.push(MessageEntry {
                id: format!("{c:08}-{m:04}-4000-8000-000000000000"),
                role: if m % 2 == 0 {
                    Role::User
                } else {
                    Role::Assistant
                },
                content: message_text(&mut rng, &vocab, index),
                model: Some("behest-small".into()),
                created_at: format_ms(at),
                status: Status::Complete,
                error_kind: None,
                error_message: None,
                usage: None,
                ttft_ms: Some(120),
                tokens_per_second: Some(42.0),
                trace_id: None,
            });
            index += 1;
        }
        conversations.push(ConversationEntry {
            id,
            title: format!("Conversation {c}"),
            model: Some("behest-small".into()),
            system_prompt: None,
            temperature: Some(0.7),
            max_tokens: None,
            server_threads: false,
            server_thread_id: None,
            created_at: format_ms(base + c as i64),
            updated_at: format_ms(base + (index as i64) * 1000),
            messages,
        });
    }
    let file = HistoryFile {
        format: HISTORY_FORMAT.into(),
        version: HISTORY_FORMAT_VERSION,
        conversations,
    };
    let json = serde_json::to_string(&file).unwrap();
    let options = HistoryOptions {
        daily_backup: false,
        ..HistoryOptions::default()
    };
    let history = History::open(HistoryPaths::in_dir(dir), options).unwrap();
    let report = history.import_json(&json).unwrap();
    assert_eq!(report.messages_added as usize, MESSAGES);
    history.checkpoint().unwrap();
    let size = std::fs::metadata(dir.join("history.sqlite3"))
        .map(|m| m.len())
        .unwrap_or(0)
        + std::fs::metadata(dir.join("history.sqlite3-wal"))
            .map(|m| m.len())
            .unwrap_or(0);
    eprintln!(
        "built {MESSAGES} messages in {CONVERSATIONS} conversations in {:.1?} ({} MB on disk)",
        start.elapsed(),
        size >> 20
    );
    (history, "00000000-0000-4000-8000-000000000000".into())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Times every single append of `answers` streamed answers of `chunks` 24-byte chunks each,
/// in an existing conversation of `history`; prints p50/p99/p99.9/max.
fn append_latency(
    label: &str,
    history: &History,
    conversation: &str,
    answers: usize,
    chunks: usize,
) {
    let mut times = Vec::with_capacity(answers * chunks);
    for a in 0..answers {
        let mut writer = history
            .begin_exchange_blocking(Some(conversation), "bench question", &ChatParams::default())
            .unwrap();
        for n in 0..chunks {
            let chunk = format!("token{:06} word{:07} ", a, n);
            let t = Instant::now();
            writer.append(&chunk).unwrap();
            times.push(t.elapsed());
        }
        writer
            .finish(Outcome::Complete(Metrics::default()))
            .unwrap();
    }
    times.sort();
    eprintln!(
        "append_chunk [{label}] n={}: p50 {:?}, p99 {:?}, p99.9 {:?}, max {:?}",
        times.len(),
        percentile(&times, 0.50),
        percentile(&times, 0.99),
        percentile(&times, 0.999),
        times[times.len() - 1]
    );
}

fn benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let (history, long_id) = build(dir.path());
    let short_id = "00000000-0000-4000-8000-000000000500";

    let mut g = c.benchmark_group("history");
    g.sample_size(30);
    g.measurement_time(Duration::from_secs(3));
    for (name, query) in [
        ("search_rare_100_hits", "lighthouse"),
        ("search_planted_5000_hits", "zebra"),
        ("search_common_word_prefix", "lomi"),
        ("search_common_word_exact", "lomi "),
        ("search_two_terms", "zebra lighthouse"),
        ("search_prefix", "lightho"),
    ] {
        let hits = history.search(query, 50).unwrap().len();
        eprintln!("{name}: {query:?} returns {hits} hits (limit 50)");
        g.bench_function(name, |b| b.iter(|| history.search(query, 50).unwrap()));
    }
    g.bench_function("open_conversation_10000_messages", |b| {
        b.iter(|| {
            let c = history.get_conversation(&long_id).unwrap();
            assert_eq!(c.messages.len(), LONG);
            c
        })
    });
    g.bench_function("list_1000_conversations", |b| {
        b.iter(|| history.list_conversations().unwrap())
    });
    g.bench_function("append_chunk_default_batching", |b| {
        b.iter_custom(|iters| {
            let mut writer = history
                .begin_exchange_blocking(Some(short_id), "q", &ChatParams::default())
                .unwrap();
            let start = Instant::now();
            for n in 0..iters {
                writer.append(&format!("token word{n:014} ")).unwrap();
            }
            let elapsed = start.elapsed();
            writer
                .finish(Outcome::Complete(Metrics::default()))
                .unwrap();
            elapsed
        })
    });
    g.finish();

    append_latency(
        "default 250 ms / 4 KB batching",
        &history,
        short_id,
        25,
        2_000,
    );
    let every = History::open(
        HistoryPaths::in_dir(dir.path()),
        HistoryOptions {
            flush_bytes: 1,
            daily_backup: false,
            ..HistoryOptions::default()
        },
    )
    .unwrap();
    append_latency(
        "worst case: every chunk written",
        &every,
        short_id,
        10,
        1_000,
    );
    drop(every);

    let mut open = c.benchmark_group("history_open");
    open.sample_size(10);
    open.bench_function("open_100k_message_file", |b| {
        b.iter(|| {
            History::open(
                HistoryPaths::in_dir(dir.path()),
                HistoryOptions {
                    daily_backup: false,
                    ..HistoryOptions::default()
                },
            )
            .unwrap()
        })
    });
    open.finish();
}

criterion_group!(history_benches, benches);
criterion_main!(history_benches);
