//! Local signing (§5.1): the v1.5 SDK's `auth.mint()` in sign mode, header and claims exactly,
//! signed RS256 by [`RsaKey::sign_jwt`]. Also demo mode, with the in-process gateway's key.
//!
//! Invariants: a PEM is parsed once per process (a small cache keyed by its SHA-256) and the
//! parsed key is held by the signer; no network I/O; the PEM never appears in an error.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use sha2::Digest as _;

use super::{defaults_scope, Clock, MintDefaults, MintParams, Minted, Minter};
use crate::core::config::SigningConfig;
use crate::core::keys::RsaKey;
use crate::core::protocol::claims::{Claims, TokenHeader, DEFAULT_ROLE};
use crate::core::redact::Secret;
use crate::core::token::BoxFuture;
use crate::core::{Error, Result};

/// Parsed keys by the SHA-256 of their PEM; bounded, since a process sees one or two keys.
fn parsed_key(pem: &Secret) -> Result<Arc<RsaKey>> {
    static CACHE: OnceLock<Mutex<HashMap<[u8; 32], Arc<RsaKey>>>> = OnceLock::new();
    let digest: [u8; 32] = sha2::Sha256::digest(pem.expose().as_bytes()).into();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(key) = cache.lock().ok().and_then(|c| c.get(&digest).cloned()) {
        return Ok(key);
    }
    let key = Arc::new(RsaKey::from_pem(pem.expose()).map_err(|e| match e {
        Error::Crypto(reason) => Error::settings("BEHEST_KEY", format!("{reason}; expected an RSA private key of at least 2048 bits (PKCS#8 or PKCS#1 PEM)")),
        other => other,
    })?);
    if let Ok(mut c) = cache.lock() {
        if c.len() >= 8 {
            c.clear();
        }
        c.insert(digest, Arc::clone(&key));
    }
    Ok(key)
}

/// Signs tokens locally with a tenant key.
pub struct LocalSigner {
    mode: &'static str,
    key: Arc<RsaKey>,
    header: TokenHeader,
    tenant_id: String,
    project_id: String,
    base_url: String,
    issuer: String,
    audience: String,
    defaults: MintDefaults,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for LocalSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalSigner")
            .field("mode", &self.mode)
            .field("key", &self.key)
            .field("kid", &self.header.kid)
            .finish_non_exhaustive()
    }
}

impl LocalSigner {
    /// A signer for `signing` (parsing its PEM, or reusing the parsed key); `mode` is
    /// `localSign` or `demo`. A PEM that is not a usable RSA key is
    /// [`Error::InvalidSettings`] naming `BEHEST_KEY`.
    pub fn new(
        mode: &'static str,
        signing: &SigningConfig,
        base_url: &str,
        issuer: &str,
        audience: &str,
        defaults: MintDefaults,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        let key = parsed_key(&signing.pem)?;
        Ok(Self::with_key(
            mode, key, signing, base_url, issuer, audience, defaults, clock,
        ))
    }

    /// A signer over an already parsed key (`signing.pem` is not read).
    #[allow(clippy::too_many_arguments)]
    pub fn with_key(
        mode: &'static str,
        key: Arc<RsaKey>,
        signing: &SigningConfig,
        base_url: &str,
        issuer: &str,
        audience: &str,
        defaults: MintDefaults,
        clock: Arc<dyn Clock>,
    ) -> Self {
        LocalSigner {
            mode,
            key,
            header: TokenHeader {
                alg: "RS256".into(),
                kid: Some(signing.kid.clone()),
                typ: Some("JWT".into()),
            },
            tenant_id: signing.tenant_id.clone(),
            project_id: signing.project_id.clone(),
            base_url: base_url.to_string(),
            issuer: issuer.to_string(),
            audience: audience.to_string(),
            defaults,
            clock,
        }
    }

    /// The claims a mint with `params` signs, at time `now`.
    pub fn claims(&self, params: &MintParams, now: i64) -> Claims {
        let ttl = params.ttl.unwrap_or(self.defaults.ttl);
        Claims {
            tid: self.tenant_id.clone(),
            pid: self.project_id.clone(),
            uid: params
                .user_id
                .clone()
                .unwrap_or_else(|| self.defaults.user_id.clone()),
            role: DEFAULT_ROLE.to_string(),
            scp: Vec::new(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now,
            nbf: now,
            exp: now.saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX)),
            jti: uuid::Uuid::new_v4().to_string(),
            sid: Some(
                params
                    .session_id
                    .clone()
                    .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            ),
            tier: params.tier.clone().or_else(|| self.defaults.tier.clone()),
        }
    }

    /// Signs a token now: `{token, session_id, ttl, expires_at = exp}`, as the SDK returns.
    pub fn sign(&self, params: &MintParams) -> Result<Minted> {
        let claims = self.claims(params, self.clock.now());
        let token = self.key.sign_jwt(&self.header, &claims)?;
        Ok(Minted {
            token: Secret::new(token),
            ttl: u64::try_from(claims.exp - claims.iat).unwrap_or(0),
            session_id: claims.sid,
            expires_at: Some(claims.exp),
            http_status: None,
            trace_id: None,
        })
    }
}

impl Minter for LocalSigner {
    fn mode(&self) -> &'static str {
        self.mode
    }

    fn scope(&self) -> String {
        format!(
            "{}|{}|{}|{}|{}|{}|{}|{}",
            self.mode,
            self.base_url,
            self.issuer,
            self.audience,
            self.header.kid.as_deref().unwrap_or(""),
            self.tenant_id,
            self.project_id,
            defaults_scope(&self.defaults)
        )
    }

    fn mint<'a>(&'a self, params: &'a MintParams) -> BoxFuture<'a, Result<Minted>> {
        Box::pin(async move { self.sign(params) })
    }
}

#[cfg(test)]
mod tests;
