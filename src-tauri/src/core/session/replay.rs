//! A copy of an error for the waiters of a failed refresh (`Error` is not `Clone` because of
//! its `io::Error` variant).

use crate::core::Error;

/// An equivalent error: same variant and content; an I/O error keeps its kind and text.
pub(crate) fn replay(e: &Error) -> Error {
    #[allow(unreachable_patterns)]
    match e {
        Error::InvalidSettings { name, reason } => Error::InvalidSettings {
            name: name.clone(),
            reason: reason.clone(),
        },
        Error::Unauthorized(f) => Error::Unauthorized(f.clone()),
        Error::Forbidden(f) => Error::Forbidden(f.clone()),
        Error::QuotaExceeded(f) => Error::QuotaExceeded(f.clone()),
        Error::RateLimited(f) => Error::RateLimited(f.clone()),
        Error::BadRequest(f) => Error::BadRequest(f.clone()),
        Error::NotFound(f) => Error::NotFound(f.clone()),
        Error::Upstream(f) => Error::Upstream(f.clone()),
        Error::StreamError(f) => Error::StreamError(f.clone()),
        Error::Network(s) => Error::Network(s.clone()),
        Error::Timeout(s) => Error::Timeout(s.clone()),
        Error::Protocol(s) => Error::Protocol(s.clone()),
        Error::Crypto(s) => Error::Crypto(s.clone()),
        Error::KeyringUnavailable(s) => Error::KeyringUnavailable(s.clone()),
        Error::SecretTooLarge { name, bytes, limit } => Error::SecretTooLarge {
            name: name.clone(),
            bytes: *bytes,
            limit: *limit,
        },
        Error::Storage(s) => Error::Storage(s.clone()),
        Error::Io(io) => Error::Io(std::io::Error::new(io.kind(), io.to_string())),
        // A variant added later: keep its text (already free of secrets) as a network error.
        other => Error::Network(other.to_string()),
    }
}
