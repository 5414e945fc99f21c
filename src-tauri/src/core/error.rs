//! The one error type of the core.
//!
//! Variants name what the UI must react to. Cancellation is an outcome, not an error.
//! Invariant: no message built here contains a token, key, PEM, Authorization header or a full
//! response body; server-provided text goes through [`crate::core::redact::scrub`] and is cut to
//! [`HttpFailure::MAX_MESSAGE`] characters.

use std::time::Duration;

/// Shorthand for results of the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An HTTP error answer from the gateway, the mint endpoint or a token endpoint, classified.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpFailure {
    /// The HTTP status (0 for an error event inside a 200 stream).
    pub status: u16,
    /// The machine-readable code from the body (`error.code` or the flat `code`), or the
    /// status's documented default.
    pub code: Option<String>,
    /// The human-readable message from the body, scrubbed and shortened, or `HTTP <status>`.
    pub message: String,
    /// `X-Trace-Id` (or `X-Request-Id`) of the answer, for support.
    pub trace_id: Option<String>,
    /// How long the server asked us to wait (`Retry-After`, `retry-after-ms`), uncapped.
    pub retry_after: Option<Duration>,
    /// `error.details` of the nested envelope (tier, limit, usage), when present.
    pub details: Option<serde_json::Value>,
}

impl HttpFailure {
    /// The longest server message kept, in characters.
    pub const MAX_MESSAGE: usize = 200;
}

impl std::fmt::Display for HttpFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.status == 0 {
            write!(f, "{}", self.message)?;
        } else {
            write!(f, "http {}: {}", self.status, self.message)?;
        }
        if let Some(code) = &self.code {
            write!(f, " ({code})")?;
        }
        if let Some(trace) = &self.trace_id {
            write!(f, " [trace {trace}]")?;
        }
        Ok(())
    }
}

/// Everything that can go wrong in the core.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting or environment variable is missing or malformed; `name` is what to change.
    #[error("invalid setting {name}: {reason}")]
    InvalidSettings {
        /// The setting or environment variable, e.g. `BEHEST_KEY`.
        name: String,
        /// What is wrong and what is expected.
        reason: String,
    },
    /// The credential or token was refused (401): sign in again or fix the key.
    #[error("unauthorized: {0}")]
    Unauthorized(Box<HttpFailure>),
    /// The token is valid but not allowed here (403): wrong tenant, project, or a killed project.
    #[error("forbidden: {0}")]
    Forbidden(Box<HttpFailure>),
    /// The tier's daily quota is used up (402): upgrade or wait for tomorrow.
    #[error("quota exceeded: {0}")]
    QuotaExceeded(Box<HttpFailure>),
    /// Too many requests (429); `retry_after` says how long to wait.
    #[error("rate limited: {0}")]
    RateLimited(Box<HttpFailure>),
    /// The request was malformed or named something unknown (400, 422).
    #[error("bad request: {0}")]
    BadRequest(Box<HttpFailure>),
    /// The resource does not exist (404), e.g. an unknown thread or slug.
    #[error("not found: {0}")]
    NotFound(Box<HttpFailure>),
    /// The server failed (5xx) or answered with another unexpected status.
    #[error("server error: {0}")]
    Upstream(Box<HttpFailure>),
    /// The server reported an error inside an otherwise successful stream.
    #[error("stream error: {0}")]
    StreamError(Box<HttpFailure>),
    /// The connection could not be made or broke before an answer arrived.
    #[error("network error: {0}")]
    Network(String),
    /// No answer (or no next byte of a stream) within the configured time.
    #[error("timed out: {0}")]
    Timeout(String),
    /// The server's answer did not follow the protocol (bad JSON, missing fields, oversized).
    #[error("protocol error: {0}")]
    Protocol(String),
    /// A key or token could not be parsed, signed or verified.
    #[error("crypto error: {0}")]
    Crypto(String),
    /// The OS keyring could not be reached; secrets are held in memory only.
    #[error("keyring unavailable: {0}")]
    KeyringUnavailable(String),
    /// A secret is larger than every platform keyring accepts.
    #[error("secret {name} is {bytes} bytes, over the {limit}-byte keyring limit")]
    SecretTooLarge {
        /// Which secret.
        name: String,
        /// Its size as the platform would count it.
        bytes: usize,
        /// The platform limit.
        limit: usize,
    },
    /// The history database or another local file failed.
    #[error("storage error: {0}")]
    Storage(String),
    /// Data the user supplied (an import file, a conversation id, a query) is malformed or
    /// names nothing that exists; `what` says which input.
    #[error("invalid {what}: {reason}")]
    InvalidInput {
        /// Which input, e.g. `import file` or `conversation id`.
        what: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A local file could not be read or written.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    /// Builds [`Error::InvalidSettings`].
    pub fn settings(name: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidSettings {
            name: name.into(),
            reason: reason.into(),
        }
    }

    /// The HTTP answer behind this error, if it came from one.
    pub fn http(&self) -> Option<&HttpFailure> {
        match self {
            Error::Unauthorized(f)
            | Error::Forbidden(f)
            | Error::QuotaExceeded(f)
            | Error::RateLimited(f)
            | Error::BadRequest(f)
            | Error::NotFound(f)
            | Error::Upstream(f)
            | Error::StreamError(f) => Some(f),
            _ => None,
        }
    }

    /// The trace id of the answer behind this error, if any.
    pub fn trace_id(&self) -> Option<&str> {
        self.http().and_then(|f| f.trace_id.as_deref())
    }

    /// How long the server asked us to wait, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        self.http().and_then(|f| f.retry_after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(status: u16) -> Box<HttpFailure> {
        Box::new(HttpFailure {
            status,
            code: Some("rate_limited".into()),
            message: "slow down".into(),
            trace_id: Some("tr-1".into()),
            retry_after: Some(Duration::from_secs(2)),
            details: None,
        })
    }

    #[test]
    fn messages_are_lowercase_without_trailing_punctuation() {
        let e = Error::RateLimited(failure(429));
        let text = e.to_string();
        assert_eq!(
            text,
            "rate limited: http 429: slow down (rate_limited) [trace tr-1]"
        );
        assert_eq!(e.retry_after(), Some(Duration::from_secs(2)));
        assert_eq!(e.trace_id(), Some("tr-1"));
        let s = Error::settings(
            "BEHEST_KEY",
            "expected behest_sk_live_ followed by 32 hex digits",
        );
        assert!(s.to_string().starts_with("invalid setting BEHEST_KEY"));
        assert!(s.http().is_none());
    }
}
