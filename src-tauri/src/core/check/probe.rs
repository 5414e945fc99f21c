//! The few HTTP exchanges the checks make themselves (a GET of the JWKS, usage and the CORS
//! preflight): each bounded in time and size, timed to the response headers, and reporting the
//! server's `Date`.
//!
//! Invariants: a bearer, when sent, goes only in a sensitive `Authorization` header; transport
//! errors are reported without their URL ([`transport_error`]).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::{HeaderMap, HeaderValue, AUTHORIZATION, DATE};
use tokio::time::Instant;

use crate::core::http::transport_error;
use crate::core::protocol::errors::classify;
use crate::core::redact::Secret;
use crate::core::{Error, Result};

/// The largest body read by a check, in bytes.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// One answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// Body (at most [`MAX_BODY_BYTES`]).
    pub body: Vec<u8>,
    /// Time from sending to the response headers (time to first byte).
    pub ttfb: Duration,
    /// The server's `Date`, epoch seconds.
    pub server_date: Option<i64>,
}

impl Answer {
    /// The answer as a typed error when its status is 400 or more.
    pub fn error(&self) -> Option<Error> {
        (self.status >= 400)
            .then(|| classify(self.status, &self.headers, &self.body, SystemTime::now()))
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    }
}

/// Builds `Authorization: Bearer …`, marked sensitive.
pub fn bearer_header(token: &Secret) -> Result<HeaderValue> {
    let mut value = HeaderValue::try_from(format!("Bearer {}", token.expose()))
        .map_err(|_| Error::Crypto("the token holds characters not allowed in a header".into()))?;
    value.set_sensitive(true);
    Ok(value)
}

/// Sends `request` (with an optional bearer) within `timeout`, reads at most
/// [`MAX_BODY_BYTES`] of the body.
pub async fn exchange(
    request: reqwest::RequestBuilder,
    bearer: Option<&Secret>,
    timeout: Duration,
) -> Result<Answer> {
    let request = match bearer {
        Some(token) => request.header(AUTHORIZATION, bearer_header(token)?),
        None => request,
    };
    let started = Instant::now();
    let work = async {
        let mut response = request.send().await.map_err(transport_error)?;
        let ttfb = started.elapsed();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
            let room = MAX_BODY_BYTES.saturating_sub(body.len());
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if room <= chunk.len() {
                break;
            }
        }
        let server_date = headers
            .get(DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok())
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .and_then(|d| i64::try_from(d.as_secs()).ok());
        Ok(Answer {
            status,
            headers,
            body,
            ttfb,
            server_date,
        })
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| Error::Timeout(format!("no answer within {} s", timeout.as_secs())))?
}

/// Milliseconds of a duration, for details.
pub fn millis(d: Duration) -> u128 {
    d.as_millis()
}
