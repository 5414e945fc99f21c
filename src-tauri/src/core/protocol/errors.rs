//! Error envelopes (§9) and their classification into [`crate::core::Error`].
//!
//! Both sides use this file: the gateway builds envelopes with [`NestedEnvelope`] and
//! [`FlatEnvelope`]; the client turns any HTTP error answer into a typed error with [`classify`].
//! An error met while minting and one met while chatting are classified by the same code.

use std::time::{Duration, SystemTime};

use http::HeaderMap;
use serde::{Deserialize, Serialize};

use crate::core::redact::excerpt;
use crate::core::{Error, HttpFailure};

use super::{HEADER_REQUEST_ID, HEADER_TRACE_ID};

/// The data-plane envelope: `{"error":{"code","message","details"?}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NestedEnvelope {
    /// The error object.
    pub error: NestedError,
}

/// The inner object of [`NestedEnvelope`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NestedError {
    /// Machine-readable code, e.g. `quota_exceeded`.
    pub code: String,
    /// Human-readable message.
    pub message: String,
    /// Extra structured data (tier, limit, usage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

impl NestedEnvelope {
    /// Builds an envelope.
    pub fn new(code: &str, message: impl Into<String>, details: Option<serde_json::Value>) -> Self {
        NestedEnvelope {
            error: NestedError {
                code: code.to_string(),
                message: message.into(),
                details,
            },
        }
    }
}

/// The auth service's flat envelope: `{"error":"human text","code":"SOME_CODE","retryable":false}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlatEnvelope {
    /// Human-readable message.
    pub error: String,
    /// Machine-readable code.
    pub code: String,
    /// Whether trying again may help.
    pub retryable: bool,
}

/// The code the SDK assumes for a status when the body has none.
pub fn default_code(status: u16) -> Option<&'static str> {
    match status {
        401 => Some("invalid_token"),
        402 => Some("quota_exceeded"),
        403 => Some("forbidden"),
        429 => Some("rate_limited"),
        400 | 422 => Some("validation_error"),
        500..=599 => Some("server_error"),
        _ => None,
    }
}

/// The trace id of an answer: `X-Trace-Id`, else `X-Request-Id`.
pub fn trace_id(headers: &HeaderMap) -> Option<String> {
    [HEADER_TRACE_ID, HEADER_REQUEST_ID]
        .iter()
        .find_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()))
        .map(|v| excerpt(v.trim(), 128))
        .filter(|v| !v.is_empty())
}

/// How long the server asks us to wait: `retry-after-ms`, else `Retry-After` as seconds
/// (integer or decimal) or an HTTP-date (a past date means now). Negative, non-finite and
/// unparsable values give `None`; an integer too large for `u64` saturates. Not capped here: the
/// retry policy decides what is too long.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(ms) = get("retry-after-ms").and_then(parse_seconds) {
        return Some(ms / 1000);
    }
    let value = get("retry-after")?;
    if let Some(d) = parse_seconds(value) {
        return Some(d);
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Seconds as all digits (saturating) or a finite non-negative decimal.
fn parse_seconds(value: &str) -> Option<Duration> {
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Duration::from_secs(
            value.parse::<u64>().unwrap_or(u64::MAX),
        ));
    }
    // Only plain decimals ("1.5"); "inf", "nan", "1e3" and signs are refused.
    if !value.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let secs: f64 = value.parse().ok()?;
    (secs.is_finite() && secs >= 0.0)
        .then(|| Duration::try_from_secs_f64(secs).ok())
        .flatten()
}

/// Reads `(code, message, details)` from either envelope, or nothing from any other body.
fn read_body(body: &[u8]) -> (Option<String>, Option<String>, Option<serde_json::Value>) {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return (None, None, None);
    };
    let str_of = |v: Option<&serde_json::Value>| v.and_then(|v| v.as_str()).map(str::to_string);
    match value.get("error") {
        Some(inner @ serde_json::Value::Object(_)) => (
            str_of(inner.get("code")),
            str_of(inner.get("message")),
            inner.get("details").cloned(),
        ),
        Some(serde_json::Value::String(text)) => {
            (str_of(value.get("code")), Some(text.clone()), None)
        }
        // v1.x bodies put message and code at the top level.
        _ => (
            str_of(value.get("code")),
            str_of(value.get("message")),
            None,
        ),
    }
}

/// Classifies an HTTP error answer (status ≥ 400) into a typed error, keeping the code, a
/// scrubbed excerpt of the message, the trace id, `Retry-After` and the details.
pub fn classify(status: u16, headers: &HeaderMap, body: &[u8], now: SystemTime) -> Error {
    let (code, message, details) = read_body(body);
    let code = code.or_else(|| default_code(status).map(str::to_string));
    let failure = Box::new(HttpFailure {
        status,
        message: message
            .map(|m| excerpt(&m, HttpFailure::MAX_MESSAGE))
            .unwrap_or_else(|| format!("HTTP {status}")),
        trace_id: trace_id(headers),
        retry_after: retry_after(headers, now),
        details,
        code,
    });
    match status {
        401 => Error::Unauthorized(failure),
        402 => Error::QuotaExceeded(failure),
        403 => Error::Forbidden(failure),
        404 => Error::NotFound(failure),
        // The v1.x taxonomy signalled an exhausted budget with 429 budget_exceeded.
        429 if failure.code.as_deref() == Some("budget_exceeded") => Error::QuotaExceeded(failure),
        429 => Error::RateLimited(failure),
        400 | 422 => Error::BadRequest(failure),
        _ => Error::Upstream(failure),
    }
}

/// Classifies a `{"error":…}` payload met inside a 200 stream (either envelope shape).
pub fn classify_stream_error(payload: &serde_json::Value) -> Option<Error> {
    let inner = payload.get("error")?;
    let body = serde_json::to_vec(payload).ok()?;
    let (code, message, details) = read_body(&body);
    let message = message
        .or_else(|| inner.as_str().map(str::to_string))
        .map(|m| excerpt(&m, HttpFailure::MAX_MESSAGE))
        .unwrap_or_else(|| "the server reported an error mid-stream".to_string());
    Some(Error::StreamError(Box::new(HttpFailure {
        status: 0,
        code,
        message,
        trace_id: None,
        retry_after: None,
        details,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            if let Ok(v) = HeaderValue::from_str(v) {
                h.insert(*k, v);
            }
        }
        h
    }

    #[test]
    fn retry_after_table() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let future = httpdate::fmt_http_date(now + Duration::from_secs(30));
        let past = httpdate::fmt_http_date(now - Duration::from_secs(30));
        let secs = |s: u64| Some(Duration::from_secs(s));
        type Row<'a> = (Vec<(&'static str, &'a str)>, Option<Duration>);
        let table: Vec<Row> = vec![
            (vec![("retry-after", "2")], secs(2)),
            (vec![("retry-after", "0")], secs(0)),
            (vec![("retry-after", " 7 ")], secs(7)),
            (
                vec![("retry-after", "1.5")],
                Some(Duration::from_millis(1500)),
            ),
            (vec![("retry-after", "-10")], None),
            (vec![("retry-after", "inf")], None),
            (vec![("retry-after", "nan")], None),
            (vec![("retry-after", "1e3")], None),
            (vec![("retry-after", "soon")], None),
            (vec![("retry-after", "")], None),
            (
                vec![("retry-after", "99999999999999999999999999999999999")],
                secs(u64::MAX),
            ),
            (vec![("retry-after", "120")], secs(120)),
            (vec![("retry-after", future.as_str())], secs(30)),
            (vec![("retry-after", past.as_str())], secs(0)),
            (
                vec![("retry-after-ms", "250"), ("retry-after", "9")],
                Some(Duration::from_millis(250)),
            ),
            (vec![("retry-after-ms", "x"), ("retry-after", "9")], secs(9)),
            (vec![], None),
        ];
        for (h, want) in table {
            assert_eq!(retry_after(&headers(&h), now), want, "headers {h:?}");
        }
    }

    #[test]
    fn classification_table() {
        let now = SystemTime::now();
        let nested = br#"{"error":{"code":"quota_exceeded","message":"daily token cap reached","details":{"tier":"free"}}}"#;
        let flat = br#"{"error":"Invalid API key","code":"INVALID_KEY","retryable":false}"#;
        let h = headers(&[("x-trace-id", "tr-9"), ("retry-after", "3")]);

        let e = classify(402, &h, nested, now);
        assert!(matches!(e, Error::QuotaExceeded(_)));
        let f = e.http().cloned();
        assert_eq!(
            f.as_ref().and_then(|f| f.code.clone()).as_deref(),
            Some("quota_exceeded")
        );
        assert_eq!(
            f.as_ref().map(|f| f.message.as_str()),
            Some("daily token cap reached")
        );
        assert_eq!(
            f.as_ref().and_then(|f| f.trace_id.clone()).as_deref(),
            Some("tr-9")
        );
        assert!(f.and_then(|f| f.details).is_some());

        let e = classify(401, &h, flat, now);
        assert!(matches!(e, Error::Unauthorized(_)));
        assert_eq!(
            e.http().and_then(|f| f.code.as_deref()),
            Some("INVALID_KEY")
        );
        assert_eq!(
            e.http().map(|f| f.message.as_str()),
            Some("Invalid API key")
        );

        type Case = (u16, fn(&Error) -> bool, Option<&'static str>);
        let cases: [Case; 9] = [
            (
                400,
                |e| matches!(e, Error::BadRequest(_)),
                Some("validation_error"),
            ),
            (
                422,
                |e| matches!(e, Error::BadRequest(_)),
                Some("validation_error"),
            ),
            (
                401,
                |e| matches!(e, Error::Unauthorized(_)),
                Some("invalid_token"),
            ),
            (403, |e| matches!(e, Error::Forbidden(_)), Some("forbidden")),
            (404, |e| matches!(e, Error::NotFound(_)), None),
            (
                429,
                |e| matches!(e, Error::RateLimited(_)),
                Some("rate_limited"),
            ),
            (
                500,
                |e| matches!(e, Error::Upstream(_)),
                Some("server_error"),
            ),
            (
                503,
                |e| matches!(e, Error::Upstream(_)),
                Some("server_error"),
            ),
            (451, |e| matches!(e, Error::Upstream(_)), None),
        ];
        for (status, is, code) in cases {
            let e = classify(status, &HeaderMap::new(), b"<html>oops</html>", now);
            assert!(is(&e), "status {status} gave {e:?}");
            assert_eq!(
                e.http().and_then(|f| f.code.as_deref()),
                code,
                "status {status}"
            );
            assert_eq!(
                e.http().map(|f| f.message.clone()),
                Some(format!("HTTP {status}"))
            );
        }
        let budget = classify(429, &h, br#"{"code":"budget_exceeded","message":"m"}"#, now);
        assert!(matches!(budget, Error::QuotaExceeded(_)));
        assert_eq!(
            classify(429, &h, b"", now).retry_after(),
            Some(Duration::from_secs(3))
        );
    }

    #[test]
    fn messages_are_scrubbed_and_cut() {
        let body = format!(
            r#"{{"error":{{"code":"invalid_token","message":"bad token eyJhbGciOiJub25lIn0.eyJ1aWQiOiJ4In0.sig {}"}}}}"#,
            "x".repeat(500)
        );
        let e = classify(401, &HeaderMap::new(), body.as_bytes(), SystemTime::now());
        let msg = e.http().map(|f| f.message.clone()).unwrap_or_default();
        assert!(msg.starts_with("bad token [redacted] "));
        assert!(msg.chars().count() <= HttpFailure::MAX_MESSAGE + 1);
    }

    #[test]
    fn stream_error_payloads() {
        let v = serde_json::json!({"error":{"code":"server_error","message":"upstream died"}});
        let e = classify_stream_error(&v);
        assert!(matches!(e, Some(Error::StreamError(_))));
        assert_eq!(
            e.as_ref()
                .and_then(|e| e.http())
                .and_then(|f| f.code.as_deref()),
            Some("server_error")
        );
        let flat = serde_json::json!({"error":"boom"});
        assert_eq!(
            classify_stream_error(&flat)
                .and_then(|e| e.http().map(|f| f.message.clone()))
                .as_deref(),
            Some("boom")
        );
        assert!(classify_stream_error(&serde_json::json!({"choices":[]})).is_none());
    }
}
