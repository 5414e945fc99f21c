//! The non-secret, persisted part of the configuration: one typed [`Settings`] struct.
//!
//! The app persists it through tauri-plugin-store; the CLI reads and writes it as a JSON file
//! in the app's config dir ([`settings_path`]). Every field is optional: an unset field falls
//! back to the SDK default, and an environment variable overrides it.
//! Invariant: no secret is ever a field here (keys and session credentials live in the
//! `SecretStore`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::core::protocol::claims::Tier;
use crate::core::{Error, Result};

/// The app identifier (`tauri.conf.json`), which names the config dir.
pub const APP_IDENTIFIER: &str = "ai.behest.desktop";
/// File name of the settings, in the config dir.
pub const SETTINGS_FILE: &str = "settings.json";
/// Key under which the app's store keeps the settings object, when the file is a store.
pub const STORE_KEY: &str = "settings";

/// The non-secret settings, as persisted (camelCase JSON, unknown fields ignored).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Settings {
    /// API origin (`BEHEST_BASE_URL`).
    pub base_url: Option<String>,
    /// The integrator's token endpoint (`BEHEST_TOKEN_URL`).
    pub token_url: Option<String>,
    /// Signing key id (`BEHEST_KID`).
    pub kid: Option<String>,
    /// Tenant id (`BEHEST_TENANT_ID`).
    pub tenant_id: Option<String>,
    /// Project id (`BEHEST_PROJECT_ID`).
    pub project_id: Option<String>,
    /// Default end user (`BEHEST_USER_ID`).
    pub user_id: Option<String>,
    /// Token lifetime in seconds (`BEHEST_TTL`).
    pub ttl: Option<u64>,
    /// Tier (`BEHEST_TIER`).
    pub tier: Option<Tier>,
    /// `iss` of locally signed tokens (`BEHEST_ISSUER`).
    pub issuer: Option<String>,
    /// `aud` of locally signed tokens (`BEHEST_AUDIENCE`).
    pub audience: Option<String>,
    /// Refresh this many seconds before expiry (60 by default).
    pub refresh_margin_secs: Option<u64>,
}

/// `<config dir>/ai.behest.desktop/settings.json` (on Linux `$XDG_CONFIG_HOME`, else
/// `~/.config`), the file the app's store and the CLI share.
pub fn settings_path() -> Result<PathBuf> {
    let dir = dirs::config_dir().ok_or_else(|| {
        Error::settings(
            "XDG_CONFIG_HOME",
            "no config directory: set HOME or XDG_CONFIG_HOME",
        )
    })?;
    Ok(dir.join(APP_IDENTIFIER).join(SETTINGS_FILE))
}

impl Settings {
    /// Reads the settings file; a missing file gives the defaults. Accepts a bare settings
    /// object or a store file holding it under [`STORE_KEY`].
    pub fn load(path: &Path) -> Result<Settings> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Settings::default()),
            Err(e) => return Err(Error::Io(e)),
        };
        let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            Error::settings(
                path.display().to_string(),
                format!("is not valid JSON ({e}); expected a settings object"),
            )
        })?;
        let inner = match value.get(STORE_KEY) {
            Some(v @ serde_json::Value::Object(_)) => v.clone(),
            _ => value,
        };
        serde_json::from_value(inner).map_err(|e| {
            Error::settings(
                path.display().to_string(),
                format!("has a malformed field ({e})"),
            )
        })
    }

    /// Writes the settings file (creating its folder), pretty-printed.
    pub fn save(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| Error::Storage(format!("cannot encode settings: {e}")))?;
        std::fs::write(path, text)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel_case_round_trip_and_defaults() -> Result<()> {
        let s = Settings {
            base_url: Some("https://amber-fox-042.behest.app".into()),
            tier: Some(Tier::Id(2)),
            refresh_margin_secs: Some(30),
            ..Settings::default()
        };
        let json = serde_json::to_value(&s).map_err(|e| Error::Storage(e.to_string()))?;
        assert_eq!(json["baseUrl"], "https://amber-fox-042.behest.app");
        assert_eq!(json["refreshMarginSecs"], 30);
        let back: Settings = serde_json::from_str(r#"{"baseUrl":"https://amber-fox-042.behest.app","tier":2,"refreshMarginSecs":30,"futureField":1}"#)
            .map_err(|e| Error::Storage(e.to_string()))?;
        assert_eq!(back, s);
        let empty: Settings =
            serde_json::from_str("{}").map_err(|e| Error::Storage(e.to_string()))?;
        assert_eq!(empty, Settings::default());
        Ok(())
    }

    #[test]
    fn file_round_trip_missing_store_and_malformed() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("sub").join(SETTINGS_FILE);
        assert_eq!(Settings::load(&path)?, Settings::default());
        let s = Settings {
            user_id: Some("alice".into()),
            ttl: Some(900),
            ..Settings::default()
        };
        s.save(&path)?;
        assert_eq!(Settings::load(&path)?, s);
        std::fs::write(&path, r#"{"settings":{"userId":"bob"}}"#)?;
        assert_eq!(Settings::load(&path)?.user_id.as_deref(), Some("bob"));
        std::fs::write(&path, r#"{"ttl":"soon"}"#)?;
        assert!(matches!(
            Settings::load(&path),
            Err(Error::InvalidSettings { .. })
        ));
        std::fs::write(&path, "not json")?;
        assert!(matches!(
            Settings::load(&path),
            Err(Error::InvalidSettings { .. })
        ));
        Ok(())
    }
}
