//! The facade the app's commands are thin over: one [`Backend`] owns the wiring (settings and
//! environment → auth mode → token cache → chat client → history) and offers one method per
//! command. Nothing here names Tauri; the CLI and tests call the same methods.
//!
//! Invariants:
//! - No method returns a token, key, PEM or credential, except [`Backend::raw_token`], whose one
//!   caller puts it on the clipboard.
//! - The connection ([`link::Link`]) is swapped whole under a short std lock, never held across
//!   an await; a failed reconfiguration leaves the previous connection in place.
//! - Keyring and SQLite work runs off the async workers (the stores guarantee it).

pub mod conversations;
mod dev;
pub mod link;
pub mod requests;
pub mod types;

use std::sync::{Arc, RwLock};

pub use link::{DemoOptions, DemoSlot, DEMO_DELAY_ENV, DEMO_FAULTS_ENV};
pub use types::*;

use crate::core::auth::MintParams;
use crate::core::chat::InFlight;
use crate::core::config::{self, Env, Settings};
use crate::core::history::{History, HistoryOptions, HistoryPaths};
use crate::core::protocol::SIGNING_KEY_PREFIX;
use crate::core::redact::Secret;
use crate::core::secrets::{self, KeyringState, SecretStore};
use crate::core::{Error, Result};

/// What a [`Backend`] is built from.
pub struct BackendOptions {
    /// The SDK environment variables.
    pub env: Env,
    /// Where the history lives.
    pub history: HistoryPaths,
    /// Where secrets live.
    pub secrets: Arc<dyn SecretStore>,
    /// Demo gateway knobs.
    pub demo: DemoOptions,
    /// The app's one HTTP client.
    pub http: reqwest::Client,
}

/// The history, opened once on first use; an open that failed stays failed (its reason is
/// kept, so every history command reports it).
struct HistorySlot {
    cell: tokio::sync::OnceCell<std::result::Result<History, String>>,
    paths: HistoryPaths,
}

impl HistorySlot {
    /// The history if it is open (a clone sharing its connection).
    fn opened(&self) -> Option<History> {
        self.cell
            .get()
            .and_then(|opened| opened.as_ref().ok())
            .cloned()
    }

    async fn get(&self) -> Result<&History> {
        let opened = self
            .cell
            .get_or_init(|| async {
                History::open_async(self.paths.clone(), HistoryOptions::default())
                    .await
                    .map_err(|e| e.to_string())
            })
            .await;
        opened
            .as_ref()
            .map_err(|e| Error::Storage(format!("the history could not be opened: {e}")))
    }
}

/// The app's state behind every command.
pub struct Backend {
    env: Env,
    secrets: Arc<dyn SecretStore>,
    demo_options: DemoOptions,
    demo: DemoSlot,
    http: reqwest::Client,
    history: HistorySlot,
    inflight: Arc<InFlight>,
    settings: RwLock<Settings>,
    link: RwLock<std::result::Result<Arc<link::Link>, String>>,
    ready: tokio::sync::watch::Sender<bool>,
    requests: Arc<requests::RequestLog>,
    trim: Arc<crate::core::memory::IdleTrim>,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("history", &self.history.paths.db)
            .finish_non_exhaustive()
    }
}

impl Backend {
    /// [`Backend::open`], the history opened, then [`Backend::connect`].
    pub async fn start(options: BackendOptions, settings: Settings) -> Result<Backend> {
        let backend = Backend::open(options, settings).await?;
        backend.history().await?;
        backend.connect().await;
        Ok(backend)
    }

    /// A backend whose history opens on first use (the app starts that in the background with
    /// [`Backend::history`] so an integrity check or the daily backup of a big file never holds
    /// back the window) and whose connection is made by [`Backend::connect`] (also in the
    /// background, so a slow keyring never delays the window). Commands wait for what they need;
    /// a history that cannot be opened makes every history command fail with that reason.
    pub async fn open(options: BackendOptions, settings: Settings) -> Result<Backend> {
        Ok(Backend {
            env: options.env,
            secrets: options.secrets,
            demo_options: options.demo,
            demo: DemoSlot::default(),
            http: options.http,
            history: HistorySlot {
                cell: tokio::sync::OnceCell::new(),
                paths: options.history,
            },
            inflight: InFlight::new(),
            settings: RwLock::new(settings),
            link: RwLock::new(Err("still connecting".into())),
            ready: tokio::sync::watch::channel(false).0,
            requests: Arc::default(),
            trim: crate::core::memory::IdleTrim::new(),
        })
    }

    /// Connects with the current settings. A configuration that does not resolve is kept as
    /// the problem the status shows; the app still opens.
    pub async fn connect(&self) {
        let settings = self.settings();
        if let Err(error) = self.reconnect(&settings).await {
            tracing::warn!(%error, "the configuration does not resolve");
            self.set_link(Err(error.to_string()));
        }
        self.ready.send_replace(true);
    }

    /// Waits until the first [`Backend::connect`] finished.
    pub async fn ready(&self) {
        let mut rx = self.ready.subscribe();
        // An error means the sender is gone, which cannot happen while `self` lives.
        let _ = rx.wait_for(|ready| *ready).await;
    }

    /// The connection once the first connect finished.
    pub(crate) async fn ready_link(&self) -> Result<Arc<link::Link>> {
        self.ready().await;
        self.link()
    }

    /// Builds a connection for `settings` and swaps it in; on error the old one stays.
    async fn reconnect(&self, settings: &Settings) -> Result<()> {
        let link = link::connect(
            &self.env,
            settings,
            &self.secrets,
            &self.demo,
            &self.demo_options,
            &self.http,
            &self.requests,
        )
        .await?;
        self.set_link(Ok(Arc::new(link)));
        Ok(())
    }

    fn set_link(&self, value: std::result::Result<Arc<link::Link>, String>) {
        if let Ok(mut slot) = self.link.write() {
            *slot = value;
        }
    }

    /// The current connection, or why there is none.
    pub(crate) fn link(&self) -> Result<Arc<link::Link>> {
        match self.link.read().map(|l| l.clone()) {
            Ok(Ok(link)) => Ok(link),
            Ok(Err(problem)) => Err(Error::settings("configuration", problem)),
            Err(_) => Err(Error::Storage("the connection state is unavailable".into())),
        }
    }

    /// The history store, once open (the first call opens it; later ones wait for that).
    pub async fn history(&self) -> Result<&History> {
        self.history.get().await
    }

    /// The demo gateway, when one runs (tests script faults through it).
    pub async fn demo_gateway(&self) -> Option<Arc<crate::core::gateway::GatewayHandle>> {
        self.demo.handle().await
    }

    /// The current settings.
    pub fn settings(&self) -> Settings {
        self.settings.read().map(|s| s.clone()).unwrap_or_default()
    }

    /// Mode, origin, user, keyring state and token expiry for the status bar.
    pub async fn status(&self) -> AppStatus {
        self.ready().await;
        let (keyring, keyring_detail) = match self.secrets.state() {
            KeyringState::Persisted => (KeyringStatus::Persisted, None),
            KeyringState::MemoryOnly { reason } => (KeyringStatus::MemoryOnly, Some(reason)),
        };
        let version = env!("CARGO_PKG_VERSION").to_string();
        match self.link() {
            Ok(link) => AppStatus {
                mode: link.mode.to_string(),
                base_url: Some(link.base_url.clone()),
                user_id: Some(link.config.user_id.clone()),
                demo: link.mode == "demo",
                keyring,
                keyring_detail,
                token_expires_at: link.tokens.expires_at(),
                problem: None,
                version,
            },
            Err(problem) => AppStatus {
                mode: "unconfigured".into(),
                base_url: None,
                user_id: None,
                demo: false,
                keyring,
                keyring_detail,
                token_expires_at: None,
                problem: Some(problem.to_string()),
                version,
            },
        }
    }

    /// Which secrets are stored.
    pub async fn secret_presence(&self) -> Result<SecretPresence> {
        let key = self.secrets.get(secrets::KEY).await?;
        let session = self.secrets.get(secrets::SESSION_TOKEN).await?;
        let api_key = key.as_ref().is_some_and(|k| {
            k.expose()
                .starts_with(crate::core::protocol::API_KEY_PREFIX)
        });
        Ok(SecretPresence {
            api_key,
            signing_key: key.is_some() && !api_key,
            session_token: session.is_some(),
        })
    }

    /// The settings as the UI edits them.
    pub async fn settings_view(&self, ui: UiPrefs) -> Result<SettingsView> {
        self.ready().await;
        let auth_mode = match self.link().map(|l| l.mode) {
            Ok("tokenEndpoint") => AuthChoice::TokenEndpoint,
            Ok("apiKey") => AuthChoice::ApiKey,
            Ok("localSigning") => AuthChoice::LocalSigning,
            _ => AuthChoice::Demo,
        };
        Ok(SettingsView {
            core: self.settings(),
            ui,
            auth_mode,
            secrets: self.secret_presence().await?,
        })
    }

    /// Applies new settings: what the chosen mode does not use is cleared (demo also forgets
    /// the stored key), then the connection is rebuilt. On error nothing changes and the
    /// caller must not persist them. Returns the settings to persist.
    pub async fn update_settings(&self, view: &SettingsView) -> Result<Settings> {
        let mut next = view.core.clone();
        match view.auth_mode {
            AuthChoice::Demo => {
                next.token_url = None;
                next.base_url = None;
                self.secrets.delete(secrets::KEY).await?;
            }
            AuthChoice::ApiKey | AuthChoice::LocalSigning => next.token_url = None,
            AuthChoice::TokenEndpoint => {}
        }
        self.reconnect(&next).await?;
        if let Ok(mut s) = self.settings.write() {
            *s = next.clone();
        }
        Ok(next)
    }

    /// Stores a secret in the keyring (never returned) and reconnects.
    pub async fn set_secret(&self, name: SecretName, value: Secret) -> Result<()> {
        let trimmed = Secret::new(value.expose().trim());
        if trimmed.is_empty() {
            return Err(Error::settings(secret_label(name), "is empty"));
        }
        let (slot, stored) = match name {
            SecretName::ApiKey => {
                if !crate::core::protocol::is_api_key(trimmed.expose()) {
                    return Err(Error::settings(
                        "apiKey",
                        "expected behest_sk_live_ followed by 32 hex digits",
                    ));
                }
                (secrets::KEY, trimmed)
            }
            SecretName::SigningKey if trimmed.expose().starts_with("-----BEGIN") => (
                secrets::KEY,
                Secret::new(format!("{SIGNING_KEY_PREFIX}{}", trimmed.expose())),
            ),
            SecretName::SigningKey => (secrets::KEY, trimmed),
            SecretName::SessionToken => (secrets::SESSION_TOKEN, trimmed),
        };
        if name == SecretName::SigningKey {
            match config::detect_key("signingKey", &stored)? {
                config::DetectedKey::SigningKey(pem) => {
                    crate::core::keys::RsaKey::from_pem(pem.expose())?;
                }
                config::DetectedKey::ApiKey(_) => {
                    return Err(Error::settings(
                        "signingKey",
                        "is an api key; expected a PEM private key",
                    ));
                }
            }
        }
        self.secrets.set(slot, &stored).await?;
        let settings = self.settings();
        if let Err(error) = self.reconnect(&settings).await {
            // The secret is stored; the rest of the configuration may still be on its way.
            self.set_link(Err(error.to_string()));
        }
        Ok(())
    }

    /// Stops every chat, forgets every secret and cached token, and reconnects.
    pub async fn sign_out(&self) -> Result<()> {
        self.inflight.cancel_all();
        if let Ok(link) = self.link() {
            link.tokens.clear().await?;
        }
        self.secrets.delete(secrets::KEY).await?;
        self.secrets.delete(secrets::SESSION_TOKEN).await?;
        let settings = self.settings();
        if let Err(error) = self.reconnect(&settings).await {
            self.set_link(Err(error.to_string()));
        }
        Ok(())
    }

    /// Mints a fresh token and describes it; the token itself is dropped here.
    pub async fn mint(&self, input: MintInput) -> Result<TokenInfo> {
        let link = self.ready_link().await?;
        let tier = match input
            .tier
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            Some(raw) => Some(config::parse_tier("tier", raw)?),
            None => None,
        };
        let user_id = match input
            .user
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
        {
            Some(raw) => Some(config::check_id("user", raw)?),
            None => None,
        };
        if let Some(ttl) = input.ttl {
            if ttl == 0 || ttl > config::MAX_TTL_SECS {
                return Err(Error::settings(
                    "ttl",
                    format!("expected 1 to {} seconds", config::MAX_TTL_SECS),
                ));
            }
        }
        let params = MintParams {
            user_id,
            tier,
            ttl: input.ttl,
            session_id: None,
        };
        let minted = link.minter.mint(&params).await?;
        dev::describe_token(
            link.mode,
            &minted.token,
            minted.expires_at,
            minted.session_id.as_deref(),
        )
    }

    /// The current chat token, for the clipboard only.
    pub async fn raw_token(&self) -> Result<Secret> {
        let link = self.ready_link().await?;
        use crate::core::token::TokenSource as _;
        Ok(link.tokens.bearer().await?.token)
    }

    /// Renders Markdown to sanitized HTML (off the async workers for large texts).
    pub async fn render_markdown(&self, text: String) -> Result<String> {
        if text.len() < 64 * 1024 {
            return Ok(crate::core::markdown::render(&text));
        }
        tokio::task::spawn_blocking(move || crate::core::markdown::render(&text))
            .await
            .map_err(|_| Error::Storage("rendering failed".into()))
    }

    /// Gives the allocator's free memory back once no chat has run for a moment (see
    /// [`crate::core::memory`]): called after work that allocates in proportion to a
    /// conversation's length.
    pub(crate) fn trim_when_quiet(&self) {
        let inflight = Arc::clone(&self.inflight);
        let history = self.history.opened();
        self.trim.poke(
            move || !inflight.is_empty(),
            move || {
                if let Some(history) = history {
                    history.release_memory();
                }
            },
        );
    }

    /// Cancels every chat in flight (the app is closing).
    pub fn cancel_all_chats(&self) {
        self.inflight.cancel_all();
    }

    /// Trips the cancellation of `request_id`; `false` when it is not running.
    pub fn cancel_chat(&self, request_id: &str) -> bool {
        self.inflight.cancel(request_id)
    }
}

fn secret_label(name: SecretName) -> &'static str {
    match name {
        SecretName::ApiKey => "apiKey",
        SecretName::SigningKey => "signingKey",
        SecretName::SessionToken => "sessionToken",
    }
}
