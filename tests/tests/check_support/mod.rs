//! Shared helpers of the `check_*` tests: a gateway with faults enabled, the environment of
//! each auth mode against it, and assertions on a report (by check name, `ok` and the setting
//! a hint names; never on message text beyond those names).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use behest_desktop::core::auth::{
    Clock, DemoCredentials, LocalSigner, ManualClock, MintDefaults, Minter, SystemClock,
};
use behest_desktop::core::check::{self, CheckOptions, CheckReport, CheckResult};
use behest_desktop::core::config::{Config, Env, Settings, SigningConfig, StoredSecrets};
use behest_desktop::core::gateway::{Gateway, GatewayConfig, GatewayHandle};
use behest_desktop::core::http::{build_client, HttpOptions};
use behest_desktop::core::redact::Secret;

/// The auth modes a test can configure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    ApiKey,
    LocalSign,
    TokenEndpoint,
}

/// A gateway with faults enabled, after `adjust`.
pub async fn gateway(adjust: impl FnOnce(&mut GatewayConfig)) -> GatewayHandle {
    let mut config = GatewayConfig::demo().unwrap();
    config.faults_enabled = true;
    adjust(&mut config);
    Gateway::spawn(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// `behest_pk_` + the PEM, the inline signing-key form.
pub fn sign_key(pem: &str) -> String {
    format!("behest_pk_{pem}")
}

/// The environment of `mode` against `gw`.
pub fn env_for(mode: Mode, gw: &GatewayHandle) -> Vec<(String, String)> {
    let c = gw.credentials();
    let mut pairs = vec![("BEHEST_BASE_URL", c.base_url.clone())];
    match mode {
        Mode::ApiKey => pairs.push(("BEHEST_KEY", c.api_key.expose().to_string())),
        Mode::LocalSign => {
            pairs.push(("BEHEST_KEY", sign_key(c.signing_key_pem.expose())));
            pairs.push(("BEHEST_KID", c.kid.clone()));
            pairs.push(("BEHEST_TENANT_ID", c.tenant_id.clone()));
            pairs.push(("BEHEST_PROJECT_ID", c.project_id.clone()));
        }
        Mode::TokenEndpoint => {
            pairs.push(("BEHEST_TOKEN_URL", c.token_url.clone()));
            pairs.push(("BEHEST_SESSION_TOKEN", c.session_token.expose().to_string()));
        }
    }
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// `pairs` with `overrides` replacing (or adding) variables.
pub fn with(mut pairs: Vec<(String, String)>, overrides: &[(&str, &str)]) -> Vec<(String, String)> {
    for (k, v) in overrides {
        pairs.retain(|(name, _)| name != k);
        pairs.push((k.to_string(), v.to_string()));
    }
    pairs
}

/// Resolves a configuration from environment pairs only.
pub fn resolve(pairs: &[(String, String)]) -> behest_desktop::core::Result<Config> {
    Config::resolve(
        &Env::from_pairs(pairs.iter().cloned()),
        &Settings::default(),
        &StoredSecrets::default(),
    )
}

/// Options with a client of short timeouts.
pub fn options() -> CheckOptions {
    let http = build_client(HttpOptions {
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(5),
    })
    .unwrap();
    let mut o = CheckOptions::new(http);
    o.timeout = Duration::from_secs(10);
    o
}

/// `options()` checking CORS for `origins`.
pub fn options_with_origins(origins: &[&str]) -> CheckOptions {
    let mut o = options();
    o.origins = origins.iter().map(|o| o.to_string()).collect();
    o
}

/// `options()` whose clock reads `offset` seconds from now.
pub fn options_skewed(offset: i64) -> CheckOptions {
    let mut o = options();
    o.clock = Arc::new(ManualClock::new(now() + offset));
    o
}

/// Runs the checks on `pairs` (the unresolved report when they do not resolve).
pub async fn run_pairs(pairs: &[(String, String)], options: &CheckOptions) -> CheckReport {
    match resolve(pairs) {
        Ok(config) => check::run(&config, options, |_| {}).await,
        Err(e) => check::unresolved(&e, &options.origins, |_| {}),
    }
}

/// Runs the checks in `mode` against `gw` with `overrides`.
pub async fn run_mode(
    mode: Mode,
    gw: &GatewayHandle,
    overrides: &[(&str, &str)],
    options: &CheckOptions,
) -> CheckReport {
    run_pairs(&with(env_for(mode, gw), overrides), options).await
}

/// Runs the checks in `mode` against `gw` with `overrides` and the default `options()`.
pub async fn run_default(
    mode: Mode,
    gw: &GatewayHandle,
    overrides: &[(&str, &str)],
) -> CheckReport {
    run_mode(mode, gw, overrides, &options()).await
}

/// The check with this name (fails the test, showing the report, when absent).
pub fn get<'a>(report: &'a CheckReport, name: &str) -> &'a CheckResult {
    report
        .get(name)
        .unwrap_or_else(|| panic!("no check {name} in {report:#?}"))
}

/// Asserts `name` passed.
pub fn passes(report: &CheckReport, name: &str) {
    let c = get(report, name);
    assert!(
        c.ok && c.hint.is_none(),
        "{name} should pass: {c:#?}\n{report:#?}"
    );
}

/// Asserts `name` failed with a hint naming `setting`.
pub fn fails_naming(report: &CheckReport, name: &str, setting: &str) {
    let c = get(report, name);
    assert!(!c.ok, "{name} should fail: {report:#?}");
    assert!(!report.ok);
    let hint = c.hint.as_deref().unwrap_or_default();
    assert!(
        hint.contains(setting),
        "the hint of {name} should name {setting}: {hint}"
    );
}

/// Asserts `name` was skipped because `dependency` failed.
pub fn skipped_by(report: &CheckReport, name: &str, dependency: &str) {
    let c = get(report, name);
    assert!(
        !c.ok && c.detail.starts_with("skipped") && c.detail.contains(dependency),
        "{name} should be skipped by {dependency}: {c:#?}"
    );
}

/// Asserts none of `secrets` (nor any JWT) appears in the report's JSON.
pub fn no_secrets(report: &CheckReport, secrets: &[&str]) {
    let json = serde_json::to_string(report).unwrap();
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        assert!(!json.contains(s), "a secret leaked into the report");
    }
    assert!(!json.contains("eyJ"), "a JWT leaked into the report");
    assert!(
        !json.contains("PRIVATE KEY"),
        "a PEM leaked into the report"
    );
}

/// A local signer for the gateway's tenant key whose clock reads `now`.
pub fn signer_at(gw: &GatewayHandle, now: i64, ttl: u64) -> Arc<dyn Minter> {
    let c = gw.credentials();
    let signing = SigningConfig {
        pem: c.signing_key_pem,
        kid: c.kid,
        tenant_id: c.tenant_id,
        project_id: c.project_id,
    };
    let defaults = MintDefaults {
        user_id: "default".into(),
        ttl,
        tier: None,
    };
    Arc::new(
        LocalSigner::new(
            "localSign",
            &signing,
            &c.base_url,
            "https://api.behest.ai",
            "behest",
            defaults,
            Arc::new(ManualClock::new(now)),
        )
        .unwrap(),
    )
}

/// Now by the system clock, epoch seconds.
pub fn now() -> i64 {
    SystemClock.now()
}

/// Demo credentials of a gateway, as the CLI hands them over.
pub fn demo(gw: &GatewayHandle) -> DemoCredentials {
    let c = gw.credentials();
    DemoCredentials {
        base_url: c.base_url,
        signing: SigningConfig {
            pem: c.signing_key_pem,
            kid: c.kid,
            tenant_id: c.tenant_id,
            project_id: c.project_id,
        },
    }
}

/// Every secret of a gateway's credentials, for leak assertions.
pub fn secrets_of(gw: &GatewayHandle) -> Vec<String> {
    let c = gw.credentials();
    let pem_body: String = c
        .signing_key_pem
        .expose()
        .lines()
        .nth(1)
        .unwrap_or_default()
        .to_string();
    vec![
        c.api_key.expose().to_string(),
        c.session_token.expose().to_string(),
        pem_body,
    ]
}

/// A secret's text, for building environments.
pub fn expose(s: &Secret) -> String {
    s.expose().to_string()
}
