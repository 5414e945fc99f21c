//! The upstream responder: forwards a chat to any OpenAI-compatible server (llama.cpp, Ollama,
//! vLLM, a hosted provider) and relays its streamed text, so the gateway can front a real model.
//!
//! Invariant: the upstream API key is a [`Secret`] sent only as that server's bearer; upstream
//! error bodies are never relayed verbatim (only their status).

use std::collections::VecDeque;

use bytes::Bytes;
use futures_util::{Stream, StreamExt as _};

use super::envelope::ApiError;
use super::responder::{ReplyRequest, Responder, TextStream};
use crate::core::redact::Secret;
use crate::core::token::BoxFuture;

/// Largest upstream SSE event buffered, in bytes.
const MAX_EVENT: usize = 4 * 1024 * 1024;

/// Relays an OpenAI-compatible server.
#[derive(Debug, Clone)]
pub struct UpstreamResponder {
    url: String,
    api_key: Option<Secret>,
    model: Option<String>,
    client: reqwest::Client,
}

/// The chat-completions URL of an upstream base: kept when it already ends in
/// `/chat/completions`, `+ /chat/completions` after `/v1`, else `+ /v1/chat/completions`.
pub fn completions_url(base: &str) -> String {
    let base = base.trim_end_matches('/');
    if base.ends_with("/chat/completions") {
        base.to_string()
    } else if base.ends_with("/v1") {
        format!("{base}/chat/completions")
    } else {
        format!("{base}/v1/chat/completions")
    }
}

impl UpstreamResponder {
    /// Forwards to `base` (e.g. `http://127.0.0.1:11434/v1`), with an optional bearer key and
    /// model override.
    pub fn new(base: &str, api_key: Option<Secret>, model: Option<String>) -> Self {
        UpstreamResponder {
            url: completions_url(base),
            api_key,
            model,
            client: reqwest::Client::builder()
                .connect_timeout(std::time::Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
        }
    }
}

impl Responder for UpstreamResponder {
    fn reply(&self, request: ReplyRequest) -> BoxFuture<'static, Result<TextStream, ApiError>> {
        let mut body = match request.body {
            serde_json::Value::Object(map) => map,
            _ => serde_json::Map::new(),
        };
        body.insert(
            "model".into(),
            self.model.clone().unwrap_or(request.model).into(),
        );
        body.insert(
            "messages".into(),
            serde_json::to_value(&request.messages).unwrap_or_default(),
        );
        body.insert("stream".into(), true.into());
        body.remove("stream_options");
        let mut call = self.client.post(&self.url).json(&body);
        if let Some(key) = &self.api_key {
            call = call.bearer_auth(key.expose());
        }
        Box::pin(async move {
            let response = call.send().await.map_err(|_| {
                ApiError::new(
                    axum::http::StatusCode::BAD_GATEWAY,
                    "server_error",
                    "upstream unreachable",
                )
            })?;
            let status = response.status();
            if !status.is_success() {
                return Err(ApiError::new(
                    axum::http::StatusCode::BAD_GATEWAY,
                    "server_error",
                    format!("upstream answered http {}", status.as_u16()),
                ));
            }
            Ok(Box::pin(relay(response.bytes_stream())) as TextStream)
        })
    }
}

struct Relay<S> {
    bytes: S,
    buffer: Vec<u8>,
    ready: VecDeque<Result<String, ApiError>>,
    done: bool,
}

/// Turns an upstream SSE byte stream into text deltas (`choices[0].delta.content`).
fn relay<S>(bytes: S) -> impl Stream<Item = Result<String, ApiError>> + Send
where
    S: Stream<Item = reqwest::Result<Bytes>> + Send + Unpin,
{
    let state = Relay {
        bytes,
        buffer: Vec::new(),
        ready: VecDeque::new(),
        done: false,
    };
    futures_util::stream::unfold(state, |mut s| async move {
        loop {
            if let Some(item) = s.ready.pop_front() {
                return Some((item, s));
            }
            if s.done {
                return None;
            }
            match s.bytes.next().await {
                Some(Ok(chunk)) => {
                    s.buffer.extend(chunk.iter().filter(|b| **b != b'\r'));
                    drain_events(&mut s);
                }
                Some(Err(_)) => {
                    s.done = true;
                    s.ready
                        .push_back(Err(ApiError::server("upstream stream broke")));
                }
                None => {
                    s.buffer.extend_from_slice(b"\n\n");
                    drain_events(&mut s);
                    s.done = true;
                }
            }
        }
    })
}

fn drain_events<S>(s: &mut Relay<S>) {
    while let Some(end) = s.buffer.windows(2).position(|w| w == b"\n\n") {
        let event: Vec<u8> = s.buffer.drain(..end + 2).collect();
        let text = String::from_utf8_lossy(&event);
        let data: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(|d| d.strip_prefix(' ').unwrap_or(d))
            .collect();
        if data.is_empty() {
            continue;
        }
        let payload = data.join("\n");
        if payload.trim() == "[DONE]" {
            s.done = true;
            return;
        }
        match serde_json::from_str::<serde_json::Value>(&payload) {
            Ok(v) if v.get("error").is_some() => {
                s.ready.push_back(Err(ApiError::server(
                    "upstream reported an error mid-stream",
                )));
                s.done = true;
                return;
            }
            Ok(v) => {
                if let Some(text) = v
                    .pointer("/choices/0/delta/content")
                    .and_then(|c| c.as_str())
                {
                    if !text.is_empty() {
                        s.ready.push_back(Ok(text.to_string()));
                    }
                }
            }
            Err(_) => {
                s.ready
                    .push_back(Err(ApiError::server("upstream sent malformed json")));
                s.done = true;
                return;
            }
        }
    }
    if s.buffer.len() > MAX_EVENT {
        s.ready
            .push_back(Err(ApiError::server("upstream event too large")));
        s.done = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_urls() {
        assert_eq!(
            completions_url("http://h:1/v1/"),
            "http://h:1/v1/chat/completions"
        );
        assert_eq!(
            completions_url("http://h:1"),
            "http://h:1/v1/chat/completions"
        );
        assert_eq!(
            completions_url("http://h/v1/chat/completions"),
            "http://h/v1/chat/completions"
        );
    }

    #[tokio::test]
    async fn relays_deltas_across_odd_splits() {
        let raw = "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\r\n\r\ndata: {\"choices\":[{\"delta\":{\"content\":\"Hé\"}}]}\n\n: ping\n\ndata:{\"choices\":[{\"delta\":{\"content\":\"llo\"}}]}\n\ndata: [DONE]\n\n";
        let bytes = raw.as_bytes();
        let parts: Vec<reqwest::Result<Bytes>> = bytes
            .chunks(7)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let out: Vec<Result<String, ApiError>> =
            relay(futures_util::stream::iter(parts)).collect().await;
        let text: String = out.into_iter().filter_map(Result::ok).collect();
        assert_eq!(text, "Héllo");
    }
}
