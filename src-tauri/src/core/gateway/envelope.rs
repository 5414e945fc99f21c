//! The gateway's error answers: one [`ApiError`] turned into the nested data-plane envelope or
//! the flat auth-service one, with `Retry-After` when set.
//!
//! Invariant: messages are fixed texts chosen by the gateway; no token, key or request body is
//! ever echoed into one.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::config::EnvelopeStyle;
use crate::core::protocol::errors::{FlatEnvelope, NestedEnvelope};

/// An error answer, built by handlers and verification.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Machine-readable code (`invalid_token`, `quota_exceeded`, …).
    pub code: &'static str,
    /// Human-readable message.
    pub message: String,
    /// `error.details` of the nested envelope.
    pub details: Option<serde_json::Value>,
    /// `Retry-After` in whole seconds.
    pub retry_after: Option<u64>,
    /// Which envelope to answer with.
    pub style: EnvelopeStyle,
}

impl ApiError {
    /// An error with the nested envelope.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            details: None,
            retry_after: None,
            style: EnvelopeStyle::Nested,
        }
    }
    /// 401 `invalid_token`.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_token", message)
    }
    /// 403 `forbidden`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
    /// 400 `validation_error`.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "validation_error", message)
    }
    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    /// 500 `server_error`.
    pub fn server(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", message)
    }
    /// Adds `details`.
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }
    /// Adds `Retry-After`.
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }
    /// Switches the envelope.
    pub fn styled(mut self, style: EnvelopeStyle) -> Self {
        self.style = style;
        self
    }

    /// The body as JSON, in the chosen envelope.
    pub fn body(&self) -> serde_json::Value {
        let value = match self.style {
            EnvelopeStyle::Nested => serde_json::to_value(NestedEnvelope::new(
                self.code,
                self.message.clone(),
                self.details.clone(),
            )),
            EnvelopeStyle::Flat => serde_json::to_value(FlatEnvelope {
                error: self.message.clone(),
                code: self.code.to_string(),
                retryable: self.status == StatusCode::TOO_MANY_REQUESTS
                    || self.status.is_server_error(),
            }),
        };
        value.unwrap_or(serde_json::Value::Null)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body())).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert("retry-after", HeaderValue::from(secs));
        }
        response
    }
}

/// The code the gateway puts in an envelope it builds for a bare status (scripted faults).
pub fn code_for_status(status: u16) -> &'static str {
    crate::core::protocol::errors::default_code(status).unwrap_or(match status {
        404 => "not_found",
        413 => "payload_too_large",
        _ => "error",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_and_flat_envelopes() {
        let e = ApiError::new(StatusCode::PAYMENT_REQUIRED, "quota_exceeded", "daily cap")
            .with_details(serde_json::json!({"tier": "free"}));
        assert_eq!(
            e.body(),
            serde_json::json!({"error": {"code": "quota_exceeded", "message": "daily cap", "details": {"tier": "free"}}})
        );
        let flat = ApiError::unauthorized("invalid api key").styled(EnvelopeStyle::Flat);
        assert_eq!(
            flat.body(),
            serde_json::json!({"error": "invalid api key", "code": "invalid_token", "retryable": false})
        );
        let r = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "slow")
            .with_retry_after(7)
            .into_response();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            r.headers().get("retry-after").and_then(|v| v.to_str().ok()),
            Some("7")
        );
    }

    #[test]
    fn codes_for_bare_statuses() {
        assert_eq!(code_for_status(402), "quota_exceeded");
        assert_eq!(code_for_status(503), "server_error");
        assert_eq!(code_for_status(413), "payload_too_large");
    }
}
