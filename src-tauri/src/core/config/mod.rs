//! Configuration: the SDK's environment variables, the persisted [`Settings`] and the stored
//! secrets, resolved into one validated [`Config`] with its [`AuthMode`].
//!
//! Precedence (each value): environment variable > setting > SDK default. The mode:
//! `BEHEST_KEY` in the environment, else a token endpoint (`BEHEST_TOKEN_URL` or the
//! `tokenUrl` setting), else a key from the secret store, else — with nothing configured at
//! all — [`AuthMode::Demo`].
//! Invariants: every error is [`Error::InvalidSettings`] naming the variable and saying what is
//! expected; secrets are [`Secret`]s, so `Debug` of a [`Config`] prints none.

pub mod detect;
pub mod env;
pub mod load;
pub mod origin;
pub mod settings;

use std::time::Duration;

pub use detect::{detect_key, DetectedKey};
pub use env::Env;
pub use settings::{settings_path, Settings};

use crate::core::protocol::claims::{
    Tier, DEFAULT_AUDIENCE, DEFAULT_ISSUER, DEFAULT_TTL_SECS, DEFAULT_USER_ID,
};
use crate::core::protocol::DEFAULT_BASE_URL;
use crate::core::redact::Secret;
use crate::core::{Error, Result};

/// The longest token lifetime accepted, in seconds (the mint's documented bound).
pub const MAX_TTL_SECS: u64 = 86_400;
/// Default refresh margin before expiry, in seconds.
pub const DEFAULT_REFRESH_MARGIN_SECS: u64 = 60;

/// What a locally signing client needs (sign mode, and demo against the in-process gateway).
#[derive(Debug, Clone, PartialEq)]
pub struct SigningConfig {
    /// The PEM private key (PKCS#8 or PKCS#1).
    pub pem: Secret,
    /// Key id, the header's `kid`.
    pub kid: String,
    /// Tenant id, the `tid` claim.
    pub tenant_id: String,
    /// Project id, the `pid` claim.
    pub project_id: String,
}

/// How tokens are obtained.
#[derive(Debug, Clone, PartialEq)]
pub enum AuthMode {
    /// The integrator's token endpoint, called with the user's session credential.
    TokenEndpoint {
        /// The endpoint URL.
        url: String,
        /// The session credential sent as bearer.
        session_token: Secret,
    },
    /// The API-key mint (`POST {base}/v1/auth/mint`).
    ApiKey {
        /// `behest_sk_live_…`.
        key: Secret,
    },
    /// Local signing with a tenant key.
    LocalSign(SigningConfig),
    /// Local signing against the in-process gateway, with the key it hands over.
    Demo,
}

impl AuthMode {
    /// The mode's name as shown to users and printed by `mint --json`.
    pub fn name(&self) -> &'static str {
        match self {
            AuthMode::TokenEndpoint { .. } => "tokenEndpoint",
            AuthMode::ApiKey { .. } => "apiKey",
            AuthMode::LocalSign(_) => "localSign",
            AuthMode::Demo => "demo",
        }
    }
}

/// Secrets read from the secret store (the keyring), used when the environment has none.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoredSecrets {
    /// The key (`BEHEST_KEY` form).
    pub key: Option<Secret>,
    /// The token endpoint's session credential.
    pub session_token: Option<Secret>,
}

/// The resolved, validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// API origin without `/v1` and without a trailing slash.
    pub base_url: String,
    /// How tokens are obtained.
    pub mode: AuthMode,
    /// Default end user.
    pub user_id: String,
    /// Token lifetime asked for, in seconds.
    pub ttl: u64,
    /// Tier, when set.
    pub tier: Option<Tier>,
    /// `iss` of locally signed tokens.
    pub issuer: String,
    /// `aud` of locally signed tokens.
    pub audience: String,
    /// Refresh this long before expiry.
    pub refresh_margin: Duration,
}

/// A value from the environment (named by its variable) or else from settings (named
/// `settings.<field>`).
fn pick<'a>(
    env: &'a Env,
    var: &'static str,
    setting: Option<&'a str>,
    field: &str,
) -> Option<(String, &'a str)> {
    if let Some(v) = env.get(var) {
        return Some((var.to_string(), v));
    }
    setting
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| (format!("settings.{field}"), v))
}

fn parse_ttl(name: &str, raw: &str) -> Result<u64> {
    match raw.parse::<u64>() {
        Ok(n) if (1..=MAX_TTL_SECS).contains(&n) => Ok(n),
        _ => Err(Error::settings(
            name,
            format!("expected a whole number of seconds from 1 to {MAX_TTL_SECS}"),
        )),
    }
}

/// Parses a tier: an integer id (the SDK's form) or a name such as `pro`.
pub fn parse_tier(name: &str, raw: &str) -> Result<Tier> {
    let raw = raw.trim();
    if let Ok(n) = raw.parse::<i64>() {
        return Ok(Tier::Id(n));
    }
    let word = !raw.is_empty()
        && raw.len() <= 32
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if word {
        return Ok(Tier::Name(raw.to_string()));
    }
    Err(Error::settings(
        name,
        "expected an integer tier id (1 free, 2 pro, 3 max) or a tier name",
    ))
}

/// Checks an identifier-like value: 1 to 255 characters, no control characters.
pub fn check_id(name: &str, value: &str) -> Result<String> {
    let ok =
        !value.is_empty() && value.chars().count() <= 255 && !value.chars().any(char::is_control);
    if ok {
        Ok(value.to_string())
    } else {
        Err(Error::settings(
            name,
            "expected 1 to 255 characters without control characters",
        ))
    }
}

fn signing_config(env: &Env, settings: &Settings, pem: Secret) -> Result<SigningConfig> {
    let kid = pick(env, env::BEHEST_KID, settings.kid.as_deref(), "kid");
    let tid = pick(
        env,
        env::BEHEST_TENANT_ID,
        settings.tenant_id.as_deref(),
        "tenantId",
    );
    let pid = pick(
        env,
        env::BEHEST_PROJECT_ID,
        settings.project_id.as_deref(),
        "projectId",
    );
    let (Some(kid), Some(tid), Some(pid)) = (&kid, &tid, &pid) else {
        let missing: Vec<&str> = [
            (env::BEHEST_KID, &kid),
            (env::BEHEST_TENANT_ID, &tid),
            (env::BEHEST_PROJECT_ID, &pid),
        ]
        .iter()
        .filter(|(_, v)| v.is_none())
        .map(|(n, _)| *n)
        .collect();
        return Err(Error::settings(
            missing.join(", "),
            "is required in sign mode (a behest_pk_ or base64 PEM key); expected the key id, tenant id and project id of the signing key",
        ));
    };
    Ok(SigningConfig {
        pem,
        kid: check_id(&kid.0, kid.1)?,
        tenant_id: check_id(&tid.0, tid.1)?,
        project_id: check_id(&pid.0, pid.1)?,
    })
}

fn key_mode(env: &Env, settings: &Settings, variable: &str, key: &Secret) -> Result<AuthMode> {
    Ok(match detect_key(variable, key)? {
        DetectedKey::ApiKey(key) => AuthMode::ApiKey { key },
        DetectedKey::SigningKey(pem) => AuthMode::LocalSign(signing_config(env, settings, pem)?),
    })
}

impl Config {
    /// Resolves the configuration from the environment, the settings and the stored secrets.
    pub fn resolve(env: &Env, settings: &Settings, stored: &StoredSecrets) -> Result<Config> {
        let base = pick(
            env,
            env::BEHEST_BASE_URL,
            settings.base_url.as_deref(),
            "baseUrl",
        );
        let token_url = pick(
            env,
            env::BEHEST_TOKEN_URL,
            settings.token_url.as_deref(),
            "tokenUrl",
        );
        let mode = if let Some((variable, key)) = env.key() {
            key_mode(env, settings, variable, &key)?
        } else if let Some((name, url)) = &token_url {
            let url = origin::check_token_url(name, url)?;
            let session_token = env
                .secret(env::BEHEST_SESSION_TOKEN)
                .or_else(|| stored.session_token.clone())
                .filter(|s| !s.expose().trim().is_empty())
                .ok_or_else(|| {
                    Error::settings(env::BEHEST_SESSION_TOKEN, "is required with a token endpoint; expected the user's session credential (or sign in)")
                })?;
            AuthMode::TokenEndpoint { url, session_token }
        } else if let Some(key) = &stored.key {
            key_mode(env, settings, "stored key", key)?
        } else if base.is_some() || env.get(env::BEHEST_SESSION_TOKEN).is_some() {
            return Err(Error::settings(
                env::BEHEST_KEY,
                "is not set; expected an API key (behest_sk_live_…) or a signing key (behest_pk_…), or BEHEST_TOKEN_URL with BEHEST_SESSION_TOKEN",
            ));
        } else {
            AuthMode::Demo
        };
        let base_url = match &base {
            Some((name, raw)) => origin::normalize_base_url(name, raw)?,
            None => DEFAULT_BASE_URL.to_string(),
        };
        let user_id = match pick(
            env,
            env::BEHEST_USER_ID,
            settings.user_id.as_deref(),
            "userId",
        ) {
            Some((name, v)) => check_id(&name, v)?,
            None => DEFAULT_USER_ID.to_string(),
        };
        let ttl = match (env.raw(env::BEHEST_TTL), settings.ttl) {
            (Some(raw), _) => parse_ttl(env::BEHEST_TTL, raw.trim())?,
            (None, Some(n)) => parse_ttl("settings.ttl", &n.to_string())?,
            (None, None) => DEFAULT_TTL_SECS,
        };
        // Like the SDK, a BEHEST_TIER that is set but empty is an error, not "unset".
        let tier = match (env.raw(env::BEHEST_TIER), &settings.tier) {
            (Some(raw), _) => Some(parse_tier(env::BEHEST_TIER, raw)?),
            (None, tier) => tier.clone(),
        };
        let issuer = pick(
            env,
            env::BEHEST_ISSUER,
            settings.issuer.as_deref(),
            "issuer",
        )
        .map(|(_, v)| v.to_string())
        .unwrap_or_else(|| DEFAULT_ISSUER.to_string());
        let audience = pick(
            env,
            env::BEHEST_AUDIENCE,
            settings.audience.as_deref(),
            "audience",
        )
        .map(|(_, v)| v.to_string())
        .unwrap_or_else(|| DEFAULT_AUDIENCE.to_string());
        let margin = settings
            .refresh_margin_secs
            .unwrap_or(DEFAULT_REFRESH_MARGIN_SECS);
        if margin > MAX_TTL_SECS {
            return Err(Error::settings(
                "settings.refreshMarginSecs",
                format!("expected 0 to {MAX_TTL_SECS} seconds"),
            ));
        }
        Ok(Config {
            base_url,
            mode,
            user_id,
            ttl,
            tier,
            issuer,
            audience,
            refresh_margin: Duration::from_secs(margin),
        })
    }
}

#[cfg(test)]
mod tests;
