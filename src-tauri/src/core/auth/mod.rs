//! Obtaining a token in each auth mode: the integrator's token endpoint, the API-key mint,
//! local signing, and demo (local signing with the in-process gateway's key).
//!
//! Every mode implements [`Minter`]; [`minter_for`] builds the one a [`Config`] selects.
//! Invariants: HTTP error answers are classified only by
//! [`crate::core::protocol::errors::classify`]; the token endpoint is never told the user id or
//! tier; no key, PEM, session credential or token reaches a log line or an error message.
//!
//! Retries: a mint or token-endpoint POST goes through the same retry driver as a chat send
//! (`core::retry::drive`) with a [`RetryPolicy`] (connect errors, 408, 409, 429 and 5xx;
//! `Retry-After` honoured up to its cap; at most 2 retries with backoff); 400, 401, 402, 403, 404
//! and 422 are final at once. The backoff sleeps inside the mint future, so a caller that races
//! the mint against a cancellation token (the chat client does) stops it at once by dropping
//! that future. A [`Minter::scope`] names everything a token depends on (mode, base URL, issuing
//! identity, default user and tier), so a changed configuration never reuses a stored token.

pub mod api_key;
pub mod clock;
pub mod local_sign;
pub mod token_endpoint;

use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use sha2::Digest as _;

pub use api_key::ApiKeyMinter;
pub use clock::{Clock, ManualClock, SystemClock};
pub use local_sign::LocalSigner;
pub use token_endpoint::TokenEndpointMinter;

use crate::core::config::{AuthMode, Config, SigningConfig};
use crate::core::protocol::claims::Tier;
use crate::core::redact::Secret;
use crate::core::retry::{Failure, Retried, RetryPolicy, Sent};
use crate::core::token::BoxFuture;
use crate::core::{Error, Result};

/// The largest mint or token-endpoint answer read, in bytes.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// What a caller may ask of a mint; unset fields take the configured defaults. The token
/// endpoint ignores them: none is ever sent to it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MintParams {
    /// End user (`BEHEST_USER_ID` by default).
    pub user_id: Option<String>,
    /// Tier (`BEHEST_TIER` by default).
    pub tier: Option<Tier>,
    /// Lifetime in seconds (`BEHEST_TTL` by default).
    pub ttl: Option<u64>,
    /// Session id to reuse; a fresh UUIDv4 when unset.
    pub session_id: Option<String>,
}

/// Defaults applied to [`MintParams`] (from [`Config`]).
#[derive(Debug, Clone, PartialEq)]
pub struct MintDefaults {
    /// Default end user.
    pub user_id: String,
    /// Default lifetime in seconds.
    pub ttl: u64,
    /// Default tier.
    pub tier: Option<Tier>,
}

impl MintDefaults {
    /// The defaults of a resolved configuration.
    pub fn from_config(config: &Config) -> Self {
        MintDefaults {
            user_id: config.user_id.clone(),
            ttl: config.ttl,
            tier: config.tier.clone(),
        }
    }
}

/// A freshly obtained token.
#[derive(Debug, Clone, PartialEq)]
pub struct Minted {
    /// The JWT.
    pub token: Secret,
    /// Lifetime in seconds, as the source reported it (the SDK's rule per mode).
    pub ttl: u64,
    /// The session id the token belongs to.
    pub session_id: Option<String>,
    /// Expiry as the source reported it, epoch seconds (the session reads the JWT's `exp`).
    pub expires_at: Option<i64>,
    /// The HTTP status of the answer the token came in (the API-key mint, the token endpoint);
    /// `None` when it was signed locally.
    pub http_status: Option<u16>,
    /// The trace id the answer carried (none for a local signing).
    pub trace_id: Option<String>,
}

/// Obtains tokens in one mode.
pub trait Minter: Send + Sync {
    /// The mode's name ([`AuthMode::name`]).
    fn mode(&self) -> &'static str;
    /// What a token from here is valid for: mode, origin and issuing identity; part of the
    /// session's cache key.
    fn scope(&self) -> String;
    /// Obtains a new token.
    fn mint<'a>(&'a self, params: &'a MintParams) -> BoxFuture<'a, Result<Minted>>;
}

/// What the in-process gateway hands over for demo mode (built by the caller from the
/// gateway's credentials: auth never depends on the gateway).
#[derive(Debug, Clone, PartialEq)]
pub struct DemoCredentials {
    /// The gateway's origin (`http://127.0.0.1:<port>`).
    pub base_url: String,
    /// Its tenant signing key, kid, tenant and project.
    pub signing: SigningConfig,
}

/// Builds the minter a configuration selects. Demo needs `demo` (the in-process gateway's
/// credentials); its origin replaces the configured one.
pub fn minter_for(
    config: &Config,
    demo: Option<&DemoCredentials>,
    client: reqwest::Client,
    clock: Arc<dyn Clock>,
) -> Result<Arc<dyn Minter>> {
    minter_with_retry(config, demo, client, clock, RetryPolicy::default())
}

/// [`minter_for`] with another retry policy for the HTTP modes (tests use millisecond backoffs).
pub fn minter_with_retry(
    config: &Config,
    demo: Option<&DemoCredentials>,
    client: reqwest::Client,
    clock: Arc<dyn Clock>,
    retry: RetryPolicy,
) -> Result<Arc<dyn Minter>> {
    let defaults = MintDefaults::from_config(config);
    Ok(match &config.mode {
        AuthMode::TokenEndpoint { url, session_token } => Arc::new(
            TokenEndpointMinter::new(
                client,
                url.clone(),
                session_token.clone(),
                config.ttl,
                clock,
            )
            .for_base_url(&config.base_url)
            .with_retry(retry),
        ),
        AuthMode::ApiKey { key } => Arc::new(
            ApiKeyMinter::new(
                client,
                config.base_url.clone(),
                key.clone(),
                defaults,
                clock,
            )
            .with_retry(retry),
        ),
        AuthMode::LocalSign(signing) => Arc::new(LocalSigner::new(
            "localSign",
            signing,
            &config.base_url,
            &config.issuer,
            &config.audience,
            defaults,
            clock,
        )?),
        AuthMode::Demo => {
            let demo = demo.ok_or_else(|| {
                Error::settings("demo", "the in-process gateway is not running; expected its credentials to sign demo tokens")
            })?;
            Arc::new(LocalSigner::new(
                "demo",
                &demo.signing,
                &demo.base_url,
                &config.issuer,
                &config.audience,
                defaults,
                clock,
            )?)
        }
    })
}

/// A short, one-way fingerprint of a credential for a cache scope: the first 8 bytes of its
/// SHA-256, hex. Tells two credentials apart without keeping either.
pub(crate) fn fingerprint(secret: &Secret) -> String {
    sha2::Sha256::digest(secret.expose().as_bytes())
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The default user and tier of a scope (`user|tier`, the tier empty when unset).
pub(crate) fn defaults_scope(defaults: &MintDefaults) -> String {
    let tier = defaults
        .tier
        .as_ref()
        .map(Tier::to_string)
        .unwrap_or_default();
    format!("{}|{tier}", defaults.user_id)
}

/// A 2xx answer to a token request.
#[derive(Debug)]
pub(crate) struct Answer {
    /// Its HTTP status (200 to 299).
    pub status: u16,
    /// Its body, at most [`MAX_RESPONSE_BYTES`].
    pub body: Vec<u8>,
    /// Its `X-Trace-Id` (or `X-Request-Id`), for the developer panel.
    pub trace_id: Option<String>,
}

/// POSTs `body` (JSON, or empty) with `bearer`, retrying per `retry` (see the module docs), and
/// returns the 2xx answer; an error answer is classified by the protocol's one classifier.
pub(crate) async fn post_json(
    client: &reqwest::Client,
    url: &str,
    bearer: &Secret,
    body: Option<Vec<u8>>,
    retry: &RetryPolicy,
) -> Result<Answer> {
    let request = TokenRequest {
        client,
        url,
        bearer,
        body: body.map(Bytes::from),
    };
    crate::core::retry::drive(retry, request).await
}

/// A mint or token-endpoint POST, as the retry driver sends it.
struct TokenRequest<'a> {
    client: &'a reqwest::Client,
    url: &'a str,
    bearer: &'a Secret,
    body: Option<Bytes>,
}

impl Retried for TokenRequest<'_> {
    type Output = Answer;
    const WHAT: &'static str = "token";
    // No token to refresh here: a 401 is final at once.
    const REFRESHES: bool = false;

    /// One POST: the 2xx answer, or an error answer or broken connection for the policy to
    /// judge; an error is final (e.g. a header timeout or a broken body).
    async fn send(&mut self) -> Result<Sent<Answer>> {
        let mut request = self
            .client
            .post(self.url)
            .bearer_auth(self.bearer.expose())
            .header(reqwest::header::ACCEPT, "application/json");
        request = match self.body.clone() {
            Some(bytes) => request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(bytes),
            None => request.header(reqwest::header::CONTENT_LENGTH, "0"),
        };
        let mut response = match request.send().await {
            Ok(r) => r,
            // Waiting for the answer timed out: the server may be working on it; not retried
            // (as for chat). A refused, reset or timed-out connection is.
            Err(e) if e.is_timeout() && !e.is_connect() => {
                return Err(crate::core::http::transport_error(e))
            }
            Err(e) => {
                return Ok(Sent::Failed(
                    Failure::Connect,
                    crate::core::http::transport_error(e),
                ))
            }
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(crate::core::http::transport_error)?
        {
            if bytes.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(Error::Protocol(format!(
                    "the answer is over {MAX_RESPONSE_BYTES} bytes"
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        if status >= 400 {
            let error = crate::core::protocol::errors::classify(
                status,
                &headers,
                &bytes,
                SystemTime::now(),
            );
            let failure = Failure::Status {
                status,
                retry_after: error.retry_after(),
            };
            return Ok(Sent::Failed(failure, error));
        }
        if !(200..300).contains(&status) {
            return Err(Error::Protocol(format!("unexpected http status {status}")));
        }
        Ok(Sent::Done(Answer {
            status,
            body: bytes,
            trace_id: crate::core::protocol::errors::trace_id(&headers),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_tells_credentials_apart_without_holding_them() {
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(0));
        let defaults = MintDefaults {
            user_id: "u".into(),
            ttl: 60,
            tier: None,
        };
        let api_key = |key: &str| {
            let base = "http://127.0.0.1:1".to_string();
            ApiKeyMinter::new(
                reqwest::Client::new(),
                base,
                Secret::new(key),
                defaults.clone(),
                Arc::clone(&clock),
            )
            .scope()
        };
        let endpoint = |credential: &str| {
            let url = "http://127.0.0.1:1/token".to_string();
            TokenEndpointMinter::new(
                reqwest::Client::new(),
                url,
                Secret::new(credential),
                60,
                Arc::clone(&clock),
            )
            .for_base_url("http://127.0.0.1:1")
            .scope()
        };
        let (a, b) = (api_key("SENTINEL_KEY_a"), api_key("SENTINEL_KEY_b"));
        let (c, d) = (
            endpoint("SENTINEL_SESSION_c"),
            endpoint("SENTINEL_SESSION_d"),
        );
        assert_eq!(a, api_key("SENTINEL_KEY_a"), "the same key, the same scope");
        assert_ne!(a, b);
        assert_eq!(c, endpoint("SENTINEL_SESSION_c"));
        assert_ne!(c, d);
        for scope in [a, b, c, d] {
            assert!(!scope.contains("SENTINEL"), "{scope}");
        }
    }
}
