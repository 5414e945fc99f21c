//! The developer panel's request log: the last [`DEFAULT_CAPACITY`] exchanges the backend made
//! (token mints and signings, chats, check runs), in a small bounded ring buffer, plus
//! [`RecordingMinter`], which records every token the connection obtains.
//!
//! Invariants: a record holds only the method, the origin and path of the URL (never its query,
//! fragment or user info), the HTTP status (of successes too), the timing, the trace id, the
//! request headers the app set with every credential redacted ([`redact_headers`]:
//! `Authorization: Bearer [redacted]`, cookies and key headers `[redacted]`, any other value
//! scrubbed of JWTs and keys) and a scrubbed, shortened error message; never a body, a token or
//! a key. The buffer never grows past its capacity
//! (the oldest record is dropped); its lock is a std mutex held only to push or copy, never
//! across an await.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};
use serde::Serialize;

use crate::core::auth::{MintParams, Minted, Minter};
use crate::core::chat::{ChatFailure, ChatOutcome, ChatStatus};
use crate::core::config::{AuthMode, Config};
use crate::core::protocol::paths;
use crate::core::redact::{excerpt, is_secret_header, REDACTED};
use crate::core::token::BoxFuture;
use crate::core::{Error, Result};

/// How many exchanges the app keeps.
pub const DEFAULT_CAPACITY: usize = 50;
/// Longest error message kept, in characters.
const MAX_ERROR: usize = 160;
/// Longest trace id kept, in characters.
const MAX_TRACE: usize = 128;
/// Longest header value kept, in characters.
const MAX_HEADER_VALUE: usize = 200;
/// The most headers kept per record.
const MAX_HEADERS: usize = 24;

/// One request header as the panel shows it: lowercase name, value with credentials redacted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeaderLine {
    /// The header name, lowercase.
    pub name: String,
    /// The value, redacted ([`redact_headers`]).
    pub value: String,
}

/// `headers` as the request log keeps them: `Authorization` (and `Proxy-Authorization`) keep
/// only their scheme (`Bearer [redacted]`); cookies, API-key, token and secret headers and any
/// value marked sensitive become `[redacted]`; every other value is scrubbed of JWTs and keys
/// and shortened. At most [`MAX_HEADERS`] lines.
pub fn redact_headers(headers: &HeaderMap) -> Vec<HeaderLine> {
    headers
        .iter()
        .take(MAX_HEADERS)
        .map(|(name, value)| {
            // `http` keeps header names lowercase.
            let name = name.as_str().to_string();
            let text = value.to_str().unwrap_or("[not text]");
            let value = if name == "authorization" || name == "proxy-authorization" {
                match text.split_once(' ') {
                    Some((scheme, _)) if scheme.chars().all(|c| c.is_ascii_alphanumeric()) => {
                        format!("{scheme} {REDACTED}")
                    }
                    _ => REDACTED.to_string(),
                }
            } else if value.is_sensitive() || is_secret_header(&name) {
                REDACTED.to_string()
            } else {
                excerpt(text, MAX_HEADER_VALUE)
            };
            HeaderLine { name, value }
        })
        .collect()
}

/// What an exchange was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum RequestKind {
    /// The API-key mint (`POST {base}/v1/auth/mint`).
    Mint,
    /// The integrator's token endpoint.
    Token,
    /// A token signed locally (local signing and demo modes; no HTTP).
    Sign,
    /// A chat completion.
    Chat,
    /// A run of the configuration checks.
    Check,
}

/// One recorded exchange, as `recent_requests` returns it (camelCase JSON).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestRecord {
    /// Increases by one per record in this process.
    pub id: u64,
    /// When it started, Unix ms.
    pub at_ms: i64,
    /// What it was for.
    pub kind: RequestKind,
    /// `POST`, `GET`, or `SIGN` / `RUN` for the exchanges that are not one HTTP request.
    pub method: &'static str,
    /// `scheme://host[:port]` of the URL, when it was an HTTP request.
    pub origin: Option<String>,
    /// The URL's path (no query), or what was done for exchanges that are not HTTP.
    pub path: String,
    /// The HTTP status when there was an answer (successes too: a chat, an API-key mint, a
    /// token-endpoint call); `None` for a signing, a check run or a connection that failed.
    pub status: Option<u16>,
    /// Whether it succeeded.
    pub ok: bool,
    /// How long it took, ms (for a chat: the whole stream).
    pub duration_ms: u64,
    /// `X-Trace-Id` of the answer.
    pub trace_id: Option<String>,
    /// Why it failed (scrubbed and shortened).
    pub error: Option<String>,
    /// The request headers the app set, credentials redacted.
    pub request_headers: Vec<HeaderLine>,
}

/// An exchange to record (the log assigns the id and cleans the fields).
#[derive(Debug, Clone, PartialEq)]
pub struct Exchange {
    /// What it was for.
    pub kind: RequestKind,
    /// The method (see [`RequestRecord::method`]).
    pub method: &'static str,
    /// The full URL, or a description for exchanges that are not HTTP.
    pub url: String,
    /// The HTTP status when known.
    pub status: Option<u16>,
    /// Whether it succeeded.
    pub ok: bool,
    /// How long it took.
    pub duration: Duration,
    /// The answer's trace id.
    pub trace_id: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// The request headers (redacted when recorded).
    pub request_headers: HeaderMap,
}

impl Exchange {
    /// A successful exchange.
    pub fn ok(kind: RequestKind, method: &'static str, url: impl Into<String>) -> Self {
        Exchange {
            kind,
            method,
            url: url.into(),
            status: None,
            ok: true,
            duration: Duration::ZERO,
            trace_id: None,
            error: None,
            request_headers: HeaderMap::new(),
        }
    }

    /// Sets the request headers it was sent with.
    pub fn headers(mut self, headers: HeaderMap) -> Self {
        self.request_headers = headers;
        self
    }

    /// Marks it failed with `error` (its status and trace id when it carries them).
    pub fn failed(mut self, error: &Error) -> Self {
        self.ok = false;
        self.status = error.http().map(|f| f.status).filter(|s| *s != 0);
        self.trace_id = error.trace_id().map(str::to_string).or(self.trace_id);
        self.error = Some(error.to_string());
        self
    }

    /// Sets how long it took.
    pub fn took(mut self, duration: Duration) -> Self {
        self.duration = duration;
        self
    }

    /// A chat to `base`, sent with `headers`, that ended with `result`.
    pub fn chat(
        base: &str,
        headers: HeaderMap,
        duration: Duration,
        result: &std::result::Result<ChatOutcome, ChatFailure>,
    ) -> Self {
        let url = format!("{}{}", base.trim_end_matches('/'), paths::CHAT);
        let exchange = Exchange::ok(RequestKind::Chat, "POST", url)
            .took(duration)
            .headers(headers);
        match result {
            Ok(outcome) => {
                let mut e = exchange;
                e.trace_id = outcome.trace_id.clone();
                e.status = outcome.http_status;
                if let ChatStatus::Interrupted { .. } = outcome.status {
                    e.ok = false;
                    e.error = Some("the stream broke; the partial answer was kept".into());
                } else if outcome.status == ChatStatus::Cancelled {
                    e.error = Some("stopped".into());
                }
                e
            }
            Err(failure) => {
                let mut e = exchange.failed(&failure.error);
                e.trace_id = e.trace_id.or_else(|| failure.trace_id.clone());
                e
            }
        }
    }
}

/// Where a mode's tokens come from, for [`RecordingMinter`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MintTarget {
    kind: RequestKind,
    method: &'static str,
    url: String,
    headers: HeaderMap,
}

/// The headers `auth`'s token requests are sent with (its `post_json`): the bearer (the API key
/// or the session credential, shown redacted), `Accept`, and the body's type or an empty body.
fn token_request_headers(with_body: bool) -> HeaderMap {
    let mut h = HeaderMap::new();
    let mut auth = HeaderValue::from_static("Bearer [redacted]");
    auth.set_sensitive(true);
    h.insert(AUTHORIZATION, auth);
    h.insert(ACCEPT, HeaderValue::from_static("application/json"));
    if with_body {
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    } else {
        h.insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
    }
    h
}

impl MintTarget {
    /// The target of `config`'s mode; `base_url` is where chats go.
    pub fn of(config: &Config, base_url: &str) -> Self {
        match &config.mode {
            AuthMode::TokenEndpoint { url, .. } => MintTarget {
                kind: RequestKind::Token,
                method: "POST",
                url: url.clone(),
                headers: token_request_headers(false),
            },
            AuthMode::ApiKey { .. } => MintTarget {
                kind: RequestKind::Mint,
                method: "POST",
                url: format!("{}{}", base_url.trim_end_matches('/'), paths::MINT),
                headers: token_request_headers(true),
            },
            AuthMode::LocalSign(_) | AuthMode::Demo => MintTarget {
                kind: RequestKind::Sign,
                method: "SIGN",
                url: "signed locally (RS256)".into(),
                headers: HeaderMap::new(),
            },
        }
    }
}

/// The bounded log.
#[derive(Debug)]
pub struct RequestLog {
    ring: Mutex<Ring>,
    capacity: usize,
}

/// The records and the next id, under one lock so ids follow the order of the records.
#[derive(Debug, Default)]
struct Ring {
    records: VecDeque<RequestRecord>,
    last_id: u64,
}

impl Default for RequestLog {
    fn default() -> Self {
        RequestLog::new(DEFAULT_CAPACITY)
    }
}

impl RequestLog {
    /// A log keeping the last `capacity` exchanges (at least one).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        RequestLog {
            ring: Mutex::new(Ring {
                records: VecDeque::with_capacity(capacity),
                last_id: 0,
            }),
            capacity,
        }
    }

    /// How many exchanges it keeps.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Records an exchange that ended now, dropping the oldest record when full.
    pub fn record(&self, exchange: Exchange) {
        let (origin, path) = split_url(&exchange.url);
        let now_ms = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        let took_ms = i128::try_from(exchange.duration.as_millis()).unwrap_or(0);
        let mut record = RequestRecord {
            id: 0,
            at_ms: i64::try_from(now_ms - took_ms).unwrap_or(0),
            kind: exchange.kind,
            method: exchange.method,
            origin,
            path,
            status: exchange.status,
            ok: exchange.ok,
            duration_ms: u64::try_from(exchange.duration.as_millis()).unwrap_or(u64::MAX),
            trace_id: exchange
                .trace_id
                .map(|t| excerpt(t.trim(), MAX_TRACE))
                .filter(|t| !t.is_empty()),
            error: exchange.error.map(|e| excerpt(&e, MAX_ERROR)),
            request_headers: redact_headers(&exchange.request_headers),
        };
        if let Ok(mut ring) = self.ring.lock() {
            ring.last_id += 1;
            record.id = ring.last_id;
            while ring.records.len() >= self.capacity {
                ring.records.pop_front();
            }
            ring.records.push_back(record);
        }
    }

    /// Up to `limit` records, newest first.
    pub fn recent(&self, limit: usize) -> Vec<RequestRecord> {
        self.ring
            .lock()
            .map(|r| r.records.iter().rev().take(limit).cloned().collect())
            .unwrap_or_default()
    }
}

/// `(origin, path)` of an absolute http(s) URL, without user info, query or fragment; a text
/// that is not such a URL is a description and kept as the path (scrubbed).
fn split_url(text: &str) -> (Option<String>, String) {
    match url::Url::parse(text) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
            (Some(u.origin().ascii_serialization()), u.path().to_string())
        }
        _ => (None, excerpt(text, MAX_ERROR)),
    }
}

/// A [`Minter`] that records each token it obtains in a [`RequestLog`], with the HTTP status the
/// token came with ([`Minted::http_status`]; none for a local signing). The token itself is never
/// looked at.
pub struct RecordingMinter {
    inner: Arc<dyn Minter>,
    target: MintTarget,
    log: Arc<RequestLog>,
}

impl RecordingMinter {
    /// Wraps `inner`, recording into `log` as `target`.
    pub fn wrap(
        inner: Arc<dyn Minter>,
        target: MintTarget,
        log: Arc<RequestLog>,
    ) -> Arc<dyn Minter> {
        Arc::new(RecordingMinter { inner, target, log })
    }
}

impl Minter for RecordingMinter {
    fn mode(&self) -> &'static str {
        self.inner.mode()
    }

    fn scope(&self) -> String {
        self.inner.scope()
    }

    fn mint<'a>(&'a self, params: &'a MintParams) -> BoxFuture<'a, Result<Minted>> {
        Box::pin(async move {
            let began = Instant::now();
            let result = self.inner.mint(params).await;
            let t = &self.target;
            let exchange = Exchange::ok(t.kind, t.method, t.url.clone())
                .took(began.elapsed())
                .headers(t.headers.clone());
            self.log.record(match &result {
                Ok(minted) => Exchange {
                    status: minted.http_status,
                    trace_id: minted.trace_id.clone(),
                    ..exchange
                },
                Err(error) => exchange.failed(error),
            });
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::HttpFailure;

    fn chat_at(url: &str) -> Exchange {
        Exchange::ok(RequestKind::Chat, "POST", url)
    }

    #[test]
    fn the_ring_keeps_the_last_records_newest_first() {
        let log = RequestLog::new(3);
        for i in 0..5 {
            log.record(chat_at(&format!("http://127.0.0.1:9/v1/n{i}")));
        }
        let recent = log.recent(10);
        assert_eq!(recent.len(), 3);
        let paths: Vec<&str> = recent.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(paths, ["/v1/n4", "/v1/n3", "/v1/n2"]);
        assert_eq!(recent[0].id, 5);
        assert_eq!(log.recent(1).len(), 1);
        assert_eq!(RequestLog::new(0).capacity(), 1);
    }

    #[test]
    fn urls_lose_their_query_fragment_and_user_info() {
        let log = RequestLog::default();
        log.record(chat_at(
            "https://user:SENTINEL_PW@api.example.com:8443/api/token?key=SENTINEL_Q#frag",
        ));
        let r = &log.recent(1)[0];
        assert_eq!(r.origin.as_deref(), Some("https://api.example.com:8443"));
        assert_eq!(r.path, "/api/token");
        let json = serde_json::to_string(r).unwrap_or_default();
        assert!(!json.contains("SENTINEL"), "{json}");
        assert!(json.contains("\"durationMs\""), "{json}");
    }

    #[test]
    fn a_failure_keeps_status_and_trace_and_scrubs_its_message() {
        let failure = HttpFailure {
            status: 429,
            code: None,
            message: "slow down eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2ln".into(),
            trace_id: Some("tr-429".into()),
            retry_after: None,
            details: None,
        };
        let error = Error::RateLimited(Box::new(failure));
        let log = RequestLog::default();
        log.record(chat_at("http://127.0.0.1:1/v1/chat/completions").failed(&error));
        let r = &log.recent(1)[0];
        assert!(!r.ok);
        assert_eq!(r.status, Some(429));
        assert_eq!(r.trace_id.as_deref(), Some("tr-429"));
        assert!(!r.error.clone().unwrap_or_default().contains("eyJhbGci"));
        // A network failure has no status.
        log.record(chat_at("http://127.0.0.1:1/").failed(&Error::Network("refused".into())));
        assert_eq!(log.recent(1)[0].status, None);
    }

    #[test]
    fn headers_are_kept_with_every_credential_redacted() {
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJl";
        let mut h = HeaderMap::new();
        h.insert(
            AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {jwt}"))
                .unwrap_or(HeaderValue::from_static("x")),
        );
        h.insert(
            "proxy-authorization",
            HeaderValue::from_static("Basic dXNlcjpwdw=="),
        );
        h.insert("cookie", HeaderValue::from_static("sid=SENTINEL_COOKIE"));
        h.insert("x-api-key", HeaderValue::from_static("SENTINEL_API_KEY"));
        h.insert("x-corp-token", HeaderValue::from_static("SENTINEL_CORP"));
        let mut sensitive = HeaderValue::from_static("SENTINEL_SENSITIVE");
        sensitive.set_sensitive(true);
        h.insert("x-custom", sensitive);
        h.insert(
            "x-note",
            HeaderValue::from_str(&format!("see {jwt}")).unwrap_or(HeaderValue::from_static("x")),
        );
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        h.insert("x-session-id", HeaderValue::from_static("sess-123"));
        let log = RequestLog::default();
        log.record(chat_at("http://127.0.0.1:1/v1/chat/completions").headers(h));
        let r = &log.recent(1)[0];
        let get = |n: &str| {
            r.request_headers
                .iter()
                .find(|l| l.name == n)
                .map(|l| l.value.clone())
                .unwrap_or_default()
        };
        assert_eq!(get("authorization"), "Bearer [redacted]");
        assert_eq!(get("proxy-authorization"), "Basic [redacted]");
        assert_eq!(get("cookie"), "[redacted]");
        assert_eq!(get("x-api-key"), "[redacted]");
        assert_eq!(get("x-corp-token"), "[redacted]");
        assert_eq!(get("x-custom"), "[redacted]");
        assert_eq!(get("content-type"), "application/json");
        assert_eq!(get("x-session-id"), "sess-123");
        let json = serde_json::to_string(r).unwrap_or_default();
        assert!(json.contains("\"requestHeaders\""), "{json}");
        assert!(
            !json.contains("SENTINEL")
                && !json.contains("eyJhbGci")
                && !json.contains("dXNlcjpwdw"),
            "{json}"
        );
    }

    #[test]
    fn a_successful_chat_keeps_its_http_status() {
        let mut outcome = ChatOutcome::empty(ChatStatus::Completed);
        outcome.http_status = Some(200);
        let log = RequestLog::default();
        log.record(Exchange::chat(
            "http://127.0.0.1:1",
            HeaderMap::new(),
            Duration::from_millis(5),
            &Ok(outcome),
        ));
        let r = &log.recent(1)[0];
        assert!(r.ok);
        assert_eq!(r.status, Some(200));
    }

    #[test]
    fn token_requests_show_their_headers_with_the_credential_redacted() {
        let lines = redact_headers(&token_request_headers(true));
        let names: Vec<&str> = lines.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["authorization", "accept", "content-type"]);
        assert_eq!(lines[0].value, "Bearer [redacted]");
        let lines = redact_headers(&token_request_headers(false));
        assert!(lines
            .iter()
            .any(|l| l.name == "content-length" && l.value == "0"));
    }

    /// A minter answering every mint the same way.
    #[derive(Clone, Copy)]
    enum Fixed {
        /// A token that came with this HTTP status (`None`: signed locally).
        Token(Option<u16>),
        /// A 403 with a trace id.
        Refused,
    }

    impl Minter for Fixed {
        fn mode(&self) -> &'static str {
            "apiKey"
        }
        fn scope(&self) -> String {
            "fixed".into()
        }
        fn mint<'a>(&'a self, _: &'a MintParams) -> BoxFuture<'a, Result<Minted>> {
            let answer = match *self {
                Fixed::Token(status) => Ok(Minted {
                    token: crate::core::redact::Secret::new("SENTINEL_TOKEN"),
                    ttl: 60,
                    session_id: None,
                    expires_at: None,
                    http_status: status,
                    trace_id: None,
                }),
                Fixed::Refused => Err(Error::Forbidden(Box::new(HttpFailure {
                    status: 403,
                    code: None,
                    message: "no".into(),
                    trace_id: Some("tr-403".into()),
                    retry_after: None,
                    details: None,
                }))),
            };
            Box::pin(async move { answer })
        }
    }

    #[tokio::test]
    async fn a_recorded_mint_keeps_the_http_status_it_came_with() {
        let log = Arc::new(RequestLog::default());
        let target = MintTarget {
            kind: RequestKind::Mint,
            method: "POST",
            url: "http://127.0.0.1:1/v1/auth/mint".into(),
            headers: token_request_headers(true),
        };
        let mint = |answer| {
            let minter = RecordingMinter::wrap(Arc::new(answer), target.clone(), Arc::clone(&log));
            async move { minter.mint(&MintParams::default()).await.is_ok() }
        };
        assert!(mint(Fixed::Token(Some(201))).await);
        let r = &log.recent(1)[0];
        assert!(r.ok);
        assert_eq!(r.status, Some(201));
        // A local signing has no status; a refused mint keeps its error's.
        assert!(mint(Fixed::Token(None)).await);
        assert_eq!(log.recent(1)[0].status, None);
        assert!(!mint(Fixed::Refused).await);
        let r = &log.recent(1)[0];
        assert!(!r.ok);
        assert_eq!(r.status, Some(403));
        assert_eq!(r.trace_id.as_deref(), Some("tr-403"));
        let json = serde_json::to_string(&log.recent(10)).unwrap_or_default();
        assert!(!json.contains("SENTINEL"), "{json}");
    }

    #[test]
    fn a_description_is_kept_as_the_path_without_an_origin() {
        let log = RequestLog::default();
        log.record(Exchange::ok(
            RequestKind::Sign,
            "SIGN",
            "signed locally (RS256)",
        ));
        let r = &log.recent(1)[0];
        assert_eq!(r.origin, None);
        assert_eq!(r.path, "signed locally (RS256)");
        assert_eq!(r.kind, RequestKind::Sign);
    }

    #[test]
    fn concurrent_records_never_exceed_the_capacity() {
        let log = Arc::new(RequestLog::new(8));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let log = Arc::clone(&log);
                std::thread::spawn(move || {
                    for _ in 0..100 {
                        log.record(chat_at("http://127.0.0.1:1/x"));
                    }
                })
            })
            .collect();
        for t in threads {
            assert!(t.join().is_ok());
        }
        let recent = log.recent(100);
        assert_eq!(recent.len(), 8);
        assert!(recent.windows(2).all(|w| w[0].id > w[1].id));
        assert_eq!(recent[0].id, 400);
    }
}
