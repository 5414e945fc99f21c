//! The configuration checks: which mode was detected and from where (`config.mode`), the key
//! or credential well-formed (`config.key`), the signing ids present (`config.ids`), the base
//! URL well-formed with `http://` only on loopback (`config.baseUrl`); and, when the
//! configuration cannot even be resolved, which of those the resolution error belongs to.
//!
//! Invariant: no detail or hint contains a key, PEM or session credential; the key is
//! described only by its shape, size and public fingerprint.

use std::sync::Arc;

use super::result::CheckResult;
use super::CheckOptions;
use crate::core::config::origin::is_loopback_host;
use crate::core::config::{env, AuthMode, Config, Env, Settings, StoredSecrets};
use crate::core::keys::RsaKey;
use crate::core::protocol::{is_api_key, API_KEY_PREFIX};
use crate::core::Error;

/// `config.mode`.
pub const MODE: &str = "config.mode";
/// `config.key`.
pub const KEY: &str = "config.key";
/// `config.ids`.
pub const IDS: &str = "config.ids";
/// `config.baseUrl`.
pub const BASE_URL: &str = "config.baseUrl";
/// `config.values` (ttl, tier, user id and other values).
pub const VALUES: &str = "config.values";
/// `config.settings` (the settings file cannot be read).
pub const SETTINGS: &str = "config.settings";

/// Where the configuration came from, for `config.mode` (computed by the caller, which knows
/// the sources; the resolved [`Config`] does not keep them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Provenance {
    /// What decided the mode, e.g. `BEHEST_KEY (environment)`.
    pub mode: String,
    /// Where the base URL came from, e.g. `settings.baseUrl (settings file)`.
    pub base_url: String,
}

impl Provenance {
    /// Works out the sources the way [`Config::resolve`] picks them.
    pub fn detect(env: &Env, settings: &Settings, stored: &StoredSecrets) -> Self {
        let set = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
        let mode = if env.get(env::BEHEST_KEY).is_some() {
            "BEHEST_KEY (environment)".to_string()
        } else if env.get(env::BEHEST_API_KEY).is_some() {
            "BEHEST_API_KEY (environment, deprecated: use BEHEST_KEY)".to_string()
        } else if env.get(env::BEHEST_TOKEN_URL).is_some() {
            "BEHEST_TOKEN_URL (environment)".to_string()
        } else if set(&settings.token_url) {
            "settings.tokenUrl (settings file)".to_string()
        } else if stored.key.is_some() {
            "the key stored in the OS keyring".to_string()
        } else {
            "nothing configured".to_string()
        };
        let base_url = if env.get(env::BEHEST_BASE_URL).is_some() {
            "BEHEST_BASE_URL (environment)"
        } else if set(&settings.base_url) {
            "settings.baseUrl (settings file)"
        } else {
            "the default"
        };
        Provenance {
            mode,
            base_url: base_url.to_string(),
        }
    }
}

/// What the later checks need from the configuration checks.
pub struct ConfigOutcome {
    /// The origin checked (the in-process gateway's in demo mode).
    pub base_url: String,
    /// Whether the credential is usable (a token can be attempted).
    pub credential_ok: bool,
    /// The parsed signing key (sign and demo modes).
    pub signing_key: Option<Arc<RsaKey>>,
    /// The kid the configuration signs with (sign and demo modes).
    pub kid: Option<String>,
    /// Whether `config.baseUrl` passed.
    pub base_url_ok: bool,
}

const API_KEY_HINT: &str = "set BEHEST_KEY to behest_sk_live_ followed by the 32 hex digits of the project's API key, exactly as the dashboard shows it";
const SIGNING_KEY_HINT: &str =
    "set BEHEST_KEY to behest_pk_ followed by an RSA private key PEM (at least 2048 bits, PKCS#8 or PKCS#1), or to that PEM base64-encoded";

/// Runs `config.mode`, `config.key`, `config.ids` and `config.baseUrl`.
pub fn check(
    config: &Config,
    options: &CheckOptions,
    push: &mut dyn FnMut(CheckResult) -> bool,
) -> ConfigOutcome {
    let source = options
        .provenance
        .as_ref()
        .map(|p| p.mode.as_str())
        .unwrap_or("the resolved configuration");
    let mut outcome = ConfigOutcome {
        base_url: config.base_url.clone(),
        credential_ok: false,
        signing_key: None,
        kid: None,
        base_url_ok: false,
    };
    let signing = match &config.mode {
        AuthMode::Demo => match &options.demo {
            Some(demo) => {
                push(CheckResult::pass(
                    MODE,
                    format!(
                        "demo: {source}, so the in-process gateway at {} is checked",
                        demo.base_url
                    ),
                ));
                outcome.base_url = demo.base_url.clone();
                Some(demo.signing.clone())
            }
            None => {
                push(CheckResult::fail(
                    MODE,
                    "demo: nothing is configured and no in-process gateway is running",
                    "set BEHEST_KEY and BEHEST_BASE_URL (or the settings baseUrl and the key in the app) to check a real project",
                ));
                None
            }
        },
        mode => {
            push(CheckResult::pass(
                MODE,
                format!("{}, from {source}", mode.name()),
            ));
            match mode {
                AuthMode::LocalSign(s) => Some(s.clone()),
                _ => None,
            }
        }
    };
    match (&config.mode, &signing) {
        (AuthMode::ApiKey { key }, _) if is_api_key(key.expose()) => {
            outcome.credential_ok = push(CheckResult::pass(
                KEY,
                "API key: the API-key prefix followed by 32 hex digits",
            ));
        }
        (AuthMode::ApiKey { key }, _) => {
            let shape = if key.expose().starts_with(API_KEY_PREFIX) {
                "has the API-key prefix but is not followed by exactly 32 hex digits"
            } else {
                "does not start with the API-key prefix"
            };
            push(CheckResult::fail(
                KEY,
                format!("the API key {shape}"),
                API_KEY_HINT,
            ));
        }
        (AuthMode::TokenEndpoint { url, session_token }, _) => {
            outcome.credential_ok = if session_token.expose().trim().is_empty() {
                push(CheckResult::fail(KEY, format!("token endpoint {url}, but the session credential is empty"), "set BEHEST_SESSION_TOKEN (or sign in in the app) to the user's session credential"))
            } else {
                push(CheckResult::pass(
                    KEY,
                    format!("token endpoint {url}, session credential present"),
                ))
            };
        }
        (_, Some(s)) => match RsaKey::from_pem(s.pem.expose()) {
            Ok(key) => {
                outcome.credential_ok = push(CheckResult::pass(
                    KEY,
                    format!(
                        "RSA private key, {} bits, {}",
                        key.bits(),
                        key.fingerprint()
                    ),
                ));
                outcome.signing_key = Some(Arc::new(key));
            }
            Err(e) => {
                let reason = match e {
                    Error::Crypto(reason) => reason,
                    other => other.to_string(),
                };
                push(CheckResult::fail(KEY, reason, SIGNING_KEY_HINT));
            }
        },
        (_, None) => {
            push(CheckResult::skipped(KEY, MODE));
        }
    }
    match &signing {
        Some(s) => {
            let legacy = if s.kid.starts_with("sk_") {
                " (a legacy sk_ kid: the gateway forces role user)"
            } else {
                ""
            };
            push(CheckResult::pass(
                IDS,
                format!(
                    "kid {}{legacy}, tenant {}, project {}",
                    s.kid, s.tenant_id, s.project_id
                ),
            ));
            outcome.kid = Some(s.kid.clone());
        }
        None => {
            push(CheckResult::pass(
                IDS,
                format!(
                    "not needed in {} mode: the token's issuer sets tid and pid",
                    config.mode.name()
                ),
            ));
        }
    }
    outcome.base_url_ok = push(base_url_check(&outcome.base_url, options));
    outcome
}

fn base_url_check(base: &str, options: &CheckOptions) -> CheckResult {
    let from = options
        .provenance
        .as_ref()
        .map(|p| p.base_url.as_str())
        .unwrap_or("the configuration");
    let hint = "set BEHEST_BASE_URL (or settings.baseUrl) to the project's origin, e.g. https://<slug>.behest.app (https; http only for localhost)";
    let url = match url::Url::parse(base) {
        Ok(u) => u,
        Err(e) => return CheckResult::fail(BASE_URL, format!("{base} is not a URL ({e})"), hint),
    };
    let loopback = url.host().is_some_and(|h| is_loopback_host(&h));
    match url.scheme() {
        "https" => CheckResult::pass(BASE_URL, format!("{base}, from {from}")),
        "http" if loopback => CheckResult::pass(
            BASE_URL,
            format!("{base}, from {from} (plain http, loopback only)"),
        ),
        "http" => CheckResult::fail(
            BASE_URL,
            format!("{base} uses plain http to a non-loopback host"),
            hint,
        ),
        other => CheckResult::fail(BASE_URL, format!("{base} has scheme {other}"), hint),
    }
}

/// `config.settings` failing: the configuration sources cannot be read (`error` from loading
/// the settings file at `file`, or from finding the config dir).
pub fn unreadable(error: &Error, file: Option<&std::path::Path>) -> CheckResult {
    let file = file.map_or_else(
        || "the settings file".to_string(),
        |f| f.display().to_string(),
    );
    let detail = match error {
        // Settings::load names the file itself.
        Error::InvalidSettings { name, reason } if *name == file => format!("{name} {reason}"),
        Error::InvalidSettings { name, reason } => format!("{name}: {reason}"),
        other => format!("{file} cannot be read: {other}"),
    };
    let hint = match error {
        Error::InvalidSettings { name, .. } if name == "XDG_CONFIG_HOME" => {
            "set HOME or XDG_CONFIG_HOME so the settings file can be found".to_string()
        }
        _ => format!(
            "fix or delete {file}: it must be a readable JSON settings object (e.g. {{\"baseUrl\": \"https://<slug>.behest.app\"}}), or save the settings again in the app"
        ),
    };
    CheckResult::fail(SETTINGS, detail, hint)
}

/// The configuration check a resolution error belongs to, and its hint (naming the setting).
pub fn unresolved(error: &Error) -> CheckResult {
    let (name, reason) = match error {
        Error::InvalidSettings { name, reason } => (name.as_str(), reason.clone()),
        other => ("configuration", other.to_string()),
    };
    let check = match name {
        env::BEHEST_KEY | env::BEHEST_API_KEY | "stored key" | env::BEHEST_SESSION_TOKEN => KEY,
        env::BEHEST_BASE_URL | "settings.baseUrl" => BASE_URL,
        env::BEHEST_TOKEN_URL | "settings.tokenUrl" => MODE,
        n if [
            env::BEHEST_KID,
            env::BEHEST_TENANT_ID,
            env::BEHEST_PROJECT_ID,
            "settings.kid",
            "settings.tenantId",
            "settings.projectId",
        ]
        .iter()
        .any(|id| n.split(", ").any(|part| part == *id)) =>
        {
            IDS
        }
        _ => VALUES,
    };
    // "is X; expected Y": the detail says what is wrong, the hint what is expected.
    let (wrong, expected) = match reason.split_once("; expected ") {
        Some((wrong, expected)) => (wrong.to_string(), format!("expected {expected}")),
        None => (reason.clone(), reason.clone()),
    };
    let hint = match name {
        "stored key" => {
            format!("replace the key stored in the keyring (or set BEHEST_KEY): {expected}")
        }
        _ => format!("fix {name}: {expected}"),
    };
    CheckResult::fail(check, format!("{name}: {wrong}"), hint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::redact::Secret;

    fn settings(base: Option<&str>, token_url: Option<&str>) -> Settings {
        Settings {
            base_url: base.map(str::to_string),
            token_url: token_url.map(str::to_string),
            ..Settings::default()
        }
    }

    #[test]
    fn provenance_names_the_source_that_decided_the_mode_and_the_base_url() {
        let stored_key = StoredSecrets {
            key: Some(Secret::new(
                "behest_sk_live_0123456789abcdef0123456789abcdef",
            )),
            session_token: None,
        };
        let file = settings(
            Some("https://file.example"),
            Some("https://file.example/token"),
        );
        // The environment wins over the settings file and the keyring.
        let env = Env::from_pairs([
            (env::BEHEST_KEY, "behest_sk_live_x"),
            (env::BEHEST_BASE_URL, "https://env.example"),
        ]);
        let p = Provenance::detect(&env, &file, &stored_key);
        assert_eq!(p.mode, "BEHEST_KEY (environment)");
        assert_eq!(p.base_url, "BEHEST_BASE_URL (environment)");
        let env = Env::from_pairs([(env::BEHEST_API_KEY, "behest_sk_live_x")]);
        let p = Provenance::detect(&env, &file, &stored_key);
        assert!(
            p.mode
                .starts_with("BEHEST_API_KEY (environment, deprecated"),
            "{p:?}"
        );
        assert_eq!(p.base_url, "settings.baseUrl (settings file)");
        let env = Env::from_pairs([(env::BEHEST_TOKEN_URL, "https://env.example/token")]);
        assert_eq!(
            Provenance::detect(&env, &file, &stored_key).mode,
            "BEHEST_TOKEN_URL (environment)"
        );
        // The settings file's token endpoint, before a stored key.
        let p = Provenance::detect(&Env::default(), &file, &stored_key);
        assert_eq!(p.mode, "settings.tokenUrl (settings file)");
        // A blank setting does not count; the keyring's key then decides.
        let blank = settings(Some("  "), Some(" "));
        let p = Provenance::detect(&Env::default(), &blank, &stored_key);
        assert_eq!(p.mode, "the key stored in the OS keyring");
        assert_eq!(p.base_url, "the default");
        // Nothing anywhere.
        let p = Provenance::detect(&Env::default(), &blank, &StoredSecrets::default());
        assert_eq!(p.mode, "nothing configured");
    }

    #[test]
    fn config_mode_and_base_url_show_the_provenance() -> crate::core::Result<()> {
        let env = Env::from_pairs([
            (
                env::BEHEST_KEY,
                "behest_sk_live_0123456789abcdef0123456789abcdef",
            ),
            (env::BEHEST_BASE_URL, "https://env.example"),
        ]);
        let config = Config::resolve(&env, &Settings::default(), &StoredSecrets::default())?;
        let mut options = CheckOptions::new(reqwest::Client::new());
        options.provenance = Some(Provenance::detect(
            &env,
            &Settings::default(),
            &StoredSecrets::default(),
        ));
        let mut seen = Vec::new();
        check(&config, &options, &mut |r| {
            seen.push(r);
            true
        });
        let detail = |name: &str| {
            seen.iter()
                .find(|r| r.name == name)
                .map(|r| r.detail.clone())
                .unwrap_or_default()
        };
        assert_eq!(detail(MODE), "apiKey, from BEHEST_KEY (environment)");
        assert_eq!(
            detail(BASE_URL),
            "https://env.example, from BEHEST_BASE_URL (environment)"
        );
        Ok(())
    }

    #[test]
    fn resolution_errors_land_on_their_check_and_name_the_setting() {
        let table = [
            ("BEHEST_KEY", KEY),
            ("BEHEST_API_KEY", KEY),
            ("stored key", KEY),
            ("BEHEST_SESSION_TOKEN", KEY),
            ("settings.baseUrl", BASE_URL),
            ("BEHEST_TOKEN_URL", MODE),
            ("BEHEST_TENANT_ID, BEHEST_PROJECT_ID", IDS),
            ("settings.kid", IDS),
            ("BEHEST_TTL", VALUES),
        ];
        for (name, check) in table {
            let r = unresolved(&Error::settings(name, "is wrong; expected right"));
            assert_eq!(r.name, check, "{name}");
            assert!(!r.ok);
            let hint = r.hint.unwrap_or_default();
            let named = if name == "stored key" {
                "BEHEST_KEY"
            } else {
                name
            };
            assert!(
                hint.contains(named) && hint.contains("expected right"),
                "{hint}"
            );
        }
    }
}
