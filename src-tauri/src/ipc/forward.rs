//! Delivers a chat's events to the page's Channel, merging text deltas that pile up.
//!
//! Why: every Channel message under 8 KB is a script Tauri evaluates in the webview, and each
//! evaluation costs the page's process CPU and memory (measured: 60 one-exchange chats grew
//! WebKitWebProcess by ~50 MB with a message per delta, ~38 MB without the deltas). At full
//! speed a reply arrives as hundreds of word-sized deltas; one message per animation frame is all
//! the page can show. So the forwarder sends at most one message per `min_gap`: deltas that
//! arrive in the meantime are joined into one, every other event keeps its place, and nothing is
//! dropped or reordered. A delta arriving after a quiet spell goes out at once (no added latency
//! at a human reading pace).
//!
//! Invariant: the concatenation of the delivered deltas equals the concatenation of the
//! received ones, and non-delta events are delivered in order relative to the text.

use std::time::Duration;

use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::Instant;

use crate::core::chat::ChatEvent;

/// The shortest time between two Channel messages (at most 250 a second).
pub const MIN_GAP: Duration = Duration::from_millis(4);

/// Joins consecutive `Delta`s of `batch` (in order) into one.
pub fn merge_deltas(batch: Vec<ChatEvent>) -> Vec<ChatEvent> {
    let mut out: Vec<ChatEvent> = Vec::with_capacity(batch.len());
    for event in batch {
        match (out.last_mut(), event) {
            (Some(ChatEvent::Delta { text: last }), ChatEvent::Delta { text }) => {
                last.push_str(&text)
            }
            (_, event) => out.push(event),
        }
    }
    out
}

/// Forwards events from `rx` to `send` until `rx` closes (the chat ended) or `send` fails (the
/// page is gone: `rx` is dropped, so the chat's next event fails and the chat stops). Returns
/// how many messages `send` accepted.
pub async fn forward<S>(mut rx: UnboundedReceiver<ChatEvent>, mut send: S, min_gap: Duration) -> u32
where
    S: FnMut(ChatEvent) -> Result<(), ()>,
{
    let mut sent = 0u32;
    let mut last_send: Option<Instant> = None;
    while let Some(first) = rx.recv().await {
        if let Some(at) = last_send {
            // Let the text that arrives meanwhile join this message.
            tokio::time::sleep_until(at + min_gap).await;
        }
        let mut batch = vec![first];
        while let Ok(next) = rx.try_recv() {
            batch.push(next);
        }
        for event in merge_deltas(batch) {
            if send(event).is_err() {
                return sent;
            }
            sent += 1;
        }
        last_send = Some(Instant::now());
    }
    sent
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn delta(t: &str) -> ChatEvent {
        ChatEvent::Delta { text: t.into() }
    }

    #[test]
    fn deltas_join_and_other_events_keep_their_place() {
        let started = ChatEvent::Started { trace_id: None };
        let done = ChatEvent::Done {
            finish_reason: Some("stop".into()),
            ttft: None,
            tokens_per_second: None,
            trace_id: None,
        };
        let merged = merge_deltas(vec![
            started.clone(),
            delta("a"),
            delta("b "),
            delta("c"),
            done.clone(),
        ]);
        assert_eq!(merged, vec![started, delta("ab c"), done]);
        assert_eq!(merge_deltas(vec![]), vec![]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_becomes_few_messages_and_nothing_is_lost() {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let (out_tx, mut out_rx) = tokio::sync::mpsc::unbounded_channel();
        let forwarder = tokio::spawn(forward(
            rx,
            move |e| out_tx.send(e).map_err(|_| ()),
            MIN_GAP,
        ));
        tx.send(ChatEvent::Started { trace_id: None }).unwrap();
        let words: Vec<String> = (0..1000).map(|i| format!("w{i} ")).collect();
        for w in &words {
            tx.send(delta(w)).unwrap();
            if w.ends_with("0 ") {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        drop(tx);
        let sent = forwarder.await.unwrap();
        let mut got = Vec::new();
        while let Ok(e) = out_rx.try_recv() {
            got.push(e);
        }
        assert_eq!(got.len() as u32, sent);
        assert_eq!(got.first(), Some(&ChatEvent::Started { trace_id: None }));
        let text: String = got
            .iter()
            .filter_map(|e| match e {
                ChatEvent::Delta { text } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(text, words.concat());
        assert!(
            sent < 60,
            "1,000 deltas over ~100 ms went out in {sent} messages"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_lone_delta_goes_out_at_once() {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let (out_tx, mut out_rx) = tokio::sync::mpsc::unbounded_channel();
        let _forwarder = tokio::spawn(forward(
            rx,
            move |e| out_tx.send(e).map_err(|_| ()),
            MIN_GAP,
        ));
        let start = Instant::now();
        tx.send(delta("first")).unwrap();
        assert_eq!(out_rx.recv().await, Some(delta("first")));
        assert_eq!(start.elapsed(), Duration::ZERO);
        // After a quiet spell longer than the gap, the next one does not wait either.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let again = Instant::now();
        tx.send(delta("second")).unwrap();
        assert_eq!(out_rx.recv().await, Some(delta("second")));
        assert_eq!(again.elapsed(), Duration::ZERO);
    }

    #[tokio::test]
    async fn a_closed_page_stops_the_forwarder_and_the_sender_sees_it() {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let sent = forward(rx, |_| Err(()), MIN_GAP);
        tx.send(delta("x")).unwrap();
        assert_eq!(sent.await, 0);
        assert!(tx.send(delta("y")).is_err(), "the chat's next event fails");
    }

    proptest! {
        #[test]
        fn merging_keeps_the_text_and_the_order(
            items in prop::collection::vec(prop_oneof![
                ".{0,6}".prop_map(|t| ChatEvent::Delta { text: t }),
                Just(ChatEvent::Started { trace_id: None }),
            ], 0..40)
        ) {
            let text = |v: &[ChatEvent]| -> String {
                v.iter().filter_map(|e| match e {
                    ChatEvent::Delta { text } => Some(text.as_str()),
                    _ => None,
                }).collect()
            };
            let others = |v: &[ChatEvent]| v.iter().filter(|e| !matches!(e, ChatEvent::Delta { .. })).count();
            let merged = merge_deltas(items.clone());
            prop_assert_eq!(text(&merged), text(&items));
            prop_assert_eq!(others(&merged), others(&items));
            let is_delta = |e: &ChatEvent| matches!(e, ChatEvent::Delta { .. });
            let adjacent = merged.windows(2).any(|w| is_delta(&w[0]) && is_delta(&w[1]));
            prop_assert!(!adjacent, "two deltas left side by side");
        }
    }
}
