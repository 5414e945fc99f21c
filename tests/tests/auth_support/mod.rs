//! Helpers shared by the `auth_*`, `session_*`, `config_*` and `keyring_*` tests: a gateway on
//! loopback, configurations for each auth mode from its credentials, a counting secret store,
//! and a check that a token is accepted by the gateway.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use base64::Engine as _;
use behest_desktop::core::auth::{minter_for, Clock, DemoCredentials, Minter, SystemClock};
use behest_desktop::core::config::{Config, Env, Settings, SigningConfig, StoredSecrets};
use behest_desktop::core::gateway::{Gateway, GatewayConfig, GatewayHandle, RecordedRequest};
use behest_desktop::core::redact::Secret;
use behest_desktop::core::secrets::{KeyringState, MemoryStore, SecretStore};
use behest_desktop::core::session::{Session, SessionOptions};
use behest_desktop::core::token::{Bearer, BoxFuture};
use behest_desktop::core::Result;

/// A demo gateway on 127.0.0.1:0 with faults enabled.
pub async fn gateway() -> GatewayHandle {
    let mut config = GatewayConfig::demo().expect("demo config");
    config.faults_enabled = true;
    Gateway::spawn(config, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("gateway starts")
}

/// The auth modes under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    TokenEndpoint,
    ApiKey,
    LocalSign,
    Demo,
}

/// The environment selecting `mode` against `gw`.
pub fn env_for(mode: Mode, gw: &GatewayHandle) -> Env {
    let c = gw.credentials();
    let b64 = base64::engine::general_purpose::STANDARD.encode(c.signing_key_pem.expose());
    let pairs: Vec<(&str, String)> = match mode {
        Mode::TokenEndpoint => vec![
            ("BEHEST_BASE_URL", c.base_url.clone()),
            ("BEHEST_TOKEN_URL", c.token_url.clone()),
            ("BEHEST_SESSION_TOKEN", c.session_token.expose().to_string()),
        ],
        Mode::ApiKey => vec![
            ("BEHEST_BASE_URL", c.base_url.clone()),
            ("BEHEST_KEY", c.api_key.expose().to_string()),
        ],
        Mode::LocalSign => vec![
            ("BEHEST_BASE_URL", c.base_url.clone()),
            ("BEHEST_KEY", format!("behest_pk_{b64}")),
            ("BEHEST_KID", c.kid.clone()),
            ("BEHEST_TENANT_ID", c.tenant_id.clone()),
            ("BEHEST_PROJECT_ID", c.project_id.clone()),
        ],
        Mode::Demo => vec![],
    };
    Env::from_pairs(pairs)
}

/// What demo mode needs from the gateway.
pub fn demo_credentials(gw: &GatewayHandle) -> DemoCredentials {
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

/// The configuration `mode` against `gw` resolves to (no settings, no stored secrets).
pub fn config_for(mode: Mode, gw: &GatewayHandle) -> Result<Config> {
    Config::resolve(
        &env_for(mode, gw),
        &Settings::default(),
        &StoredSecrets::default(),
    )
}

/// The resolved configuration and minter for `mode` against `gw`.
pub fn minter(
    mode: Mode,
    gw: &GatewayHandle,
    clock: Arc<dyn Clock>,
) -> Result<(Config, Arc<dyn Minter>)> {
    let config = config_for(mode, gw)?;
    let client = behest_desktop::core::http::shared_client()?;
    let demo = demo_credentials(gw);
    let minter = minter_for(&config, Some(&demo), client, clock)?;
    Ok((config, minter))
}

/// The configuration resolved from exactly `pairs` (no settings, no stored secrets).
pub fn config_from(pairs: &[(&str, &str)]) -> Config {
    Config::resolve(
        &Env::from_pairs(pairs.iter().copied()),
        &Settings::default(),
        &StoredSecrets::default(),
    )
    .expect("configuration resolves")
}

/// The error the first mint meets, with a minter (no demo credentials, system clock) for the
/// configuration `pairs` resolve to.
pub async fn mint_error_from(pairs: &[(&str, &str)]) -> behest_desktop::core::Error {
    let client = behest_desktop::core::http::shared_client().expect("http client");
    let minter = minter_for(&config_from(pairs), None, client, Arc::new(SystemClock))
        .expect("minter for the configuration");
    minter
        .mint(&behest_desktop::core::auth::MintParams::default())
        .await
        .expect_err("the mint fails")
}

/// A session for `mode` against `gw` over `store`, on the system clock.
pub fn session(mode: Mode, gw: &GatewayHandle, store: Arc<dyn SecretStore>) -> Result<Session> {
    session_with(mode, gw, store, Arc::new(SystemClock))
}

/// A session for `mode` against `gw` over `store` and `clock`.
pub fn session_with(
    mode: Mode,
    gw: &GatewayHandle,
    store: Arc<dyn SecretStore>,
    clock: Arc<dyn Clock>,
) -> Result<Session> {
    let (config, minter) = minter(mode, gw, Arc::clone(&clock))?;
    let options = SessionOptions {
        refresh_margin: config.refresh_margin,
        ..SessionOptions::default()
    };
    Ok(Session::new(minter, store, clock, options))
}

/// How many recorded requests hit `path`.
pub fn count(gw: &GatewayHandle, path: &str) -> usize {
    gw.requests().iter().filter(|r| r.path == path).count()
}

/// The recorded requests that hit `path`, oldest first.
pub fn requests_to(gw: &GatewayHandle, path: &str) -> Vec<RecordedRequest> {
    gw.requests()
        .into_iter()
        .filter(|r| r.path == path)
        .collect()
}

/// Uses `bearer` on `GET /v1/usage` (which verifies the token) and returns the status.
pub async fn use_token(gw: &GatewayHandle, bearer: &Bearer) -> u16 {
    let mut request = reqwest::Client::new()
        .get(format!("{}/v1/usage", gw.base_url()))
        .bearer_auth(bearer.token.expose());
    if let Some(sid) = &bearer.session_id {
        request = request.header("x-session-id", sid);
    }
    request
        .send()
        .await
        .expect("usage request")
        .status()
        .as_u16()
}

/// A memory store that counts writes and deletes.
#[derive(Debug, Default)]
pub struct CountingStore {
    pub inner: MemoryStore,
    pub sets: AtomicUsize,
    pub deletes: AtomicUsize,
}

impl CountingStore {
    pub fn sets(&self) -> usize {
        self.sets.load(Ordering::SeqCst)
    }
}

impl SecretStore for CountingStore {
    fn get<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<Secret>>> {
        self.inner.get(name)
    }
    fn set<'a>(&'a self, name: &'a str, value: &'a Secret) -> BoxFuture<'a, Result<()>> {
        self.sets.fetch_add(1, Ordering::SeqCst);
        self.inner.set(name, value)
    }
    fn delete<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<()>> {
        self.deletes.fetch_add(1, Ordering::SeqCst);
        self.inner.delete(name)
    }
    fn state(&self) -> KeyringState {
        KeyringState::Persisted
    }
}

/// Generates an RSA-2048 PKCS#1 PEM with openssl (fails loudly when openssl is missing).
pub fn openssl_pkcs1_pem() -> String {
    let out = std::process::Command::new("openssl")
        .args(["genrsa", "-traditional", "2048"])
        .output()
        .expect("openssl is required for this test: apt-get install openssl");
    assert!(out.status.success(), "openssl genrsa failed");
    let pem = String::from_utf8(out.stdout).expect("pem is utf-8");
    assert!(
        pem.contains("BEGIN RSA PRIVATE KEY"),
        "openssl did not write PKCS#1"
    );
    pem
}

/// Runs `mint` with only `pairs` as configuration (temp HOME and config dir, no keyring bus).
pub fn mint_cli(home: &Path, pairs: &[(String, String)], args: &[&str]) -> Output {
    let mut cmd = Command::new(behest_desktop_tests::app_binary());
    cmd.arg("mint").args(args).env_clear();
    cmd.env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
        .env("BEHEST_LOG", "trace")
        .env(
            "BEHEST_KEYRING_SERVICE",
            format!("behest-desktop-test-{}", uuid::Uuid::new_v4()),
        );
    for (k, v) in pairs {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

pub fn mode_pairs(mode: Mode, gw: &GatewayHandle) -> Vec<(String, String)> {
    let env = env_for(mode, gw);
    behest_desktop::core::config::env::ALL
        .iter()
        .filter_map(|n| env.raw(n).map(|v| (n.to_string(), v.to_string())))
        .collect()
}
