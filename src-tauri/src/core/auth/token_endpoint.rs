//! The integrator's token endpoint (§10): `POST <url>` with the user's session credential as
//! bearer and no body; the answer is a [`TokenBundle`] `{token, ttl, sessionId, expiresAt}`
//! (snake_case accepted too).
//!
//! Invariant: the client never tells the endpoint a user id, tier, ttl or session: the
//! backend derives them from the session credential. A token is scoped to the endpoint, the
//! base URL it is used against and the session credential (by fingerprint), so signing in as
//! someone else or pointing `BEHEST_BASE_URL` elsewhere never reuses a stored token.

use std::sync::Arc;

use super::{fingerprint, post_json, Clock, MintParams, Minted, Minter};
use crate::core::protocol::claims::inspect;
use crate::core::protocol::mint::TokenBundle;
use crate::core::redact::Secret;
use crate::core::retry::RetryPolicy;
use crate::core::token::BoxFuture;
use crate::core::{Error, Result};

/// Fetches token bundles from the integrator's backend.
pub struct TokenEndpointMinter {
    client: reqwest::Client,
    url: String,
    base_url: String,
    session_token: Secret,
    fallback_ttl: u64,
    clock: Arc<dyn Clock>,
    retry: RetryPolicy,
}

impl std::fmt::Debug for TokenEndpointMinter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenEndpointMinter")
            .field("url", &self.url)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl TokenEndpointMinter {
    /// A minter calling `url`; `fallback_ttl` is used only when the answer gives no lifetime
    /// at all (no `ttl`, no `expiresAt`, no readable `exp`).
    pub fn new(
        client: reqwest::Client,
        url: String,
        session_token: Secret,
        fallback_ttl: u64,
        clock: Arc<dyn Clock>,
    ) -> Self {
        TokenEndpointMinter {
            client,
            url,
            base_url: String::new(),
            session_token,
            fallback_ttl,
            clock,
            retry: RetryPolicy::default(),
        }
    }

    /// The origin the tokens are used against (`BEHEST_BASE_URL`); part of the cache scope.
    pub fn for_base_url(mut self, base_url: &str) -> Self {
        self.base_url = base_url.to_string();
        self
    }

    /// Retries the endpoint per `retry` (the default policy otherwise).
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    async fn fetch(&self) -> Result<Minted> {
        tracing::debug!(url = %self.url, "fetching a token from the token endpoint");
        let reply = post_json(
            &self.client,
            &self.url,
            &self.session_token,
            None,
            &self.retry,
        )
        .await?;
        let bundle: TokenBundle = serde_json::from_slice(&reply.body)
            .map_err(|_| Error::Protocol("the token endpoint's answer has no token (expected {token, ttl, sessionId, expiresAt})".into()))?;
        if bundle.token.trim().is_empty() {
            return Err(Error::Protocol(
                "the token endpoint answered an empty token".into(),
            ));
        }
        let now = self.clock.now();
        let claims = inspect(&bundle.token).map(|i| i.claims);
        let claim = |name: &str| {
            claims
                .as_ref()
                .and_then(|c| c.get(name))
                .and_then(serde_json::Value::as_i64)
        };
        let ttl = bundle
            .ttl
            .or_else(|| {
                bundle
                    .expires_at
                    .and_then(|at| u64::try_from(at - now).ok())
            })
            .or_else(|| {
                claim("exp")
                    .zip(claim("iat"))
                    .and_then(|(e, i)| u64::try_from(e - i).ok())
            })
            .unwrap_or(self.fallback_ttl);
        let session_id = bundle.session_id.clone().or_else(|| {
            claims
                .as_ref()
                .and_then(|c| c.get("sid"))
                .and_then(serde_json::Value::as_str)
                .map(str::to_string)
        });
        Ok(Minted {
            token: Secret::new(bundle.token),
            ttl,
            session_id,
            expires_at: bundle.expires_at,
            http_status: Some(reply.status),
            trace_id: reply.trace_id,
        })
    }
}

impl Minter for TokenEndpointMinter {
    fn mode(&self) -> &'static str {
        "tokenEndpoint"
    }

    fn scope(&self) -> String {
        format!(
            "tokenEndpoint|{}|{}|{}",
            self.base_url,
            self.url,
            fingerprint(&self.session_token)
        )
    }

    fn mint<'a>(&'a self, _params: &'a MintParams) -> BoxFuture<'a, Result<Minted>> {
        Box::pin(self.fetch())
    }
}
