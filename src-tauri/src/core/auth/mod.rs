//! Obtaining a token in each auth mode: the integrator's token endpoint, the API-key mint,
//! local signing, and demo (local signing with the in-process gateway's key).
//!
//! Every mode implements [`Minter`]; [`minter_for`] builds the one a [`Config`] selects.
//! Invariants: HTTP error answers are classified only by
//! [`crate::core::protocol::errors::classify`]; the token endpoint is never told the user id or
//! tier; no key, PEM, session credential or token reaches a log line or an error message.

pub mod api_key;
pub mod clock;
pub mod local_sign;
pub mod token_endpoint;

use std::sync::Arc;
use std::time::SystemTime;

pub use api_key::ApiKeyMinter;
pub use clock::{Clock, ManualClock, SystemClock};
pub use local_sign::LocalSigner;
pub use token_endpoint::TokenEndpointMinter;

use crate::core::config::{AuthMode, Config, SigningConfig};
use crate::core::protocol::claims::Tier;
use crate::core::redact::Secret;
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
    let defaults = MintDefaults::from_config(config);
    Ok(match &config.mode {
        AuthMode::TokenEndpoint { url, session_token } => Arc::new(TokenEndpointMinter::new(
            client,
            url.clone(),
            session_token.clone(),
            config.ttl,
            clock,
        )),
        AuthMode::ApiKey { key } => Arc::new(ApiKeyMinter::new(
            client,
            config.base_url.clone(),
            key.clone(),
            defaults,
            clock,
        )),
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

/// POSTs `body` (JSON, or empty) with `bearer`, and returns the body of a 2xx answer; an error
/// answer is classified by the protocol's one classifier.
pub(crate) async fn post_json(
    client: &reqwest::Client,
    url: &str,
    bearer: &Secret,
    body: Option<Vec<u8>>,
) -> Result<Vec<u8>> {
    let mut request = client
        .post(url)
        .bearer_auth(bearer.expose())
        .header(reqwest::header::ACCEPT, "application/json");
    request = match body {
        Some(bytes) => request
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(bytes),
        None => request.header(reqwest::header::CONTENT_LENGTH, "0"),
    };
    let mut response = request
        .send()
        .await
        .map_err(crate::core::http::transport_error)?;
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
        return Err(crate::core::protocol::errors::classify(
            status,
            &headers,
            &bytes,
            SystemTime::now(),
        ));
    }
    if !(200..300).contains(&status) {
        return Err(Error::Protocol(format!("unexpected http status {status}")));
    }
    Ok(bytes)
}
