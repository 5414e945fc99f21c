//! What the gateway remembers of each request, for test assertions: method, path, headers with
//! secrets redacted, body, status, trace id, verified claims and the session id used.
//!
//! Invariant: credential headers (`Authorization`, cookies, API-key and token headers:
//! [`is_secret_header`], the rule the app's request log uses too) are replaced by `[redacted]`,
//! every other header value and the body pass through [`scrub`], so no token, key or PEM is
//! ever kept.

use std::collections::VecDeque;
use std::sync::Mutex;

use axum::http::HeaderMap;

use crate::core::protocol::claims::Claims;
use crate::core::redact::{is_secret_header, scrub, REDACTED};

/// The most requests kept; older ones are forgotten first.
pub const MAX_RECORDED_REQUESTS: usize = 10_000;
/// Bodies are kept up to this many bytes.
pub const MAX_RECORDED_BODY: usize = 64 * 1024;

/// Where the session id of a data-plane request came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionSource {
    /// The `X-Session-Id` header.
    Header,
    /// The token's `sid` claim (no header sent).
    Claim,
}

/// The session a chat request was attributed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionUse {
    /// The session id.
    pub id: String,
    /// Where it came from.
    pub source: SessionSource,
}

/// One request as the gateway saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    /// `GET`, `POST`, …
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Headers (lowercase names), secrets redacted.
    pub headers: Vec<(String, String)>,
    /// Body as text (lossy UTF-8, scrubbed, at most [`MAX_RECORDED_BODY`] bytes).
    pub body: String,
    /// Status answered.
    pub status: u16,
    /// `X-Trace-Id` answered.
    pub trace_id: String,
    /// Claims of the verified token, when verification passed.
    pub claims: Option<Claims>,
    /// Session used by a chat request.
    pub session: Option<SessionUse>,
}

impl RecordedRequest {
    /// The first value of a header (lowercase name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Headers with secrets redacted: credential headers ([`is_secret_header`]) whole, every other
/// value scrubbed.
pub fn redact_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            let name = name.as_str().to_ascii_lowercase();
            let value = if is_secret_header(&name) {
                REDACTED.to_string()
            } else {
                scrub(&String::from_utf8_lossy(value.as_bytes()))
            };
            (name, value)
        })
        .collect()
}

/// A body as recorded.
pub fn redact_body(body: &[u8]) -> String {
    let cut = &body[..body.len().min(MAX_RECORDED_BODY)];
    scrub(&String::from_utf8_lossy(cut))
}

/// The recorded requests, in completion order (the newest `limit`, by default
/// [`MAX_RECORDED_REQUESTS`]).
#[derive(Debug)]
pub struct Recorder {
    requests: Mutex<VecDeque<RecordedRequest>>,
    limit: usize,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder::with_limit(MAX_RECORDED_REQUESTS)
    }
}

impl Recorder {
    /// A recorder keeping the newest `limit` requests (0: none).
    pub fn with_limit(limit: usize) -> Self {
        Recorder {
            requests: Mutex::new(VecDeque::new()),
            limit,
        }
    }

    /// Keeps one request, dropping the oldest beyond the limit.
    pub fn push(&self, request: RecordedRequest) {
        if self.limit == 0 {
            return;
        }
        let mut all = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        while all.len() >= self.limit {
            all.pop_front();
        }
        all.push_back(request);
    }
    /// Every request kept, oldest first.
    pub fn all(&self) -> Vec<RecordedRequest> {
        let all = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        all.iter().cloned().collect()
    }
    /// Forgets every request.
    pub fn clear(&self) {
        self.requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn the_record_is_bounded() {
        let r = Recorder::default();
        let req = RecordedRequest {
            method: "GET".into(),
            path: "/".into(),
            headers: vec![],
            body: String::new(),
            status: 200,
            trace_id: String::new(),
            claims: None,
            session: None,
        };
        for i in 0..=MAX_RECORDED_REQUESTS {
            r.push(RecordedRequest {
                trace_id: i.to_string(),
                ..req.clone()
            });
        }
        let all = r.all();
        assert_eq!(all.len(), MAX_RECORDED_REQUESTS);
        assert_eq!(all[0].trace_id, "1");

        let small = Recorder::with_limit(3);
        let none = Recorder::with_limit(0);
        for i in 0..10 {
            let one = RecordedRequest {
                trace_id: i.to_string(),
                ..req.clone()
            };
            small.push(one.clone());
            none.push(one);
        }
        let kept: Vec<String> = small.all().into_iter().map(|r| r.trace_id).collect();
        assert_eq!(kept, ["7", "8", "9"]);
        assert!(none.all().is_empty());
    }

    #[test]
    fn secrets_never_reach_the_record() {
        let mut h = HeaderMap::new();
        h.insert(
            "authorization",
            HeaderValue::from_static("Bearer SENTINEL_TOK_1"),
        );
        h.insert(
            "x-api-key",
            HeaderValue::from_static("behest_sk_live_0123456789abcdef0123456789abcdef"),
        );
        h.insert("x-session-id", HeaderValue::from_static("s-1"));
        let out = redact_headers(&h);
        let text = format!("{out:?}");
        assert!(!text.contains("SENTINEL_TOK_1"));
        assert!(!text.contains("0123456789abcdef"));
        assert!(text.contains("s-1"));
        let body = redact_body(
            b"{\"k\":\"-----BEGIN PRIVATE KEY-----\\nMII\\n-----END PRIVATE KEY-----\"}",
        );
        assert!(!body.contains("MII"));
    }
}
