//! Helpers shared by the `history_*` integration tests: every history lives in a temp dir.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use behest_desktop::core::history::{
    ChatParams, History, HistoryOptions, HistoryPaths, Message, Metrics, Outcome,
};
use behest_desktop::core::protocol::chat::Usage;

/// Opens the history in `dir` with the app's default options.
pub fn open(dir: &Path) -> History {
    History::open(HistoryPaths::in_dir(dir), HistoryOptions::default()).unwrap()
}

/// Parameters used by the seeded conversations.
pub fn params() -> ChatParams {
    ChatParams {
        model: Some("behest-small".into()),
        system_prompt: Some("Be brief.".into()),
        temperature: Some(0.7),
        max_tokens: Some(512),
    }
}

/// Records one exchange: `question`, then `answer` streamed in pieces, ended by `outcome`.
pub fn exchange(
    history: &History,
    conversation: Option<&str>,
    question: &str,
    answer: &str,
    outcome: Outcome,
) -> Message {
    let mut writer = history
        .begin_exchange_blocking(conversation, question, &params())
        .unwrap();
    for piece in answer.split_inclusive(' ') {
        writer.append(piece).unwrap();
    }
    writer.finish(outcome).unwrap()
}

/// Records one completed exchange (full metrics) in a new conversation.
pub fn completed(history: &History, question: &str, answer: &str) -> Message {
    exchange(
        history,
        None,
        question,
        answer,
        Outcome::Complete(metrics()),
    )
}

/// Complete-answer metrics with every field set.
pub fn metrics() -> Metrics {
    Metrics {
        usage: Some(Usage {
            prompt_tokens: 11,
            completion_tokens: 7,
            total_tokens: 18,
        }),
        ttft_ms: Some(123),
        tokens_per_second: Some(41.25),
        trace_id: Some("trace-abc".into()),
    }
}

/// Seeds three conversations covering every status, Unicode, and a server thread.
pub fn seed(history: &History) -> Vec<String> {
    let a = exchange(
        history,
        None,
        "How do lighthouses work?",
        "A lamp and a Fresnel lens focus light.",
        Outcome::Complete(metrics()),
    );
    exchange(
        history,
        Some(&a.conversation_id),
        "And foghorns?",
        "They sound when visibility drops",
        Outcome::Interrupted(Metrics::default()),
    );
    let b = exchange(
        history,
        None,
        "Übersetze: naïve café 東京",
        "Naiver Kaffee in Tōkyō 🚀",
        Outcome::Complete(Metrics::default()),
    );
    history
        .set_server_threads(&b.conversation_id, true)
        .unwrap();
    let c = exchange(
        history,
        None,
        "Quote \"this\" and 'that'",
        "partial ",
        Outcome::Error {
            kind: "rateLimited".into(),
            message: "rate limited: http 429: slow down".into(),
            metrics: Metrics {
                trace_id: Some("tr-429".into()),
                ..Metrics::default()
            },
        },
    );
    vec![a.conversation_id, b.conversation_id, c.conversation_id]
}

/// The SQLite header's `user_version` (bytes 60..64, big-endian) of a database file.
pub fn header_user_version(path: &Path) -> u32 {
    let bytes = std::fs::read(path).unwrap();
    u32::from_be_bytes([bytes[60], bytes[61], bytes[62], bytes[63]])
}
