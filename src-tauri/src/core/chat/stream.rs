//! The stream driver: turns an answer body into [`ChatEvent`]s pushed into a sink, and into a
//! [`ChatOutcome`] at the end.
//!
//! Every read is raced against the cancellation token and the idle timeout. A stream that ends
//! with neither `[DONE]` nor a finish reason (reset, early close, idle timeout) is
//! [`ChatStatus::Interrupted`] with its text kept; it is never re-sent from here. A `{"error":…}`
//! event fails the send with [`Error::StreamError`], keeping the text delivered before it. Data
//! after `[DONE]` is ignored. The body source is any byte stream, so tests can drive it without
//! a network.

use std::time::Duration;

use tokio::time::Instant;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use super::{ChatEvent, ChatFailure, ChatOutcome, ChatStatus, InterruptReason, SinkClosed};
use crate::core::protocol::chat::{ChunkChoice, Usage};
use crate::core::protocol::errors::classify_stream_error;
use crate::core::protocol::sse::{SseDecoder, SseEvent, DONE};
use crate::core::redact::excerpt;
use crate::core::Error;

/// How long, and how many bytes, the driver keeps reading after `[DONE]` so the connection can
/// be reused; past either the connection is simply dropped.
const DRAIN_TIME: Duration = Duration::from_millis(250);
const DRAIN_BYTES: usize = 64 << 10;
/// The longest excerpt of a bad payload kept in an error.
const EXCERPT: usize = 200;

/// What the driver needs to know about the send.
pub(crate) struct StreamContext {
    /// When the send started (for time to first token).
    pub started: Instant,
    /// `X-Trace-Id` of the answer.
    pub trace_id: Option<String>,
    /// The answer's HTTP status (a 2xx).
    pub http_status: u16,
    /// Longest silence between two reads.
    pub idle_timeout: Duration,
    /// Largest non-streaming body.
    pub max_body_bytes: usize,
}

/// One chunk as the driver reads it: lenient about everything it does not use.
#[derive(Deserialize)]
struct WireChunk {
    #[serde(default)]
    choices: Option<Vec<ChunkChoice>>,
    #[serde(default)]
    usage: Option<Usage>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

/// A non-streaming answer, read leniently.
#[derive(Deserialize)]
struct WireCompletion {
    #[serde(default)]
    choices: Vec<WireChoice>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct WireChoice {
    #[serde(default)]
    message: Option<WireMessage>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct WireMessage {
    #[serde(default)]
    content: Option<String>,
}

/// What reading one event led to.
enum Step {
    Continue,
    Done,
    Stop(End),
}

/// Why the driver stops early.
enum End {
    Cancelled,
    Failed(Error),
}

/// Text, timings and counts gathered so far, and the sink.
struct Collector<'a, F> {
    ctx: StreamContext,
    sink: &'a mut F,
    text: String,
    finish_reason: Option<String>,
    usage: Option<Usage>,
    first_text: Option<Instant>,
    deltas: u64,
}

impl<'a, F> Collector<'a, F>
where
    F: FnMut(ChatEvent) -> Result<(), SinkClosed>,
{
    fn new(ctx: StreamContext, sink: &'a mut F) -> Self {
        Collector {
            ctx,
            sink,
            text: String::new(),
            finish_reason: None,
            usage: None,
            first_text: None,
            deltas: 0,
        }
    }

    fn emit(&mut self, event: ChatEvent) -> Result<(), End> {
        (self.sink)(event).map_err(|SinkClosed| End::Cancelled)
    }

    fn text(&mut self, text: String) -> Result<(), End> {
        if text.is_empty() {
            return Ok(());
        }
        self.first_text.get_or_insert_with(Instant::now);
        self.deltas += 1;
        self.text.push_str(&text);
        self.emit(ChatEvent::Delta { text })
    }

    fn usage(&mut self, usage: Usage) -> Result<(), End> {
        self.usage = Some(usage);
        self.emit(ChatEvent::Usage(usage))
    }

    fn event(&mut self, event: SseEvent) -> Step {
        if event.data == DONE {
            return Step::Done;
        }
        let chunk: WireChunk = match serde_json::from_str(&event.data) {
            Ok(chunk) => chunk,
            Err(e) => {
                let what = format!("bad stream chunk ({e}): {}", excerpt(&event.data, EXCERPT));
                return Step::Stop(End::Failed(Error::Protocol(what)));
            }
        };
        if let Some(error) = chunk.error.filter(|e| !e.is_null()) {
            let payload = serde_json::json!({ "error": error });
            let error = classify_stream_error(&payload)
                .unwrap_or_else(|| Error::Protocol("unreadable stream error".into()));
            return Step::Stop(End::Failed(error));
        }
        for choice in chunk.choices.unwrap_or_default() {
            if choice.index != 0 {
                continue;
            }
            if let Some(text) = choice.delta.content {
                if let Err(end) = self.text(text) {
                    return Step::Stop(end);
                }
            }
            if choice.finish_reason.is_some() {
                self.finish_reason = choice.finish_reason;
            }
        }
        if let Some(usage) = chunk.usage {
            if let Err(end) = self.usage(usage) {
                return Step::Stop(end);
            }
        }
        Step::Continue
    }

    /// Time to first text, and output tokens per second after the first one (from `usage`
    /// when sent, else counted deltas).
    fn metrics(&self) -> (Option<Duration>, Option<f64>) {
        let ttft = self.first_text.map(|t| t.duration_since(self.ctx.started));
        let tokens_per_second = self.first_text.and_then(|first| {
            let secs = first.elapsed().as_secs_f64();
            let tokens = self.usage.map_or(self.deltas, |u| u.completion_tokens);
            (secs > 0.0 && tokens > 1).then(|| (tokens - 1) as f64 / secs)
        });
        (ttft, tokens_per_second)
    }

    fn outcome(self, status: ChatStatus) -> ChatOutcome {
        let (ttft, tokens_per_second) = self.metrics();
        ChatOutcome {
            text: self.text,
            finish_reason: self.finish_reason,
            usage: self.usage,
            ttft,
            tokens_per_second,
            trace_id: self.ctx.trace_id,
            status,
            http_status: Some(self.ctx.http_status),
        }
    }

    /// Ends the send: a `Done` event (or `Interrupted`, when the stream broke before a finish
    /// reason), then the outcome.
    fn finish(mut self, broken: Option<InterruptReason>) -> Result<ChatOutcome, ChatFailure> {
        let (status, event) = match broken.filter(|_| self.finish_reason.is_none()) {
            Some(reason) => (
                ChatStatus::Interrupted { reason },
                ChatEvent::Interrupted {
                    reason,
                    partial_text_len: self.text.len(),
                },
            ),
            None => {
                let (ttft, tokens_per_second) = self.metrics();
                let done = ChatEvent::Done {
                    finish_reason: self.finish_reason.clone(),
                    ttft,
                    tokens_per_second,
                    trace_id: self.ctx.trace_id.clone(),
                };
                (ChatStatus::Completed, done)
            }
        };
        if self.emit(event).is_err() {
            return Ok(self.outcome(ChatStatus::Cancelled));
        }
        Ok(self.outcome(status))
    }

    fn stop(self, end: End, cancel: &CancellationToken) -> Result<ChatOutcome, ChatFailure> {
        match end {
            End::Cancelled => {
                cancel.cancel();
                Ok(self.outcome(ChatStatus::Cancelled))
            }
            End::Failed(error) => Err(ChatFailure {
                error,
                text: self.text,
                trace_id: self.ctx.trace_id,
            }),
        }
    }
}

/// Drives an SSE answer body to its end.
pub(crate) async fn drive<S, E, F>(
    mut body: S,
    ctx: StreamContext,
    cancel: &CancellationToken,
    sink: &mut F,
) -> Result<ChatOutcome, ChatFailure>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::error::Error + 'static,
    F: FnMut(ChatEvent) -> Result<(), SinkClosed>,
{
    let idle = ctx.idle_timeout;
    let mut c = Collector::new(ctx, sink);
    let mut decoder = SseDecoder::new();
    let mut events = Vec::new();
    loop {
        let read = tokio::select! {
            biased;
            _ = cancel.cancelled() => return c.stop(End::Cancelled, cancel),
            r = tokio::time::timeout(idle, body.next()) => r,
        };
        let eof = match read {
            Err(_) => return c.finish(Some(InterruptReason::IdleTimeout)),
            Ok(Some(Err(e))) if is_timeout(&e) => {
                return c.finish(Some(InterruptReason::IdleTimeout))
            }
            Ok(Some(Err(_))) => return c.finish(Some(InterruptReason::ConnectionLost)),
            Ok(Some(Ok(bytes))) => decoder.feed(&bytes, &mut events).map(|()| false),
            Ok(None) => decoder.finish(&mut events).map(|()| true),
        };
        let eof = match eof {
            Ok(eof) => eof,
            Err(e) => return c.stop(End::Failed(e.into()), cancel),
        };
        for event in events.drain(..) {
            match c.event(event) {
                Step::Continue => {}
                Step::Done => {
                    let result = c.finish(None);
                    drain(&mut body, cancel).await;
                    return result;
                }
                Step::Stop(end) => return c.stop(end, cancel),
            }
        }
        if eof {
            return c.finish(Some(InterruptReason::EarlyClose));
        }
    }
}

/// Whether a body read failed because the HTTP client's own read timeout fired.
fn is_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(err) = cause {
        if err
            .downcast_ref::<reqwest::Error>()
            .is_some_and(reqwest::Error::is_timeout)
            || err
                .downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
        {
            return true;
        }
        cause = err.source();
    }
    false
}

/// Reads what follows `[DONE]` (normally just the end of the body) so the connection can be
/// reused, within [`DRAIN_TIME`] and [`DRAIN_BYTES`].
async fn drain<S, E>(body: &mut S, cancel: &CancellationToken)
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    let deadline = tokio::time::Instant::now() + DRAIN_TIME;
    let mut seen = 0usize;
    while seen <= DRAIN_BYTES {
        let read = tokio::select! {
            biased;
            _ = cancel.cancelled() => return,
            r = tokio::time::timeout_at(deadline, body.next()) => r,
        };
        match read {
            Ok(Some(Ok(bytes))) => seen += bytes.len(),
            _ => return,
        }
    }
}

/// Reads a non-streaming answer whole (bounded, every read raced) and reports it as one delta.
pub(crate) async fn whole<S, E, F>(
    mut body: S,
    ctx: StreamContext,
    cancel: &CancellationToken,
    sink: &mut F,
) -> Result<ChatOutcome, ChatFailure>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::error::Error + 'static,
    F: FnMut(ChatEvent) -> Result<(), SinkClosed>,
{
    let idle = ctx.idle_timeout;
    let limit = ctx.max_body_bytes;
    let mut c = Collector::new(ctx, sink);
    let mut raw = Vec::new();
    loop {
        let read = tokio::select! {
            biased;
            _ = cancel.cancelled() => return c.stop(End::Cancelled, cancel),
            r = tokio::time::timeout(idle, body.next()) => r,
        };
        let error = match read {
            Ok(None) => break,
            Ok(Some(Ok(bytes))) if raw.len() + bytes.len() <= limit => {
                raw.extend_from_slice(&bytes);
                continue;
            }
            Ok(Some(Ok(_))) => Error::Protocol(format!("the answer is larger than {limit} bytes")),
            Ok(Some(Err(e))) => Error::Network(super::client::describe(&e)),
            Err(_) => Error::Timeout(format!("the answer stalled for {idle:?}")),
        };
        return c.stop(End::Failed(error), cancel);
    }
    let completion: WireCompletion = match serde_json::from_slice(&raw) {
        Ok(completion) => completion,
        Err(e) => {
            let text = String::from_utf8_lossy(&raw);
            let what = format!("bad chat answer ({e}): {}", excerpt(&text, EXCERPT));
            return c.stop(End::Failed(Error::Protocol(what)), cancel);
        }
    };
    let choice = completion.choices.into_iter().next();
    let finish_reason = choice.as_ref().and_then(|ch| ch.finish_reason.clone());
    let text = choice
        .and_then(|ch| ch.message)
        .and_then(|m| m.content)
        .unwrap_or_default();
    if let Err(end) = c.text(text) {
        return c.stop(end, cancel);
    }
    if let Some(usage) = completion.usage {
        if let Err(end) = c.usage(usage) {
            return c.stop(end, cancel);
        }
    }
    c.finish_reason = finish_reason;
    c.finish(None)
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
