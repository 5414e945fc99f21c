//! Where replies come from: the [`Responder`] trait, the built-in [`DemoResponder`]
//! (deterministic Markdown, no model) and the [`UpstreamResponder`](super::upstream::UpstreamResponder)
//! that relays an OpenAI-compatible server.
//!
//! A responder yields text deltas; the chat route frames them (JSON or SSE) and counts each
//! delta as one completion token. Dropping the stream stops generation.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{Stream, StreamExt as _};

use super::envelope::ApiError;
use crate::core::protocol::chat::ChatMessage;
use crate::core::token::BoxFuture;

/// A stream of text deltas; an `Err` item ends the reply with a mid-stream error.
pub type TextStream = Pin<Box<dyn Stream<Item = Result<String, ApiError>> + Send>>;

/// What a responder is asked.
#[derive(Debug, Clone)]
pub struct ReplyRequest {
    /// The model resolved for the request.
    pub model: String,
    /// The conversation.
    pub messages: Vec<ChatMessage>,
    /// The request body as sent (forwarded by the upstream responder).
    pub body: serde_json::Value,
}

/// Produces replies. Errors before the first delta become the HTTP answer.
pub trait Responder: Send + Sync {
    /// Starts a reply.
    fn reply(&self, request: ReplyRequest) -> BoxFuture<'static, Result<TextStream, ApiError>>;
}

/// The built-in responder: a fixed Markdown reply quoting the user's last message, streamed a
/// word at a time with `chunk_delay` between words.
#[derive(Debug, Clone, Default)]
pub struct DemoResponder {
    chunk_delay: Duration,
}

impl DemoResponder {
    /// A demo responder pausing `chunk_delay` between chunks (zero: as fast as the client reads).
    pub fn new(chunk_delay: Duration) -> Self {
        DemoResponder { chunk_delay }
    }

    /// A demo responder sending `rate` chunks per second (0: no pause).
    pub fn with_rate(rate: u32) -> Self {
        let delay = if rate == 0 {
            Duration::ZERO
        } else {
            Duration::from_secs(1) / rate
        };
        DemoResponder::new(delay)
    }
}

/// The longest quote of the user's message, in characters.
const MAX_QUOTE: usize = 2_000;

/// The demo reply to a conversation.
pub fn demo_text(messages: &[ChatMessage]) -> String {
    let last = messages
        .iter()
        .rev()
        .find(|m| m.role == "user")
        .map(|m| m.content.as_str())
        .unwrap_or("");
    let mut quote: String = last.chars().take(MAX_QUOTE).collect();
    if quote.trim().is_empty() {
        quote = "(nothing)".into();
    }
    let quoted: Vec<String> = quote.lines().map(|l| format!("> {l}")).collect();
    format!(
        "## Local demo gateway\n\n\
         This reply comes from the **Behest Desktop local demo gateway**, not from a model. You said:\n\n\
         {}\n\n\
         What this reply exercises:\n\n\
         - **Markdown**: a heading, this list, a table and a code block\n\
         - Inline math: $e^{{i\\pi}}+1=0$\n\
         - Unicode: café, naïve, 你好, 🚀\n\n\
         | Feature | Local gateway |\n\
         |---|---|\n\
         | Streaming | yes |\n\
         | Threads | yes |\n\n\
         ```rust\n\
         fn main() {{\n    println!(\"hello from the demo gateway\");\n}}\n\
         ```\n\n\
         Ask again and you get the same answer.",
        quoted.join("\n")
    )
}

/// Ends `text` after `max` deltas (the chat route counts each delta as one completion token), as
/// a model stops at `max_tokens`. The flag turns true when the cap cut the reply short (a further
/// delta was ready): the answer's `finish_reason` is then `length`.
pub fn capped(text: TextStream, max: u64) -> (TextStream, Arc<AtomicBool>) {
    let cut = Arc::new(AtomicBool::new(false));
    let state = (text, max, Arc::clone(&cut));
    let stream = futures_util::stream::unfold(state, |(mut text, left, flag)| async move {
        let item = text.next().await?;
        if left == 0 {
            // One more delta than allowed: the reply was cut (a later error no longer matters).
            if item.is_ok() {
                flag.store(true, Ordering::SeqCst);
            }
            return None;
        }
        Some((item, (text, left - 1, flag)))
    });
    (Box::pin(stream), cut)
}

/// Splits text into word-sized chunks (each keeps its trailing whitespace), so that joining them
/// gives the text back.
pub fn chunks(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut in_space = false;
    for ch in text.chars() {
        if !ch.is_whitespace() && in_space {
            out.push(std::mem::take(&mut current));
            in_space = false;
        }
        if ch.is_whitespace() {
            in_space = true;
        }
        current.push(ch);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

impl Responder for DemoResponder {
    fn reply(&self, request: ReplyRequest) -> BoxFuture<'static, Result<TextStream, ApiError>> {
        let pieces = chunks(&demo_text(&request.messages));
        let delay = self.chunk_delay;
        Box::pin(async move {
            let stream = futures_util::stream::unfold(
                (pieces.into_iter(), true),
                move |(mut it, first)| async move {
                    let piece = it.next()?;
                    if !first && !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    Some((Ok(piece), (it, false)))
                },
            );
            Ok(Box::pin(stream) as TextStream)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_text_quotes_the_last_user_message_and_is_markdown_rich() {
        let msgs = vec![
            ChatMessage::new("user", "first"),
            ChatMessage::new("assistant", "ok"),
            ChatMessage::new("user", "line one\nline two"),
        ];
        let t = demo_text(&msgs);
        assert!(t.contains("> line one\n> line two"));
        assert!(!t.contains("> first"));
        assert!(t.contains("local demo gateway"));
        for needle in [
            "## ",
            "- **",
            "| Feature |",
            "```rust",
            "$e^{i\\pi}+1=0$",
            "café",
        ] {
            assert!(t.contains(needle), "missing {needle}");
        }
        assert_eq!(t, demo_text(&msgs), "deterministic");
    }

    async fn collect_capped(pieces: &[&str], max: u64) -> (Result<Vec<String>, ApiError>, bool) {
        let items: Vec<Result<String, ApiError>> =
            pieces.iter().map(|p| Ok(p.to_string())).collect();
        let (stream, cut) = capped(Box::pin(futures_util::stream::iter(items)), max);
        let got: Vec<_> = stream.collect().await;
        (got.into_iter().collect(), cut.load(Ordering::SeqCst))
    }

    #[tokio::test]
    async fn a_cap_keeps_the_first_deltas_and_says_whether_it_cut() {
        assert_eq!(
            collect_capped(&["a ", "b ", "c"], 2).await,
            (Ok(vec!["a ".to_string(), "b ".to_string()]), true)
        );
        assert_eq!(
            collect_capped(&["a ", "b ", "c"], 3).await,
            (Ok(vec!["a ".into(), "b ".into(), "c".into()]), false),
            "a reply that fits exactly was not cut"
        );
        assert_eq!(
            collect_capped(&["a "], 10).await,
            (Ok(vec!["a ".to_string()]), false)
        );
    }

    #[test]
    fn chunks_join_back_to_the_text() {
        let t = demo_text(&[ChatMessage::new("user", "  spaced   out  ")]);
        let c = chunks(&t);
        assert!(c.len() > 20);
        assert_eq!(c.concat(), t);
    }

    #[tokio::test]
    async fn demo_stream_yields_every_chunk() {
        let r = DemoResponder::default();
        let req = ReplyRequest {
            model: "m".into(),
            messages: vec![ChatMessage::new("user", "hi")],
            body: serde_json::Value::Null,
        };
        let stream = r.reply(req).await;
        let Ok(stream) = stream else {
            panic!("demo responder failed")
        };
        let text: Vec<String> = stream.filter_map(|r| async move { r.ok() }).collect().await;
        assert_eq!(text.concat(), demo_text(&[ChatMessage::new("user", "hi")]));
    }
}
