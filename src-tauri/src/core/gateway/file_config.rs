//! The `--config FILE` of `behest-desktop gateway`: a JSON file overriding parts of the demo
//! config, so keys and ids can stay the same across runs. Every field is optional; keys not
//! named are generated per run.
//!
//! ```json
//! {"slug": "demo", "tenant_id": "ten_1", "project_id": "prj_1",
//!  "api_key": "behest_sk_live_<32 hex>", "kid": "kid_1", "signing_key_pem_file": "tenant.pem",
//!  "global_kid": "behest-global-1", "global_key_pem_file": "global.pem",
//!  "session_token": "sess_…", "session_user_id": "demo-user", "session_tier": 2,
//!  "allowed_origins": ["http://localhost:*"], "default_model": "m", "models": ["m2"],
//!  "tier_limits": {"free": {"rpm": 10, "requests_per_day": 100, "tokens_per_day": 50000}},
//!  "issuers": ["https://api.behest.app"], "leeway_secs": 30}
//! ```
//! Invariant: key files are read, parsed and kept as [`RsaKey`]s; their text is never echoed in
//! an error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use super::config::{GatewayConfig, TierLimits};
use crate::core::keys::RsaKey;
use crate::core::protocol::claims::Tier;
use crate::core::redact::Secret;
use crate::core::{Error, Result};

/// The file's fields.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Project slug.
    pub slug: Option<String>,
    /// Tenant id.
    pub tenant_id: Option<String>,
    /// Project id.
    pub project_id: Option<String>,
    /// API key.
    pub api_key: Option<String>,
    /// Tenant key id.
    pub kid: Option<String>,
    /// Tenant key PEM file (relative to the config file).
    pub signing_key_pem_file: Option<PathBuf>,
    /// Global key id.
    pub global_kid: Option<String>,
    /// Global key PEM file (relative to the config file).
    pub global_key_pem_file: Option<PathBuf>,
    /// Token-endpoint session token.
    pub session_token: Option<String>,
    /// The user it maps to.
    pub session_user_id: Option<String>,
    /// Their tier.
    pub session_tier: Option<Tier>,
    /// Allowed browser origins.
    pub allowed_origins: Option<Vec<String>>,
    /// Default model.
    pub default_model: Option<String>,
    /// Other models.
    pub models: Option<Vec<String>>,
    /// Limits per tier name.
    pub tier_limits: Option<BTreeMap<String, TierLimits>>,
    /// Accepted issuers.
    pub issuers: Option<Vec<String>>,
    /// Leeway on exp/nbf.
    pub leeway_secs: Option<u64>,
}

fn read_key(base: &Path, file: &Path) -> Result<Arc<RsaKey>> {
    let path = base.join(file);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Error::settings(
            "gateway --config",
            format!("cannot read key file {}: {e}", path.display()),
        )
    })?;
    Ok(Arc::new(RsaKey::from_pem(&text)?))
}

/// Reads `path` and applies it over `config`, then validates the result.
pub fn apply(config: &mut GatewayConfig, path: &Path) -> Result<()> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::settings(
            "gateway --config",
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    let file: FileConfig = serde_json::from_str(&text)
        .map_err(|e| Error::settings("gateway --config", format!("not a gateway config: {e}")))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let project = config
        .projects
        .first_mut()
        .ok_or_else(|| Error::settings("gateway.projects", "no project"))?;
    let set = |target: &mut String, value: Option<String>| {
        if let Some(v) = value {
            *target = v;
        }
    };
    if let Some(slug) = file.slug {
        for key in &mut config.api_keys {
            key.project = slug.clone();
        }
        project.slug = slug;
    }
    set(&mut project.tenant_id, file.tenant_id);
    set(&mut project.project_id, file.project_id);
    set(&mut project.default_model, file.default_model);
    if let Some(v) = file.allowed_origins {
        project.allowed_origins = v;
    }
    if let Some(v) = file.models {
        project.models = v;
    }
    if let Some(v) = file.tier_limits {
        project.tier_limits.extend(v);
    }
    if let (Some(key), Some(first)) = (file.api_key, config.api_keys.first_mut()) {
        first.key = Secret::new(key);
    }
    if let Some(tenant) = config.tenant_keys.first_mut() {
        set(&mut tenant.kid, file.kid);
        if let Some(f) = file.signing_key_pem_file {
            tenant.key = read_key(base, &f)?;
        }
    }
    set(&mut config.global_kid, file.global_kid);
    if let Some(f) = file.global_key_pem_file {
        config.global_key = read_key(base, &f)?;
    }
    if let Some(session) = config.sessions.first_mut() {
        if let Some(t) = file.session_token {
            session.token = Secret::new(t);
        }
        set(&mut session.user_id, file.session_user_id);
        if file.session_tier.is_some() {
            session.tier = file.session_tier;
        }
    }
    if let Some(v) = file.issuers {
        config.issuers = v;
    }
    if let Some(v) = file.leeway_secs {
        config.leeway_secs = v;
    }
    config.validate()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_overrides_ids_keys_and_origins() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let key = RsaKey::generate()?;
        std::fs::write(dir.path().join("tenant.pem"), key.private_pem().expose())?;
        let path = dir.path().join("gw.json");
        std::fs::write(
            &path,
            r#"{"tenant_id":"ten_1","project_id":"prj_1","kid":"kid_fixed","signing_key_pem_file":"tenant.pem",
                "api_key":"behest_sk_live_0123456789abcdef0123456789abcdef","allowed_origins":["http://localhost:*"]}"#,
        )?;
        let mut c = GatewayConfig::demo()?;
        apply(&mut c, &path)?;
        assert_eq!(c.projects[0].tenant_id, "ten_1");
        assert_eq!(c.tenant_keys[0].kid, "kid_fixed");
        assert_eq!(c.tenant_keys[0].key.fingerprint(), key.fingerprint());
        assert_eq!(
            c.api_keys[0].key.expose(),
            "behest_sk_live_0123456789abcdef0123456789abcdef"
        );
        std::fs::write(&path, r#"{"api_key":"nope"}"#)?;
        assert!(matches!(
            apply(&mut GatewayConfig::demo()?, &path),
            Err(Error::InvalidSettings { .. })
        ));
        std::fs::write(&path, r#"{"typo_field":1}"#)?;
        assert!(matches!(
            apply(&mut GatewayConfig::demo()?, &path),
            Err(Error::InvalidSettings { .. })
        ));
        Ok(())
    }
}
