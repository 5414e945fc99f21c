//! The shared state of a running gateway: config, key registry (the JWKS), clock, stores,
//! limiter, fault queues and request recorder, behind one `Arc`.
//!
//! Invariant: every lock in here is a std lock held for a few lines, never across an await.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use axum::http::HeaderMap;
use jsonwebtoken::DecodingKey;

use super::config::{GatewayConfig, ProjectConfig};
use super::envelope::ApiError;
use super::faults::Faults;
use super::limits::Limiter;
use super::record::Recorder;
use super::threads::ThreadStore;
use super::usage::UsageStore;
use crate::core::keys::{Jwks, PublicJwk, RsaKey};
use crate::core::{Error, Result};

/// The state every handler shares.
pub type Shared = Arc<GatewayState>;

/// The gateway's notion of now: the system clock (or a fixed override) plus an offset tests move.
#[derive(Debug, Default)]
pub struct Clock {
    fixed: Option<i64>,
    offset: AtomicI64,
}

impl Clock {
    /// A clock fixed at `fixed` epoch seconds, or following the system clock.
    pub fn new(fixed: Option<i64>) -> Self {
        Clock {
            fixed,
            offset: AtomicI64::new(0),
        }
    }
    /// Now, in epoch seconds.
    pub fn now(&self) -> i64 {
        let base = self.fixed.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
                .unwrap_or(0)
        });
        base.saturating_add(self.offset.load(Ordering::Relaxed))
    }
    /// Moves the clock by `secs` (negative moves it back).
    pub fn advance(&self, secs: i64) {
        self.offset.fetch_add(secs, Ordering::Relaxed);
    }
}

/// Epoch seconds as RFC 3339 UTC (`2026-11-29T14:00:00Z`).
pub fn iso8601(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// A verification key of the JWKS.
pub struct KeyEntry {
    /// The public JWK served.
    pub jwk: PublicJwk,
    /// The same key, ready for jsonwebtoken.
    pub decoding: DecodingKey,
    /// A tenant signing key (its tokens always get role `user`).
    pub tenant: bool,
}

/// The keys tokens are verified against, in JWKS order (global first).
#[derive(Default)]
pub struct KeyRegistry {
    keys: RwLock<Vec<(String, Arc<KeyEntry>)>>,
}

impl KeyRegistry {
    /// Registers the public half of `key` under `kid`, replacing any key with that kid.
    pub fn add(&self, kid: &str, key: &RsaKey, tenant: bool) -> Result<()> {
        let jwk = key.jwk(kid);
        let decoding = DecodingKey::from_rsa_components(&jwk.n, &jwk.e)
            .map_err(|_| Error::Crypto("cannot build a verification key".into()))?;
        let entry = Arc::new(KeyEntry {
            jwk,
            decoding,
            tenant,
        });
        let mut keys = self.keys.write().unwrap_or_else(|p| p.into_inner());
        keys.retain(|(k, _)| k != kid);
        keys.push((kid.to_string(), entry));
        Ok(())
    }
    /// The key with this kid.
    pub fn get(&self, kid: &str) -> Option<Arc<KeyEntry>> {
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        keys.iter()
            .find(|(k, _)| k == kid)
            .map(|(_, e)| Arc::clone(e))
    }
    /// Removes a kid; its tokens fail from now on. Whether it was there.
    pub fn remove(&self, kid: &str) -> bool {
        let mut keys = self.keys.write().unwrap_or_else(|p| p.into_inner());
        let before = keys.len();
        keys.retain(|(k, _)| k != kid);
        before != keys.len()
    }
    /// The JWKS document.
    pub fn jwks(&self) -> Jwks {
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        Jwks {
            keys: keys.iter().map(|(_, e)| e.jwk.clone()).collect(),
        }
    }
}

/// Everything handlers share.
pub struct GatewayState {
    /// The config it was started with.
    pub config: GatewayConfig,
    /// The JWKS.
    pub keys: KeyRegistry,
    /// Now.
    pub clock: Clock,
    /// Threads.
    pub threads: ThreadStore,
    /// Usage events.
    pub usage: UsageStore,
    /// Tier limits.
    pub limits: Limiter,
    /// Scripted faults.
    pub faults: Faults,
    /// Recorded requests.
    pub recorder: Recorder,
    /// Cancelled at shutdown: open streams end so graceful shutdown does not wait on them.
    pub shutdown: tokio_util::sync::CancellationToken,
}

impl GatewayState {
    /// Builds the state: validates the config and registers the global and tenant keys.
    pub fn new(config: GatewayConfig) -> Result<Self> {
        config.validate()?;
        let keys = KeyRegistry::default();
        keys.add(&config.global_kid, &config.global_key, false)?;
        for tenant in &config.tenant_keys {
            keys.add(&tenant.kid, &tenant.key, true)?;
        }
        Ok(GatewayState {
            keys,
            clock: Clock::new(config.clock_override),
            threads: ThreadStore::default(),
            usage: UsageStore::default(),
            limits: Limiter::default(),
            faults: Faults::new(config.faults_enabled),
            recorder: Recorder::with_limit(config.max_recorded_requests),
            shutdown: tokio_util::sync::CancellationToken::new(),
            config,
        })
    }

    /// The project a request is for: `<slug>.localhost` in the Host header names it; any other
    /// host falls back to the first project. An unknown slug is 404.
    pub fn project_for(&self, headers: &HeaderMap) -> Result<&ProjectConfig, ApiError> {
        let host = headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        let name = host.rsplit_once(':').map_or(host, |(name, port)| {
            if port.bytes().all(|b| b.is_ascii_digit()) {
                name
            } else {
                host
            }
        });
        match name.to_ascii_lowercase().strip_suffix(".localhost") {
            Some(slug) => self
                .config
                .projects
                .iter()
                .find(|p| p.slug.eq_ignore_ascii_case(slug))
                .ok_or_else(|| ApiError::not_found("unknown project slug")),
            None => self
                .config
                .projects
                .first()
                .ok_or_else(|| ApiError::not_found("no project")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn clock_moves_and_formats() {
        let c = Clock::new(Some(1_800_000_000));
        c.advance(60);
        assert_eq!(c.now(), 1_800_000_060);
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn host_selects_the_project() -> Result<()> {
        let mut config = GatewayConfig::demo()?;
        let mut other = config.projects[0].clone();
        other.slug = "amber-fox-042".into();
        config.projects.push(other);
        let state = GatewayState::new(config)?;
        let with_host = |h: &'static str| {
            let mut m = HeaderMap::new();
            m.insert("host", HeaderValue::from_static(h));
            state.project_for(&m).map(|p| p.slug.clone())
        };
        assert_eq!(
            with_host("amber-fox-042.localhost:8080").ok().as_deref(),
            Some("amber-fox-042")
        );
        assert_eq!(with_host("127.0.0.1:9").ok().as_deref(), Some("demo"));
        assert!(with_host("nope.localhost").is_err());
        assert!(state.keys.remove(&state.config.global_kid));
        assert_eq!(state.keys.jwks().keys.len(), 1);
        Ok(())
    }
}
