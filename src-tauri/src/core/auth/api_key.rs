//! API-key mint (§4), exactly as the SDK calls it: `POST {base}/v1/auth/mint`, bearer = the
//! API key, body `{user_id, role, ttl, session_id[, tier]}`; the answer's token is `jwt` else
//! `access_token`, its ttl the answer's integer `ttl` else the requested one (`expires_in` is
//! ignored, like the SDK), its session id the answer's else the one sent.
//!
//! Invariant: the key is sent only as the bearer of this one request. A token is scoped to the
//! base URL, the key (by fingerprint) and the default user and tier.

use std::sync::Arc;

use super::{
    defaults_scope, fingerprint, post_json, Clock, MintDefaults, MintParams, Minted, Minter,
};
use crate::core::protocol::claims::DEFAULT_ROLE;
use crate::core::protocol::mint::{MintRequest, MintResponse};
use crate::core::protocol::paths;
use crate::core::redact::Secret;
use crate::core::retry::RetryPolicy;
use crate::core::token::BoxFuture;
use crate::core::{Error, Result};

/// Mints tokens with an API key.
pub struct ApiKeyMinter {
    client: reqwest::Client,
    base_url: String,
    key: Secret,
    defaults: MintDefaults,
    clock: Arc<dyn Clock>,
    retry: RetryPolicy,
}

impl std::fmt::Debug for ApiKeyMinter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeyMinter")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl ApiKeyMinter {
    /// A minter against the origin `base_url` (without `/v1`).
    pub fn new(
        client: reqwest::Client,
        base_url: String,
        key: Secret,
        defaults: MintDefaults,
        clock: Arc<dyn Clock>,
    ) -> Self {
        ApiKeyMinter {
            client,
            base_url,
            key,
            defaults,
            clock,
            retry: RetryPolicy::default(),
        }
    }

    /// Retries the mint per `retry` (the default policy otherwise).
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The request body a mint with `params` sends.
    pub fn request(&self, params: &MintParams) -> MintRequest {
        MintRequest {
            user_id: params
                .user_id
                .clone()
                .unwrap_or_else(|| self.defaults.user_id.clone()),
            role: Some(DEFAULT_ROLE.to_string()),
            ttl: Some(params.ttl.unwrap_or(self.defaults.ttl)),
            session_id: Some(
                params
                    .session_id
                    .clone()
                    .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            ),
            tier: params.tier.clone().or_else(|| self.defaults.tier.clone()),
        }
    }

    async fn mint_now(&self, params: &MintParams) -> Result<Minted> {
        let request = self.request(params);
        let body = serde_json::to_vec(&request)
            .map_err(|e| Error::Protocol(format!("cannot encode the mint request: {e}")))?;
        let url = format!("{}{}", self.base_url, paths::MINT);
        tracing::debug!(%url, user = %request.user_id, "minting a token with the api key");
        let reply = post_json(&self.client, &url, &self.key, Some(body), &self.retry).await?;
        let answer: MintResponse = serde_json::from_slice(&reply.body).map_err(|_| {
            Error::Protocol("the mint answer is not the expected json object".into())
        })?;
        let token = answer
            .token()
            .ok_or_else(|| Error::Protocol("mint response missing jwt/access_token".into()))?;
        let requested_ttl = request.ttl.unwrap_or(self.defaults.ttl);
        let ttl = answer
            .ttl
            .as_ref()
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(requested_ttl);
        Ok(Minted {
            token: Secret::new(token),
            ttl,
            session_id: answer.session_id.clone().or(request.session_id),
            expires_at: Some(
                self.clock
                    .now()
                    .saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX)),
            ),
            http_status: Some(reply.status),
            trace_id: reply.trace_id,
        })
    }
}

impl Minter for ApiKeyMinter {
    fn mode(&self) -> &'static str {
        "apiKey"
    }

    fn scope(&self) -> String {
        format!(
            "apiKey|{}|{}|{}",
            self.base_url,
            fingerprint(&self.key),
            defaults_scope(&self.defaults)
        )
    }

    fn mint<'a>(&'a self, params: &'a MintParams) -> BoxFuture<'a, Result<Minted>> {
        Box::pin(self.mint_now(params))
    }
}
