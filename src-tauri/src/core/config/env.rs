//! The environment variables Behest Desktop reads (the SDK's, §3.3, plus the token-endpoint
//! pair), read from an injectable map so tests never touch the process environment.
//!
//! Invariant: values are kept verbatim here; secrets (`BEHEST_KEY`, `BEHEST_API_KEY`,
//! `BEHEST_SESSION_TOKEN`) are wrapped in [`Secret`] as soon as they leave this map, and this
//! type's `Debug` prints only the variable names. The `BEHEST_API_KEY` deprecation warning is
//! logged once per process (as the SDK warns once), however often the key is read.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::core::redact::Secret;

/// The key: an API key (`behest_sk_live_…`) or a signing key (`behest_pk_…`, base64 PEM).
pub const BEHEST_KEY: &str = "BEHEST_KEY";
/// Deprecated spelling of [`BEHEST_KEY`], read only when that is unset.
pub const BEHEST_API_KEY: &str = "BEHEST_API_KEY";
/// API origin, `https://api.behest.ai` by default.
pub const BEHEST_BASE_URL: &str = "BEHEST_BASE_URL";
/// Key id of the signing key (sign mode).
pub const BEHEST_KID: &str = "BEHEST_KID";
/// Tenant id (sign mode).
pub const BEHEST_TENANT_ID: &str = "BEHEST_TENANT_ID";
/// Project id (sign mode).
pub const BEHEST_PROJECT_ID: &str = "BEHEST_PROJECT_ID";
/// Default end user, `default` unless set.
pub const BEHEST_USER_ID: &str = "BEHEST_USER_ID";
/// Token lifetime in seconds, 3600 unless set.
pub const BEHEST_TTL: &str = "BEHEST_TTL";
/// Tier, an integer (or a tier name).
pub const BEHEST_TIER: &str = "BEHEST_TIER";
/// `iss` of locally signed tokens.
pub const BEHEST_ISSUER: &str = "BEHEST_ISSUER";
/// `aud` of locally signed tokens.
pub const BEHEST_AUDIENCE: &str = "BEHEST_AUDIENCE";
/// The integrator's token endpoint (production mode).
pub const BEHEST_TOKEN_URL: &str = "BEHEST_TOKEN_URL";
/// The user's session credential for [`BEHEST_TOKEN_URL`].
pub const BEHEST_SESSION_TOKEN: &str = "BEHEST_SESSION_TOKEN";
/// The control plane's origin (e.g. `https://api.behest.app`), whose JWKS `check` verifies too.
pub const BEHEST_CONTROL_PLANE_URL: &str = "BEHEST_CONTROL_PLANE_URL";

/// Every variable read, for documentation and for copying the relevant part of a process env.
pub const ALL: [&str; 14] = [
    BEHEST_KEY,
    BEHEST_API_KEY,
    BEHEST_BASE_URL,
    BEHEST_KID,
    BEHEST_TENANT_ID,
    BEHEST_PROJECT_ID,
    BEHEST_USER_ID,
    BEHEST_TTL,
    BEHEST_TIER,
    BEHEST_ISSUER,
    BEHEST_AUDIENCE,
    BEHEST_TOKEN_URL,
    BEHEST_SESSION_TOKEN,
    BEHEST_CONTROL_PLANE_URL,
];

/// A snapshot of environment variables. Build it from the process with [`Env::from_process`]
/// or from pairs in tests with [`Env::from_pairs`].
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Env(BTreeMap<String, String>);

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl Env {
    /// The `BEHEST_*` variables of this process that are valid UTF-8.
    pub fn from_process() -> Self {
        Env(ALL
            .iter()
            .filter_map(|name| std::env::var(name).ok().map(|v| (name.to_string(), v)))
            .collect())
    }

    /// A map of the given pairs.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Env(pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect())
    }

    /// The raw value, including an empty one.
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// The value trimmed, `None` when unset or blank (a blank value falls through to the
    /// setting or default, as the SDK's `or` does for arguments).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.raw(name).map(str::trim).filter(|v| !v.is_empty())
    }

    /// A secret value, trimmed, `None` when unset or blank.
    pub fn secret(&self, name: &str) -> Option<Secret> {
        self.get(name).map(Secret::new)
    }

    /// The key: `BEHEST_KEY`, else the deprecated `BEHEST_API_KEY` (a warning names it, never
    /// its value, once per process). Returns the variable it came from.
    pub fn key(&self) -> Option<(&'static str, Secret)> {
        if let Some(k) = self.secret(BEHEST_KEY) {
            return Some((BEHEST_KEY, k));
        }
        let k = self.secret(BEHEST_API_KEY)?;
        static WARNED: AtomicBool = AtomicBool::new(false);
        warn_once(&WARNED);
        Some((BEHEST_API_KEY, k))
    }

    /// Whether a key is set (`BEHEST_KEY` or `BEHEST_API_KEY`), without the deprecation warning.
    pub fn has_key(&self) -> bool {
        self.get(BEHEST_KEY).is_some() || self.get(BEHEST_API_KEY).is_some()
    }
}

/// Logs the `BEHEST_API_KEY` deprecation unless `warned` says it was already; returns whether
/// it logged.
fn warn_once(warned: &AtomicBool) -> bool {
    if warned.swap(true, Ordering::Relaxed) {
        return false;
    }
    tracing::warn!("BEHEST_API_KEY is deprecated, use BEHEST_KEY");
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_prefers_behest_key_and_blank_falls_through() {
        let env = Env::from_pairs([(BEHEST_KEY, "  "), (BEHEST_API_KEY, "old")]);
        let (name, key) = env.key().unwrap_or((BEHEST_KEY, Secret::default()));
        assert_eq!((name, key.expose()), (BEHEST_API_KEY, "old"));
        let env = Env::from_pairs([(BEHEST_KEY, "new"), (BEHEST_API_KEY, "old")]);
        assert_eq!(
            env.key().map(|(n, k)| (n, k.expose().to_string())),
            Some((BEHEST_KEY, "new".into()))
        );
        assert!(Env::default().key().is_none());
    }

    /// Log lines written while `f` runs on this thread.
    fn logs_of(f: impl FnOnce()) -> String {
        let sink = crate::core::logging::LogSink::default();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(sink.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        sink.text()
    }

    #[test]
    fn the_deprecation_warning_is_logged_once() {
        let warned = AtomicBool::new(false);
        let mut logged = Vec::new();
        let text = logs_of(|| logged = (0..3).map(|_| warn_once(&warned)).collect());
        assert_eq!(logged, [true, false, false]);
        assert_eq!(text.matches("BEHEST_API_KEY is deprecated").count(), 1);
        // Through `Env::key`: at most once in the whole process (another test may have been
        // first), however many reads.
        let env = Env::from_pairs([(BEHEST_API_KEY, "SENTINEL_KEY_old")]);
        let text = logs_of(|| {
            for _ in 0..3 {
                assert!(env.key().is_some());
            }
        });
        assert!(
            text.matches("BEHEST_API_KEY is deprecated").count() <= 1,
            "{text}"
        );
        assert!(!text.contains("SENTINEL_KEY_old"));
        assert!(env.has_key() && !Env::from_pairs([(BEHEST_KEY, " ")]).has_key());
    }

    #[test]
    fn debug_shows_names_only() {
        let env = Env::from_pairs([(BEHEST_KEY, "SENTINEL_KEY_1")]);
        let text = format!("{env:?}");
        assert!(text.contains("BEHEST_KEY") && !text.contains("SENTINEL"));
    }
}
