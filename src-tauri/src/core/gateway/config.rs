//! What a gateway serves: projects, keys, sessions, limits, verification knobs and the responder.
//!
//! Invariant: every secret here (API keys, session tokens, private keys) is a [`Secret`] or an
//! [`RsaKey`], so `Debug` of a config never prints one.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rand::RngCore as _;

use super::responder::{DemoResponder, Responder};
use crate::core::keys::RsaKey;
use crate::core::protocol::claims::{Tier, ACCEPTED_ISSUERS, DEFAULT_AUDIENCE};
use crate::core::protocol::API_KEY_PREFIX;
use crate::core::redact::Secret;
use crate::core::{Error, Result};

/// The largest leeway on `exp`/`nbf` a config may ask for, in seconds.
pub const MAX_LEEWAY_SECS: u64 = 60;
/// The largest bearer token accepted, in bytes.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Limits of one tier, per `(project, uid)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TierLimits {
    /// Requests per minute before 429.
    pub rpm: u64,
    /// Requests per day before 402.
    pub requests_per_day: u64,
    /// Tokens per day before 402.
    pub tokens_per_day: u64,
}

/// The documented default limits (§8): `free`, `pro`, `max`.
pub fn default_tier_limits() -> BTreeMap<String, TierLimits> {
    let tier = |rpm, requests_per_day, tokens_per_day| TierLimits {
        rpm,
        requests_per_day,
        tokens_per_day,
    };
    BTreeMap::from([
        ("free".to_string(), tier(10, 100, 50_000)),
        ("pro".to_string(), tier(60, 10_000, 2_000_000)),
        ("max".to_string(), tier(300, 100_000, 20_000_000)),
    ])
}

/// One project the gateway serves.
#[derive(Debug, Clone)]
pub struct ProjectConfig {
    /// Slug, matched against `<slug>.localhost` in the Host header.
    pub slug: String,
    /// Tenant id (`tid`).
    pub tenant_id: String,
    /// Project id (`pid`).
    pub project_id: String,
    /// Allowed browser origins: exact (`https://app.example.com`) or `*`-globs.
    pub allowed_origins: Vec<String>,
    /// Model used when a request names none (or `""`).
    pub default_model: String,
    /// Other models accepted (the default model always is).
    pub models: Vec<String>,
    /// Limits per tier name (`free`, `pro`, `max`); a token without a tier, or with an unknown
    /// one, gets `free`.
    pub tier_limits: BTreeMap<String, TierLimits>,
    /// A suspended project: mint answers 401, data routes 403.
    pub suspended: bool,
}

/// An API key and the project it mints for.
#[derive(Debug, Clone)]
pub struct ApiKeyConfig {
    /// `behest_sk_live_` + 32 hex digits.
    pub key: Secret,
    /// Slug of its project.
    pub project: String,
}

/// A tenant signing key registered in the JWKS.
#[derive(Debug, Clone)]
pub struct TenantKeyConfig {
    /// Key id.
    pub kid: String,
    /// The key (only its public half is used to verify; the private half is kept so the demo
    /// can hand it to a client).
    pub key: Arc<RsaKey>,
}

/// A session of the example integrator backend: the server decides who the bearer is.
#[derive(Debug, Clone)]
pub struct SessionGrant {
    /// The session token the client sends as bearer.
    pub token: Secret,
    /// The end user it maps to.
    pub user_id: String,
    /// Their tier.
    pub tier: Option<Tier>,
}

/// Which error envelope a route family answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvelopeStyle {
    /// `{"error":{"code","message","details"?}}` (data plane).
    Nested,
    /// `{"error":"…","code":"…","retryable":bool}` (auth service).
    Flat,
}

/// Everything a gateway needs. Build one with [`GatewayConfig::demo`] and adjust fields.
#[derive(Clone)]
pub struct GatewayConfig {
    /// Projects; the first is the fallback when the Host names no slug.
    pub projects: Vec<ProjectConfig>,
    /// API keys accepted by mint.
    pub api_keys: Vec<ApiKeyConfig>,
    /// Tenant signing keys (local-sign mode).
    pub tenant_keys: Vec<TenantKeyConfig>,
    /// The global key that signs minted tokens.
    pub global_key: Arc<RsaKey>,
    /// Its kid.
    pub global_kid: String,
    /// Accepted `iss` values (strict mode: a single one).
    pub issuers: Vec<String>,
    /// `iss` of tokens minted here.
    pub mint_issuer: String,
    /// Required `aud`.
    pub audience: String,
    /// Leeway on `exp`/`nbf`, in seconds (at most [`MAX_LEEWAY_SECS`]).
    pub leeway_secs: u64,
    /// A fixed "now" (epoch seconds) instead of the system clock.
    pub clock_override: Option<i64>,
    /// Sessions of the example token endpoint.
    pub sessions: Vec<SessionGrant>,
    /// Lifetime of tokens from the example token endpoint, in seconds.
    pub token_endpoint_ttl: u64,
    /// Produces the assistant's reply.
    pub responder: Arc<dyn Responder>,
    /// Whether scripted faults (and the `/__behest/faults` admin route) are active.
    pub faults_enabled: bool,
    /// Largest request body, in bytes; larger ones get 413.
    pub max_body_bytes: usize,
    /// Accept `role: "regular"` on mint (as the behest-open demo sends), mapped to `user`.
    pub lenient_roles: bool,
    /// Answer 404 on `/v1/usage` (exercises the SDK's `not_supported` path).
    pub usage_not_supported: bool,
    /// Answer 403 (instead of only omitting CORS headers) to a refused browser origin.
    pub refuse_origin_with_403: bool,
    /// Envelope of `/auth/v1/*` routes.
    pub auth_service_envelope: EnvelopeStyle,
    /// Refuse tokens whose `exp - iat` exceeds this many seconds (none: any lifetime, as the
    /// SDK signs whatever ttl it is given).
    pub max_token_lifetime_secs: Option<u64>,
    /// How many requests [`GatewayHandle::requests`](super::GatewayHandle::requests) keeps (the
    /// newest); 0 records nothing. Tests keep many; the app's demo mode keeps few, so a gateway
    /// that runs all day holds bounded memory.
    pub max_recorded_requests: usize,
}

impl std::fmt::Debug for GatewayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayConfig")
            .field("projects", &self.projects)
            .field("api_keys", &self.api_keys.len())
            .field(
                "tenant_keys",
                &self.tenant_keys.iter().map(|k| &k.kid).collect::<Vec<_>>(),
            )
            .field("global_kid", &self.global_kid)
            .field("issuers", &self.issuers)
            .field("leeway_secs", &self.leeway_secs)
            .field("faults_enabled", &self.faults_enabled)
            .field("max_recorded_requests", &self.max_recorded_requests)
            .finish_non_exhaustive()
    }
}

/// Random lowercase hex of `bytes` bytes.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

impl GatewayConfig {
    /// A ready-to-run config with fresh keys: one project (`demo`), one API key
    /// (`behest_sk_live_<32 hex>`), one tenant RSA key with a kid, one integrator session token
    /// mapped to user `demo-user` at tier 2, the built-in demo responder, faults off.
    pub fn demo() -> Result<Self> {
        let project = ProjectConfig {
            slug: "demo".into(),
            tenant_id: format!("ten_{}", random_hex(6)),
            project_id: format!("prj_{}", random_hex(6)),
            allowed_origins: vec![],
            default_model: "behest-local-demo".into(),
            models: vec![],
            tier_limits: default_tier_limits(),
            suspended: false,
        };
        Ok(GatewayConfig {
            api_keys: vec![ApiKeyConfig {
                key: Secret::new(format!("{API_KEY_PREFIX}{}", random_hex(16))),
                project: project.slug.clone(),
            }],
            tenant_keys: vec![TenantKeyConfig {
                kid: format!("kid_{}", random_hex(4)),
                key: Arc::new(RsaKey::generate()?),
            }],
            projects: vec![project],
            global_key: Arc::new(RsaKey::generate()?),
            global_kid: "behest-global-1".into(),
            issuers: ACCEPTED_ISSUERS.iter().map(|s| s.to_string()).collect(),
            mint_issuer: "https://api.behest.app".into(),
            audience: DEFAULT_AUDIENCE.into(),
            leeway_secs: 30,
            clock_override: None,
            sessions: vec![SessionGrant {
                token: Secret::new(format!("sess_{}", random_hex(16))),
                user_id: "demo-user".into(),
                tier: Some(Tier::Id(2)),
            }],
            token_endpoint_ttl: 900,
            responder: Arc::new(DemoResponder::new(Duration::ZERO)),
            faults_enabled: false,
            max_body_bytes: 1024 * 1024,
            lenient_roles: true,
            usage_not_supported: false,
            refuse_origin_with_403: false,
            auth_service_envelope: EnvelopeStyle::Flat,
            max_token_lifetime_secs: None,
            max_recorded_requests: super::record::MAX_RECORDED_REQUESTS,
        })
    }

    /// Checks the config is usable: at least one project, unique slugs, API keys of the right
    /// shape naming known projects, leeway within [`MAX_LEEWAY_SECS`], a non-empty issuer list.
    pub fn validate(&self) -> Result<()> {
        let bad = |name: &str, reason: &str| Err(Error::settings(name, reason));
        if self.projects.is_empty() {
            return bad("gateway.projects", "at least one project is required");
        }
        let mut slugs: Vec<&str> = self.projects.iter().map(|p| p.slug.as_str()).collect();
        slugs.sort_unstable();
        slugs.dedup();
        if slugs.len() != self.projects.len() {
            return bad("gateway.projects", "project slugs must be unique");
        }
        for key in &self.api_keys {
            if !crate::core::protocol::is_api_key(key.key.expose()) {
                return bad(
                    "gateway.api_keys",
                    "expected behest_sk_live_ followed by 32 hex digits",
                );
            }
            if self.project(&key.project).is_none() {
                return bad("gateway.api_keys", "an api key names an unknown project");
            }
        }
        if self.leeway_secs > MAX_LEEWAY_SECS {
            return bad("gateway.leeway_secs", "at most 60 seconds");
        }
        if self.issuers.is_empty() {
            return bad(
                "gateway.issuers",
                "at least one accepted issuer is required",
            );
        }
        Ok(())
    }

    /// The project with this slug.
    pub fn project(&self, slug: &str) -> Option<&ProjectConfig> {
        self.projects.iter().find(|p| p.slug == slug)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_config_is_valid_and_never_prints_secrets() -> Result<()> {
        let c = GatewayConfig::demo()?;
        c.validate()?;
        let key = c.api_keys[0].key.expose().to_string();
        assert!(crate::core::protocol::is_api_key(&key));
        let debug = format!("{c:?}");
        assert!(!debug.contains(&key));
        assert!(!debug.contains(c.sessions[0].token.expose()));
        assert!(!debug.contains("PRIVATE"));
        Ok(())
    }

    #[test]
    fn default_tier_limits_are_the_table_of_section_8() -> Result<()> {
        let limits = default_tier_limits();
        let row = |id: i64| {
            limits
                .get(&Tier::Id(id).name())
                .map(|l| (l.rpm, l.requests_per_day, l.tokens_per_day))
        };
        // §8: tier 1 = free, 2 = pro, 3 = max; RPM, requests/day, tokens/day.
        assert_eq!(row(1), Some((10, 100, 50_000)));
        assert_eq!(row(2), Some((60, 10_000, 2_000_000)));
        assert_eq!(row(3), Some((300, 100_000, 20_000_000)));
        assert_eq!(
            limits.keys().map(String::as_str).collect::<Vec<_>>(),
            ["free", "max", "pro"]
        );
        // Tier names from a string claim reach the same rows.
        assert_eq!(
            limits.get(&Tier::Name("Pro".into()).name()),
            limits.get("pro")
        );
        // The demo project starts with them.
        assert_eq!(GatewayConfig::demo()?.projects[0].tier_limits, limits);
        Ok(())
    }

    #[test]
    fn validate_refuses_bad_configs() -> Result<()> {
        let mut c = GatewayConfig::demo()?;
        c.leeway_secs = 61;
        assert!(matches!(c.validate(), Err(Error::InvalidSettings { .. })));
        let mut c = GatewayConfig::demo()?;
        c.api_keys[0].key = Secret::new("behest_sk_live_short");
        assert!(matches!(c.validate(), Err(Error::InvalidSettings { .. })));
        let mut c = GatewayConfig::demo()?;
        c.projects.clear();
        assert!(matches!(c.validate(), Err(Error::InvalidSettings { .. })));
        Ok(())
    }
}
