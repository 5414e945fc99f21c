//! Loading the configuration the one way every command and the app do it: the environment (an
//! injectable [`Env`]) → the settings file → the secret store's key or session credential →
//! [`Config`]; and, when that resolves to demo mode, the in-process gateway plus what the
//! minter needs to sign for it.
//!
//! Invariants:
//! - The secret store is read only when the environment does not decide the mode on its own
//!   (a key there, or a token endpoint with its session credential there); [`Loaded::keyring`]
//!   says whether it was read, where secrets are kept, or why the read failed.
//! - A failed read counts as "nothing stored" for resolution (which then names what is
//!   missing); the caller decides whether the failure itself is fatal (the app: yes).
//! - The demo gateway listens on 127.0.0.1 only, on a port the OS picks; its RSA key is
//!   generated off the async workers. No secret is logged.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::{env, settings_path, AuthMode, Config, Env, Settings, SigningConfig, StoredSecrets};
use crate::core::auth::DemoCredentials;
use crate::core::gateway::{DemoResponder, Gateway, GatewayConfig, GatewayHandle, TierLimits};
use crate::core::secrets::{self, KeyringState, KeyringStore, SecretStore, DEFAULT_SERVICE};
use crate::core::{Error, Result};

/// Environment variable: the keyring service the headless commands read secrets from
/// (default [`DEFAULT_SERVICE`], the app's).
pub const KEYRING_SERVICE_ENV: &str = "BEHEST_KEYRING_SERVICE";
/// Environment variable: milliseconds between the demo gateway's streamed words.
pub const DEMO_DELAY_ENV: &str = "BEHEST_DEMO_DELAY_MS";
/// Environment variable: `1` enables fault scripting on the app's demo gateway.
pub const DEMO_FAULTS_ENV: &str = "BEHEST_DEMO_FAULTS";
/// The longest accepted [`DEMO_DELAY_ENV`].
pub const MAX_DEMO_DELAY: Duration = Duration::from_secs(10);

/// What happened to the secret store during a load.
#[derive(Debug)]
pub enum KeyringRead {
    /// The environment decides the mode, so the store was not read.
    NotNeeded,
    /// The store was read; where it keeps secrets now (the OS store, or memory only).
    Read(KeyringState),
    /// A read failed; the secrets count as absent.
    Failed(Error),
}

/// The sources of a configuration, loaded; [`Loaded::resolve`] turns them into a [`Config`].
#[derive(Debug)]
pub struct Loaded {
    /// The `BEHEST_*` environment.
    pub env: Env,
    /// The non-secret settings.
    pub settings: Settings,
    /// The key or session credential from the secret store (empty when not read).
    pub stored: StoredSecrets,
    /// Whether and how the secret store was read.
    pub keyring: KeyringRead,
}

/// Whether `env` (with `settings`' token endpoint) decides the mode without stored secrets: a
/// key in the environment, or a token endpoint whose session credential is in the environment.
pub fn env_decides_mode(env: &Env, settings: &Settings) -> bool {
    let token_url = env.get(env::BEHEST_TOKEN_URL).is_some()
        || settings
            .token_url
            .as_deref()
            .is_some_and(|u| !u.trim().is_empty());
    env.has_key() || (token_url && env.get(env::BEHEST_SESSION_TOKEN).is_some())
}

/// The key and the session credential in `store` (both read, whatever the environment says).
pub async fn stored_secrets(store: &dyn SecretStore) -> Result<StoredSecrets> {
    Ok(StoredSecrets {
        key: store.get(secrets::KEY).await?,
        session_token: store.get(secrets::SESSION_TOKEN).await?,
    })
}

/// The keyring service of the headless commands: [`KEYRING_SERVICE_ENV`], else the app's.
pub fn keyring_service() -> String {
    std::env::var(KEYRING_SERVICE_ENV)
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_SERVICE.to_string())
}

impl Loaded {
    /// Reads the stored secrets from `store` when the environment does not decide the mode.
    pub async fn from_parts(env: Env, settings: Settings, store: &dyn SecretStore) -> Loaded {
        if env_decides_mode(&env, &settings) {
            return Loaded {
                env,
                settings,
                stored: StoredSecrets::default(),
                keyring: KeyringRead::NotNeeded,
            };
        }
        let (stored, keyring) = match stored_secrets(store).await {
            Ok(stored) => (stored, KeyringRead::Read(store.state())),
            Err(error) => {
                tracing::warn!(%error, "the stored secrets cannot be read; counting them as absent");
                (StoredSecrets::default(), KeyringRead::Failed(error))
            }
        };
        Loaded {
            env,
            settings,
            stored,
            keyring,
        }
    }

    /// [`Loaded::from_parts`] with the settings read from `settings_file` (a missing file gives
    /// the defaults; an unreadable or malformed one is an error naming it).
    pub async fn from_files(
        env: Env,
        settings_file: &Path,
        store: &dyn SecretStore,
    ) -> Result<Loaded> {
        let settings = Settings::load(settings_file)?;
        Ok(Loaded::from_parts(env, settings, store).await)
    }

    /// What every headless command loads: this process's environment, the settings file at
    /// [`settings_path`], and the OS keyring under [`keyring_service`].
    pub async fn from_process() -> Result<Loaded> {
        let store = KeyringStore::new(keyring_service());
        Loaded::from_files(Env::from_process(), &settings_path()?, &store).await
    }

    /// Resolves the configuration ([`Config::resolve`]).
    pub fn resolve(&self) -> Result<Config> {
        Config::resolve(&self.env, &self.settings, &self.stored)
    }
}

/// The largest chat request the demo gateway accepts: a conversation of several megabytes of
/// history still gets an answer.
pub const DEMO_MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// Knobs of the in-process demo gateway.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DemoOptions {
    /// Pause between streamed words ([`DEMO_DELAY_ENV`]); zero streams at full speed.
    pub chunk_delay: Duration,
    /// Enable the gateway's fault scripting route `/__behest/faults` ([`DEMO_FAULTS_ENV`]` = 1`),
    /// for end-to-end tests only.
    pub faults: bool,
    /// How many requests the gateway keeps for inspection by tests (`GatewayHandle::requests`).
    /// 0 (the default) keeps none: an app left open all day must not hold thousands of chat
    /// bodies nobody reads.
    pub record_requests: usize,
}

impl DemoOptions {
    /// Reads [`DEMO_DELAY_ENV`] (capped at [`MAX_DEMO_DELAY`]) and [`DEMO_FAULTS_ENV`] from the
    /// process environment.
    pub fn from_process_env() -> Self {
        let delay = std::env::var(DEMO_DELAY_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0);
        let faults = std::env::var(DEMO_FAULTS_ENV).is_ok_and(|v| v.trim() == "1");
        DemoOptions {
            chunk_delay: Duration::from_millis(delay).min(MAX_DEMO_DELAY),
            faults,
            record_requests: if faults { 1_000 } else { 0 },
        }
    }

    /// The headless commands' knobs: [`DemoOptions::from_process_env`]'s delay, without fault
    /// scripting (nothing can reach a one-command gateway's admin route).
    pub fn headless() -> Self {
        DemoOptions {
            faults: false,
            ..DemoOptions::from_process_env()
        }
    }
}

/// The demo's daily caps. The demo is for chatting, not for exercising quotas, and the app resends
/// a conversation whole with each message, so a long one costs a lot of prompt tokens a turn (a
/// 1 MB conversation about 250k): the documented `max` tier's 20M tokens a day would run out
/// within a few hundred turns.
pub const DEMO_TOKENS_PER_DAY: u64 = 10_000_000_000;
/// See [`DEMO_TOKENS_PER_DAY`].
pub const DEMO_REQUESTS_PER_DAY: u64 = 10_000_000;

/// Makes a gateway config the app's demo gateway: the built-in responder at `options`' pace,
/// fault scripting as asked, every tier at the `max` tier's per-minute rate with the demo's daily
/// caps, and bodies up to [`DEMO_MAX_BODY_BYTES`] (a long conversation is never refused for its
/// size).
pub fn configure_demo(config: &mut GatewayConfig, options: &DemoOptions) {
    config.responder = Arc::new(DemoResponder::new(options.chunk_delay));
    config.faults_enabled = options.faults;
    config.max_recorded_requests = options.record_requests;
    if let Some(max) = crate::core::gateway::config::default_tier_limits()
        .get("max")
        .copied()
    {
        for project in &mut config.projects {
            for limits in project.tier_limits.values_mut() {
                *limits = TierLimits {
                    tokens_per_day: DEMO_TOKENS_PER_DAY,
                    requests_per_day: DEMO_REQUESTS_PER_DAY,
                    ..max
                };
            }
        }
    }
    config.max_body_bytes = DEMO_MAX_BODY_BYTES;
}

/// Starts the demo gateway on `127.0.0.1:0` (its keys generated on a blocking thread).
pub async fn spawn_demo_gateway(options: &DemoOptions) -> Result<GatewayHandle> {
    let mut config = tokio::task::spawn_blocking(GatewayConfig::demo)
        .await
        .map_err(|_| Error::Crypto("generating the demo gateway's keys failed".into()))??;
    configure_demo(&mut config, options);
    let handle = Gateway::spawn(config, std::net::SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    tracing::info!(base_url = %handle.base_url(), "demo gateway started");
    Ok(handle)
}

/// What a minter needs to sign for `gateway` in demo mode (its origin and tenant key).
pub fn demo_credentials(gateway: &GatewayHandle) -> DemoCredentials {
    let c = gateway.credentials();
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

/// A demo gateway started for one command, with the credentials its minter needs.
pub struct DemoGateway {
    /// The running gateway.
    pub handle: GatewayHandle,
    /// Its origin and signing key, for [`crate::core::auth::minter_for`].
    pub credentials: DemoCredentials,
}

impl DemoGateway {
    /// Starts the demo gateway when `config` is in demo mode; `None` otherwise.
    pub async fn for_config(config: &Config, options: &DemoOptions) -> Result<Option<DemoGateway>> {
        if config.mode != AuthMode::Demo {
            return Ok(None);
        }
        let handle = spawn_demo_gateway(options).await?;
        let credentials = demo_credentials(&handle);
        Ok(Some(DemoGateway {
            handle,
            credentials,
        }))
    }

    /// Stops the gateway gracefully.
    pub async fn shutdown(self) {
        self.handle.shutdown().await;
    }
}

/// Where chats go: the demo gateway's origin in demo mode, else the configured base URL.
pub fn chat_origin(config: &Config, demo: Option<&DemoCredentials>) -> String {
    demo.map_or_else(|| config.base_url.clone(), |d| d.base_url.clone())
}
