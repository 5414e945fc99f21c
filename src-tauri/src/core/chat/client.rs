//! Builds and sends `POST /v1/chat/completions`, applying the retry policy until an answer
//! starts, then hands the answer to the stream driver.
//!
//! Headers: `Authorization` from the [`TokenSource`]'s [`Bearer`] (marked sensitive),
//! `X-Session-Id` (the send's, else the bearer's), `X-Thread-Id` when given, and the configured
//! extra headers for gateways in front of Behest. Never `X-Tenant-Id` or `X-Project-Id`: the
//! gateway derives both from the token. The body is serialized once and re-sent unchanged on a
//! retry.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::stream::{self, StreamContext};
use super::{ChatEvent, ChatFailure, ChatOutcome, ChatStatus, SinkClosed};
use crate::core::protocol::chat::{ChatMessage, ChatRequest, StreamOptions};
use crate::core::protocol::{errors, paths, HEADER_SESSION_ID, HEADER_THREAD_ID};
use crate::core::redact::scrub;
use crate::core::retry::{self, Failure, Retried, RetryPolicy, Sent};
use crate::core::token::{Bearer, TokenSource};
use crate::core::{Error, Result};

/// Timeouts, retry limits and extra headers of a [`ChatClient`].
#[derive(Debug, Clone)]
pub struct ChatConfig {
    /// Longest wait for the answer's headers (connect included).
    pub header_timeout: Duration,
    /// Longest silence between two reads of an answer body; keep-alive comments reset it. There
    /// is no limit on a whole stream. Defaults to the shared client's read timeout.
    pub idle_timeout: Duration,
    /// When to retry.
    pub retry: RetryPolicy,
    /// Sent on every request (e.g. a corporate gateway's own header); our headers win on a clash.
    pub extra_headers: HeaderMap,
    /// Largest error or non-streaming answer body read, in bytes.
    pub max_body_bytes: usize,
}

impl Default for ChatConfig {
    fn default() -> Self {
        ChatConfig {
            header_timeout: Duration::from_secs(30),
            idle_timeout: crate::core::http::READ_TIMEOUT,
            retry: RetryPolicy::default(),
            extra_headers: HeaderMap::new(),
            max_body_bytes: 8 << 20,
        }
    }
}

/// One chat to send.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatSend {
    /// The body; `stream` and `stream_options` are set from [`ChatSend::stream`].
    pub request: ChatRequest,
    /// Stream the answer (SSE) or wait for it whole.
    pub stream: bool,
    /// `X-Session-Id`; the bearer's session id when `None`.
    pub session_id: Option<String>,
    /// `X-Thread-Id`, to persist the conversation server-side.
    pub thread_id: Option<String>,
}

impl ChatSend {
    /// A streaming send of `messages` with the project's default model.
    pub fn new(messages: Vec<ChatMessage>) -> Self {
        ChatSend {
            request: ChatRequest {
                messages,
                ..ChatRequest::default()
            },
            stream: true,
            session_id: None,
            thread_id: None,
        }
    }
}

/// Sends chats to one gateway with one token source. Cheap to share behind an [`Arc`].
pub struct ChatClient {
    http: reqwest::Client,
    endpoint: reqwest::Url,
    tokens: Arc<dyn TokenSource>,
    config: ChatConfig,
}

impl std::fmt::Debug for ChatClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatClient")
            .field("endpoint", &self.endpoint.as_str())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// What opening a request gave.
enum Opened {
    Answer(reqwest::Response),
    Cancelled,
}

impl ChatClient {
    /// A client for the gateway at `base_url` (an origin; a trailing `/v1` is accepted), using
    /// the app's one `http` client. Refuses extra headers that would name a tenant or project or
    /// replace our own.
    pub fn new(
        http: reqwest::Client,
        base_url: &str,
        tokens: Arc<dyn TokenSource>,
        config: ChatConfig,
    ) -> Result<Self> {
        let base = base_url.trim_end_matches('/');
        let base = base.strip_suffix("/v1").unwrap_or(base);
        let endpoint = reqwest::Url::parse(&format!("{base}{}", paths::CHAT))
            .map_err(|e| Error::settings("BEHEST_BASE_URL", format!("not a valid URL ({e})")))?;
        for name in config.extra_headers.keys() {
            let forbidden = [
                "x-tenant-id",
                "x-project-id",
                "authorization",
                HEADER_SESSION_ID,
                HEADER_THREAD_ID,
            ];
            if forbidden.contains(&name.as_str()) {
                return Err(Error::settings(
                    "extra headers",
                    format!("{name} may not be set as an extra header"),
                ));
            }
        }
        Ok(ChatClient {
            http,
            endpoint,
            tokens,
            config,
        })
    }

    /// The full chat URL.
    pub fn endpoint(&self) -> &str {
        self.endpoint.as_str()
    }

    /// Sends `send`, retrying per the policy until an answer starts, and pushes the answer's
    /// events into `sink`. A failed sink send, or `cancel` tripping, ends the request at once with
    /// [`ChatStatus::Cancelled`].
    pub async fn send<F>(
        &self,
        send: &ChatSend,
        cancel: &CancellationToken,
        mut sink: F,
    ) -> std::result::Result<ChatOutcome, ChatFailure>
    where
        F: FnMut(ChatEvent) -> std::result::Result<(), SinkClosed>,
    {
        let started = Instant::now();
        let body = self.body(send).map_err(ChatFailure::before_text)?;
        let opening = Opening {
            client: self,
            send,
            body,
            cancel,
            sink: &mut sink,
            bearer: None,
        };
        let answer = match retry::drive(&self.config.retry, opening)
            .await
            .map_err(ChatFailure::before_text)?
        {
            Opened::Answer(answer) => answer,
            Opened::Cancelled => return Ok(ChatOutcome::empty(ChatStatus::Cancelled)),
        };
        let trace_id = errors::trace_id(answer.headers());
        if sink(ChatEvent::Started {
            trace_id: trace_id.clone(),
        })
        .is_err()
        {
            cancel.cancel();
            return Ok(ChatOutcome::empty(ChatStatus::Cancelled));
        }
        let ctx = StreamContext {
            started,
            trace_id,
            http_status: answer.status().as_u16(),
            idle_timeout: self.config.idle_timeout,
            max_body_bytes: self.config.max_body_bytes,
        };
        if send.stream {
            stream::drive(answer.bytes_stream(), ctx, cancel, &mut sink).await
        } else {
            stream::whole(answer.bytes_stream(), ctx, cancel, &mut sink).await
        }
    }

    /// The headers `send` goes out with when the token's session is `session_id`, for the
    /// request log: built by the same code as the real ones, with a placeholder in place of
    /// the token (the caller still redacts every credential before showing them).
    pub fn request_headers(&self, send: &ChatSend, session_id: Option<&str>) -> Result<HeaderMap> {
        let placeholder = Bearer {
            token: crate::core::redact::Secret::new("[redacted]"),
            session_id: session_id.map(str::to_string),
            expires_at: None,
        };
        self.headers(send, &placeholder)
    }

    fn body(&self, send: &ChatSend) -> Result<Bytes> {
        let mut request = send.request.clone();
        request.stream = Some(send.stream);
        if send.stream && request.stream_options.is_none() {
            request.stream_options = Some(StreamOptions {
                include_usage: true,
            });
        }
        if !send.stream {
            request.stream_options = None;
        }
        serde_json::to_vec(&request)
            .map(Bytes::from)
            .map_err(|e| Error::Protocol(format!("the chat request cannot be serialized ({e})")))
    }

    fn headers(&self, send: &ChatSend, bearer: &Bearer) -> Result<HeaderMap> {
        let mut h = self.config.extra_headers.clone();
        let mut auth =
            HeaderValue::try_from(format!("Bearer {}", bearer.token.expose())).map_err(|_| {
                Error::Crypto("the token holds characters not allowed in a header".into())
            })?;
        auth.set_sensitive(true);
        h.insert(AUTHORIZATION, auth);
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let accept = if send.stream {
            "text/event-stream"
        } else {
            "application/json"
        };
        h.insert(ACCEPT, HeaderValue::from_static(accept));
        let value = |name: &str, v: &str| {
            HeaderValue::from_str(v).map_err(|_| {
                Error::settings(name, "must be visible ASCII without control characters")
            })
        };
        if let Some(sid) = send.session_id.as_deref().or(bearer.session_id.as_deref()) {
            h.insert(
                HeaderName::from_static(HEADER_SESSION_ID),
                value("session id", sid)?,
            );
        }
        if let Some(tid) = send.thread_id.as_deref() {
            h.insert(
                HeaderName::from_static(HEADER_THREAD_ID),
                value("thread id", tid)?,
            );
        }
        Ok(h)
    }

    /// Reads an error answer's body (bounded, each read raced against `cancel` and the idle
    /// timeout). `None` when cancelled; a body that breaks or stalls is classified as far as read.
    async fn error_body(
        &self,
        mut answer: reqwest::Response,
        cancel: &CancellationToken,
    ) -> Option<Vec<u8>> {
        let limit = self.config.max_body_bytes.min(64 << 10);
        let mut body = Vec::new();
        loop {
            let chunk = tokio::select! {
                biased;
                _ = cancel.cancelled() => return None,
                c = tokio::time::timeout(self.config.idle_timeout, answer.chunk()) => c,
            };
            match chunk {
                Ok(Ok(Some(bytes))) if body.len() < limit => {
                    let room = limit - body.len();
                    body.extend_from_slice(&bytes[..bytes.len().min(room)]);
                }
                _ => return Some(body),
            }
        }
    }
}

/// One chat send as the retry driver repeats it: sent until a 2xx answer's headers arrive, the
/// policy gives up, or `cancel` trips; each wait before a retry is announced to `sink` first.
struct Opening<'a, F> {
    client: &'a ChatClient,
    send: &'a ChatSend,
    body: Bytes,
    cancel: &'a CancellationToken,
    sink: &'a mut F,
    /// The token of the last request (what a 401 invalidates).
    bearer: Option<Bearer>,
}

impl<F> Retried for Opening<'_, F>
where
    F: FnMut(ChatEvent) -> std::result::Result<(), SinkClosed>,
{
    type Output = Opened;
    const WHAT: &'static str = "chat";
    const REFRESHES: bool = true;

    async fn send(&mut self) -> Result<Sent<Opened>> {
        let client = self.client;
        let bearer = tokio::select! {
            biased;
            _ = self.cancel.cancelled() => return Ok(Sent::Done(Opened::Cancelled)),
            b = client.tokens.bearer() => b?,
        };
        let request = client
            .http
            .post(client.endpoint.clone())
            .headers(client.headers(self.send, &bearer)?)
            .body(self.body.clone());
        self.bearer = Some(bearer);
        let sent = tokio::select! {
            biased;
            _ = self.cancel.cancelled() => return Ok(Sent::Done(Opened::Cancelled)),
            r = tokio::time::timeout(client.config.header_timeout, request.send()) => r,
        };
        match sent {
            Err(_) => {
                let limit = client.config.header_timeout;
                Err(Error::Timeout(format!("no answer within {limit:?}")))
            }
            Ok(Err(e)) if e.is_timeout() && !e.is_connect() => {
                Err(Error::Timeout(describe(&e.without_url())))
            }
            Ok(Err(e)) => Ok(Sent::Failed(
                Failure::Connect,
                Error::Network(describe(&e.without_url())),
            )),
            Ok(Ok(answer)) if answer.status().is_success() => {
                Ok(Sent::Done(Opened::Answer(answer)))
            }
            Ok(Ok(answer)) => {
                let status = answer.status().as_u16();
                let headers = answer.headers().clone();
                let Some(body) = client.error_body(answer, self.cancel).await else {
                    return Ok(Sent::Done(Opened::Cancelled));
                };
                let error = errors::classify(status, &headers, &body, SystemTime::now());
                let retry_after = error.retry_after();
                Ok(Sent::Failed(
                    Failure::Status {
                        status,
                        retry_after,
                    },
                    error,
                ))
            }
        }
    }

    async fn refresh(&mut self) -> ControlFlow<Opened> {
        let Some(stale) = self.bearer.take() else {
            return ControlFlow::Continue(());
        };
        tokio::select! {
            biased;
            _ = self.cancel.cancelled() => ControlFlow::Break(Opened::Cancelled),
            _ = self.client.tokens.invalidate(&stale) => ControlFlow::Continue(()),
        }
    }

    async fn pause(
        &mut self,
        attempt: u32,
        wait: Duration,
        status: Option<u16>,
    ) -> ControlFlow<Opened> {
        let announced = (self.sink)(ChatEvent::Retrying {
            attempt,
            wait,
            status,
        });
        if announced.is_err() {
            self.cancel.cancel();
            return ControlFlow::Break(Opened::Cancelled);
        }
        tokio::select! {
            biased;
            _ = self.cancel.cancelled() => ControlFlow::Break(Opened::Cancelled),
            _ = tokio::time::sleep(wait) => ControlFlow::Continue(()),
        }
    }
}

/// A transport error with its causes, scrubbed (callers drop the URL first where they can).
pub(crate) fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    scrub(&text)
}
