//! The one error every command rejects with: `{kind, message, traceId?, retryAfter?}`.
//!
//! `kind` is a closed camelCase set the UI switches on; it is built by one `From<core::Error>`.
//! Invariant: `message` is the core error's text, which never holds a token, key or PEM (the
//! core scrubs server text); argument errors are scrubbed again here because serde quotes the
//! offending value.

use serde::Serialize;

use crate::core::redact;
use crate::core::Error;

/// What went wrong, as the UI switches on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ErrorKind {
    /// A setting or environment variable is missing or malformed.
    InvalidSettings,
    /// The credential or token was refused: sign in again or fix the key.
    Unauthorized,
    /// Not allowed for this tenant or project.
    Forbidden,
    /// The daily quota is used up.
    QuotaExceeded,
    /// Too many requests; see `retryAfter`.
    RateLimited,
    /// The gateway refused the request as malformed.
    BadRequest,
    /// Unknown conversation, message or route.
    NotFound,
    /// The gateway failed (5xx or unexpected status).
    Upstream,
    /// The gateway reported an error inside a stream.
    StreamError,
    /// The gateway could not be reached.
    Network,
    /// No answer in time.
    Timeout,
    /// The gateway's answer broke the protocol.
    Protocol,
    /// A key or token could not be parsed, signed or verified.
    Crypto,
    /// The OS keyring could not be used.
    KeyringUnavailable,
    /// A secret is larger than the keyring accepts.
    SecretTooLarge,
    /// The history database or a local file failed.
    Storage,
    /// A command argument was missing or malformed.
    InvalidArgument,
    /// Another request already uses this request id.
    Busy,
    /// A bug or an error the core has no kind for yet.
    Internal,
}

/// The serialized error of every command.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandError {
    /// What went wrong.
    pub kind: ErrorKind,
    /// A lowercase, secret-free sentence for people.
    pub message: String,
    /// The gateway's trace id, for support.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// Seconds the server asked us to wait.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// `chat` only: how many Channel messages were sent before this answer (Tauri does not
    /// order them against it, so the page waits for that many before it settles the view).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<u32>,
}

impl CommandError {
    /// An error of `kind` with `message` (scrubbed and shortened).
    pub fn new(kind: ErrorKind, message: impl AsRef<str>) -> Self {
        CommandError {
            kind,
            message: redact::excerpt(message.as_ref(), 300),
            trace_id: None,
            retry_after: None,
            events: None,
        }
    }

    /// A missing or malformed argument named `name`.
    pub fn invalid_argument(name: &str, detail: impl AsRef<str>) -> Self {
        CommandError::new(
            ErrorKind::InvalidArgument,
            format!("invalid argument {name}: {}", detail.as_ref()),
        )
    }
}

impl std::fmt::Display for CommandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)
    }
}

impl std::error::Error for CommandError {}

impl From<Error> for CommandError {
    fn from(error: Error) -> Self {
        let kind = match &error {
            Error::InvalidSettings { .. } => ErrorKind::InvalidSettings,
            Error::Unauthorized(_) => ErrorKind::Unauthorized,
            Error::Forbidden(_) => ErrorKind::Forbidden,
            Error::QuotaExceeded(_) => ErrorKind::QuotaExceeded,
            Error::RateLimited(_) => ErrorKind::RateLimited,
            Error::BadRequest(_) => ErrorKind::BadRequest,
            Error::NotFound(_) => ErrorKind::NotFound,
            Error::Upstream(_) => ErrorKind::Upstream,
            Error::StreamError(_) => ErrorKind::StreamError,
            Error::Network(_) => ErrorKind::Network,
            Error::Timeout(_) => ErrorKind::Timeout,
            Error::Protocol(_) => ErrorKind::Protocol,
            Error::Crypto(_) => ErrorKind::Crypto,
            Error::KeyringUnavailable(_) => ErrorKind::KeyringUnavailable,
            Error::SecretTooLarge { .. } => ErrorKind::SecretTooLarge,
            Error::Storage(_) | Error::Io(_) => ErrorKind::Storage,
            // No catch-all: a variant added to the core must be given a kind here.
            Error::InvalidInput { .. } => ErrorKind::InvalidArgument,
        };
        CommandError {
            kind,
            message: redact::excerpt(&error.to_string(), 300),
            trace_id: error.trace_id().map(str::to_string),
            retry_after: error.retry_after().map(|d| d.as_secs()),
            events: None,
        }
    }
}

impl From<crate::core::chat::ChatFailure> for CommandError {
    fn from(failure: crate::core::chat::ChatFailure) -> Self {
        let trace = failure.trace_id.clone();
        let mut error = CommandError::from(failure.error);
        if error.trace_id.is_none() {
            error.trace_id = trace;
        }
        error
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::core::HttpFailure;

    fn http(status: u16) -> Box<HttpFailure> {
        Box::new(HttpFailure {
            status,
            code: None,
            message: "refused eyJhbGciOiJSUzI1NiJ9.eyJ1aWQiOiJhIn0.c2ln".into(),
            trace_id: Some("tr-9".into()),
            retry_after: Some(Duration::from_secs(7)),
            details: None,
        })
    }

    fn kind_of(error: Error) -> ErrorKind {
        CommandError::from(error).kind
    }

    #[test]
    fn each_core_variant_maps_to_its_kind() {
        use ErrorKind as K;
        let cases: Vec<(Error, ErrorKind)> = vec![
            (Error::settings("BEHEST_KEY", "missing"), K::InvalidSettings),
            (Error::Unauthorized(http(401)), K::Unauthorized),
            (Error::Forbidden(http(403)), K::Forbidden),
            (Error::QuotaExceeded(http(402)), K::QuotaExceeded),
            (Error::RateLimited(http(429)), K::RateLimited),
            (Error::BadRequest(http(400)), K::BadRequest),
            (Error::NotFound(http(404)), K::NotFound),
            (Error::Upstream(http(502)), K::Upstream),
            (Error::StreamError(http(0)), K::StreamError),
            (Error::Network("refused".into()), K::Network),
            (Error::Timeout("idle".into()), K::Timeout),
            (Error::Protocol("bad json".into()), K::Protocol),
            (Error::Crypto("bad pem".into()), K::Crypto),
            (
                Error::KeyringUnavailable("no dbus".into()),
                K::KeyringUnavailable,
            ),
            (
                Error::SecretTooLarge {
                    name: "key".into(),
                    bytes: 3000,
                    limit: 2560,
                },
                K::SecretTooLarge,
            ),
            (Error::Storage("locked".into()), K::Storage),
            (Error::Io(std::io::Error::other("disk")), K::Storage),
            (
                Error::InvalidInput {
                    what: "conversation id".into(),
                    reason: "no conversation x".into(),
                },
                K::InvalidArgument,
            ),
        ];
        for (error, want) in cases {
            assert_eq!(kind_of(error), want);
        }
    }

    #[test]
    fn http_errors_carry_trace_and_retry_after_and_no_token() {
        let e = CommandError::from(Error::RateLimited(http(429)));
        assert_eq!(e.trace_id.as_deref(), Some("tr-9"));
        assert_eq!(e.retry_after, Some(7));
        assert!(!e.message.contains("eyJ"), "{}", e.message);
        let json = serde_json::to_value(&e).unwrap_or_default();
        assert_eq!(json["kind"], "rateLimited");
        assert_eq!(json["traceId"], "tr-9");
        assert_eq!(json["retryAfter"], 7);
    }

    #[test]
    fn optional_fields_are_omitted_and_kinds_are_camel_case() {
        let e = CommandError::from(Error::KeyringUnavailable("no dbus".into()));
        let json = serde_json::to_value(&e).unwrap_or_default();
        assert_eq!(json["kind"], "keyringUnavailable");
        assert!(json.get("traceId").is_none());
        assert!(json.get("retryAfter").is_none());
    }

    #[test]
    fn argument_errors_are_scrubbed() {
        let e = CommandError::invalid_argument(
            "value",
            "invalid type: string \"behest_sk_live_0123456789abcdef0123456789abcdef\"",
        );
        assert_eq!(e.kind, ErrorKind::InvalidArgument);
        assert!(!e.message.contains("behest_sk_live_0123"), "{}", e.message);
    }

    #[test]
    fn chat_failures_keep_their_trace_id() {
        let failure = crate::core::chat::ChatFailure {
            error: Error::Network("reset".into()),
            text: "partial".into(),
            trace_id: Some("tr-stream".into()),
        };
        let e = CommandError::from(failure);
        assert_eq!(e.kind, ErrorKind::Network);
        assert_eq!(e.trace_id.as_deref(), Some("tr-stream"));
    }
}
