//! SSE framing of a chat reply (§6.2) and the stream fault knobs.
//!
//! A producer task writes events into a one-slot channel that the response body drains, so
//! generation runs only as fast as the client reads; when the client goes away the channel
//! closes, generation stops, and only the deltas already handed over are counted.
//! Frames: role delta first, content deltas, `finish_reason` on the last content chunk, an
//! optional usage chunk (`choices: []`), then `data: [DONE]`.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;
use tokio::sync::mpsc;

use super::chat::{Completion, Finisher, StreamFault};
use super::conn::ResetSwitch;
use super::faults::Fault;
use super::responder::TextStream;
use crate::core::protocol::chat::{ChatChunk, ChunkChoice, Delta, Usage};

/// Pause between the two writes of a split event, so they leave as separate TCP segments.
const SPLIT_PAUSE: Duration = Duration::from_millis(3);

type Frame = Result<Bytes, std::io::Error>;

/// The client went away (or a fault ended the stream); stop producing.
struct Stop;

struct Writer {
    tx: mpsc::Sender<Frame>,
    shutdown: tokio_util::sync::CancellationToken,
    fault: Fault,
    /// The connection's switch, for a real reset (none: the body is aborted instead).
    reset: Option<ResetSwitch>,
    sent: usize,
    utf8_split_done: bool,
}

impl Writer {
    async fn raw(&self, bytes: Vec<u8>) -> Result<(), Stop> {
        self.tx.send(Ok(Bytes::from(bytes))).await.map_err(|_| Stop)
    }

    async fn split(&self, frame: Vec<u8>, at: usize) -> Result<(), Stop> {
        let (a, b) = frame.split_at(at.min(frame.len()));
        self.raw(a.to_vec()).await?;
        tokio::time::sleep(SPLIT_PAUSE).await;
        self.raw(b.to_vec()).await
    }

    fn frame(&self, payload: &str) -> Vec<u8> {
        let end = if self.fault.crlf { "\r\n\r\n" } else { "\n\n" };
        format!("data: {payload}{end}").into_bytes()
    }

    /// Sends one `data:` event, applying the fault knobs first.
    async fn event(&mut self, payload: &str) -> Result<(), Stop> {
        let f = &self.fault;
        if f.stall_after.is_some_and(|n| self.sent >= n) {
            tokio::select! {
                () = self.tx.closed() => {}
                () = self.shutdown.cancelled() => {}
            }
            return Err(Stop);
        }
        if f.reset_after.is_some_and(|n| self.sent >= n) {
            // Trip the connection first, so the abort below closes it with RST, not FIN.
            if let Some(reset) = &self.reset {
                reset.trip();
            }
            // An error item makes hyper abort the connection mid-body.
            let _ = self
                .tx
                .send(Err(std::io::Error::other("injected reset")))
                .await; // ends the stream either way
            return Err(Stop);
        }
        if f.malformed_after.is_some_and(|n| self.sent >= n) {
            self.raw(self.frame("{\"choices\": [malformed")).await?;
            return Err(Stop);
        }
        if f.error_after.is_some_and(|n| self.sent >= n) {
            let error =
                r#"{"error":{"code":"server_error","message":"injected mid-stream error"}}"#;
            self.raw(self.frame(error)).await?;
            return Err(Stop);
        }
        if f.keep_alive {
            let comment = if f.crlf {
                ": keep-alive\r\n\r\n"
            } else {
                ": keep-alive\n\n"
            };
            self.raw(comment.as_bytes().to_vec()).await?;
        }
        let frame = self.frame(payload);
        if f.split_utf8 && !self.utf8_split_done {
            if let Some(i) = frame.iter().position(|b| *b >= 0xC0) {
                self.utf8_split_done = true;
                self.sent += 1;
                return self.split(frame, i + 1).await;
            }
        }
        self.sent += 1;
        if f.split_events {
            let mid = frame.len() / 2;
            return self.split(frame, mid).await;
        }
        self.raw(frame).await
    }
}

fn chunk(c: &Completion, delta: Delta, finish: Option<&str>) -> String {
    let chunk = ChatChunk {
        id: c.id.clone(),
        object: "chat.completion.chunk".into(),
        created: c.created,
        model: c.model.clone(),
        choices: vec![ChunkChoice {
            index: 0,
            delta,
            finish_reason: finish.map(str::to_string),
        }],
        usage: None,
    };
    serde_json::to_string(&chunk).unwrap_or_default()
}

async fn produce(mut w: Writer, c: Completion, mut text: TextStream, finisher: Finisher) {
    let mut sent_text = String::new();
    let mut tokens = 0u64;
    let _ = run(&mut w, &c, &mut text, &mut sent_text, &mut tokens).await; // Stop only ends the stream
    finisher.finish(&sent_text, tokens);
}

async fn run(
    w: &mut Writer,
    c: &Completion,
    text: &mut TextStream,
    sent: &mut String,
    tokens: &mut u64,
) -> Result<(), Stop> {
    w.event(&chunk(
        c,
        Delta {
            role: Some("assistant".into()),
            content: Some(String::new()),
        },
        None,
    ))
    .await?;
    let mut pending: Option<String> = None;
    loop {
        let next = tokio::select! {
            next = text.next() => next,
            () = w.tx.closed() => return Err(Stop),
            () = w.shutdown.cancelled() => return Err(Stop),
        };
        match next {
            Some(Ok(piece)) => {
                if let Some(prev) = pending.replace(piece) {
                    w.event(&chunk(
                        c,
                        Delta {
                            role: None,
                            content: Some(prev.clone()),
                        },
                        None,
                    ))
                    .await?;
                    sent.push_str(&prev);
                    *tokens += 1;
                }
            }
            Some(Err(e)) => {
                if let Some(prev) = pending.take() {
                    w.event(&chunk(
                        c,
                        Delta {
                            role: None,
                            content: Some(prev.clone()),
                        },
                        None,
                    ))
                    .await?;
                    sent.push_str(&prev);
                    *tokens += 1;
                }
                let error = serde_json::json!({"error": {"code": e.code, "message": e.message}});
                w.event(&error.to_string()).await?;
                return Err(Stop);
            }
            None => break,
        }
    }
    let last = pending.take();
    w.event(&chunk(
        c,
        Delta {
            role: None,
            content: last.clone(),
        },
        Some(c.finish_reason()),
    ))
    .await?;
    if let Some(last) = last {
        sent.push_str(&last);
        *tokens += 1;
    }
    if c.include_usage {
        let usage = Usage {
            prompt_tokens: c.prompt_tokens,
            completion_tokens: *tokens,
            total_tokens: c.prompt_tokens + *tokens,
        };
        let chunk = ChatChunk {
            id: c.id.clone(),
            object: "chat.completion.chunk".into(),
            created: c.created,
            model: c.model.clone(),
            choices: vec![],
            usage: Some(usage),
        };
        w.event(&serde_json::to_string(&chunk).unwrap_or_default())
            .await?;
    }
    if !w.fault.omit_done {
        w.raw(w.frame(crate::core::protocol::sse::DONE)).await?;
    }
    Ok(())
}

/// The streaming answer: 200, `text/event-stream`, events produced by a background task.
pub fn sse_response(
    c: Completion,
    text: TextStream,
    fault: Option<StreamFault>,
    finisher: Finisher,
    shutdown: tokio_util::sync::CancellationToken,
) -> Response {
    let (tx, rx) = mpsc::channel::<Frame>(1);
    let (fault, reset) = fault.map_or((Fault::default(), None), |f| (f.fault, f.reset));
    let writer = Writer {
        tx,
        shutdown,
        fault,
        reset,
        sent: 0,
        utf8_split_done: false,
    };
    tokio::spawn(produce(writer, c, text, finisher));
    let body =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|f| (f, rx)) });
    let mut response = (StatusCode::OK, Body::from_stream(body)).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
