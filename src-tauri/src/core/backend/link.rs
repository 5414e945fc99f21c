//! The connection: settings + environment + stored secrets → [`Config`] → auth mode → minter →
//! token session → chat client. In demo mode the in-process gateway is started (once per process,
//! on 127.0.0.1 with an OS-chosen port) and tokens are signed locally with its tenant key.
//!
//! Invariant: a [`Link`] is immutable; a settings or secret change builds a new one and swaps
//! it in whole, so a chat in flight keeps the connection it started with.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex as AsyncMutex;

use crate::core::auth::{self, DemoCredentials, Minter, SystemClock};
use crate::core::chat::{ChatClient, ChatConfig};
use crate::core::config::{AuthMode, Config, Env, Settings, SigningConfig, StoredSecrets};
use crate::core::gateway::{DemoResponder, Gateway, GatewayConfig, GatewayHandle};
use crate::core::secrets::{self, MemoryStore, SecretStore};
use crate::core::session::{Session, SessionOptions};
use crate::core::token::{Bearer, BoxFuture, TokenSource};
use crate::core::{Error, Result};

/// Knobs of the built-in demo gateway (read from the environment by the app).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DemoOptions {
    /// Pause between streamed words (`BEHEST_DEMO_DELAY_MS`); zero streams at full speed.
    pub chunk_delay: Duration,
    /// Enable the gateway's fault scripting route `/__behest/faults` (`BEHEST_DEMO_FAULTS=1`),
    /// for end-to-end tests only.
    pub faults: bool,
}

/// Environment variable: milliseconds between the demo gateway's streamed words.
pub const DEMO_DELAY_ENV: &str = "BEHEST_DEMO_DELAY_MS";
/// Environment variable: `1` enables fault scripting on the demo gateway.
pub const DEMO_FAULTS_ENV: &str = "BEHEST_DEMO_FAULTS";

impl DemoOptions {
    /// Reads [`DEMO_DELAY_ENV`] and [`DEMO_FAULTS_ENV`] from the process environment.
    pub fn from_process_env() -> Self {
        let delay = std::env::var(DEMO_DELAY_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0);
        let faults = std::env::var(DEMO_FAULTS_ENV).is_ok_and(|v| v.trim() == "1");
        DemoOptions {
            chunk_delay: Duration::from_millis(delay.min(10_000)),
            faults,
        }
    }
}

/// The demo gateway of this process, started on first need.
#[derive(Default)]
pub struct DemoSlot {
    handle: AsyncMutex<Option<Arc<GatewayHandle>>>,
}

impl DemoSlot {
    async fn ensure(&self, options: &DemoOptions) -> Result<Arc<GatewayHandle>> {
        let mut slot = self.handle.lock().await;
        if let Some(handle) = slot.as_ref() {
            return Ok(Arc::clone(handle));
        }
        let mut config = tokio::task::spawn_blocking(GatewayConfig::demo)
            .await
            .map_err(|_| Error::Crypto("generating the demo gateway's keys failed".into()))??;
        config.responder = Arc::new(DemoResponder::new(options.chunk_delay));
        config.faults_enabled = options.faults;
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        let handle = Arc::new(Gateway::spawn(config, addr).await?);
        tracing::info!(base_url = %handle.base_url(), "demo gateway started");
        *slot = Some(Arc::clone(&handle));
        Ok(handle)
    }

    /// The running demo gateway, if any (tests script faults through it).
    pub async fn handle(&self) -> Option<Arc<GatewayHandle>> {
        self.handle.lock().await.clone()
    }
}

/// A resolved connection.
pub struct Link {
    /// The resolved configuration.
    pub config: Config,
    /// The UI's name of the mode: `demo`, `tokenEndpoint`, `apiKey` or `localSigning`.
    pub mode: &'static str,
    /// Where chats go.
    pub base_url: String,
    /// Mints fresh tokens (the `mint` command).
    pub minter: Arc<dyn Minter>,
    /// Cached tokens for chats.
    pub tokens: Arc<CachedTokens>,
    /// The chat client.
    pub chat: ChatClient,
}

/// The UI's name of a mode.
pub fn mode_name(mode: &AuthMode) -> &'static str {
    match mode {
        AuthMode::TokenEndpoint { .. } => "tokenEndpoint",
        AuthMode::ApiKey { .. } => "apiKey",
        AuthMode::LocalSign(_) => "localSigning",
        AuthMode::Demo => "demo",
    }
}

/// The secrets config resolution reads.
pub async fn stored_secrets(store: &dyn SecretStore) -> Result<StoredSecrets> {
    Ok(StoredSecrets {
        key: store.get(secrets::KEY).await?,
        session_token: store.get(secrets::SESSION_TOKEN).await?,
    })
}

/// Builds a connection from the environment, settings and stored secrets.
pub async fn connect(
    env: &Env,
    settings: &Settings,
    store: &Arc<dyn SecretStore>,
    demo: &DemoSlot,
    demo_options: &DemoOptions,
    http: &reqwest::Client,
) -> Result<Link> {
    let stored = stored_secrets(store.as_ref()).await?;
    let config = Config::resolve(env, settings, &stored)?;
    let (base_url, credentials) = if config.mode == AuthMode::Demo {
        let gateway = demo.ensure(demo_options).await?;
        let c = gateway.credentials();
        let signing = SigningConfig {
            pem: c.signing_key_pem,
            kid: c.kid,
            tenant_id: c.tenant_id,
            project_id: c.project_id,
        };
        (
            c.base_url.clone(),
            Some(DemoCredentials {
                base_url: c.base_url,
                signing,
            }),
        )
    } else {
        (config.base_url.clone(), None)
    };
    let minter = auth::minter_for(
        &config,
        credentials.as_ref(),
        http.clone(),
        Arc::new(SystemClock),
    )?;
    // Demo tokens are signed for a gateway that lives as long as this process: keep them in
    // memory rather than leaving one keyring entry per run.
    let token_store: Arc<dyn SecretStore> = if config.mode == AuthMode::Demo {
        Arc::new(MemoryStore::new())
    } else {
        Arc::clone(store)
    };
    let tokens = Arc::new(CachedTokens::new(
        Arc::clone(&minter),
        token_store,
        config.refresh_margin,
    ));
    let source: Arc<dyn TokenSource> = tokens.clone();
    let chat = ChatClient::new(http.clone(), &base_url, source, ChatConfig::default())?;
    Ok(Link {
        mode: mode_name(&config.mode),
        config,
        base_url,
        minter,
        tokens,
        chat,
    })
}

/// The [`Session`] (token cache, refresh ahead of expiry, one refresh at a time, tokens kept in
/// the secret store) plus the expiry of the last token it handed out, for the status bar.
pub struct CachedTokens {
    session: Session,
    last_expiry: std::sync::Mutex<Option<i64>>,
}

impl CachedTokens {
    /// Tokens from `minter`, cached in `store`, refreshed `margin` before expiry.
    pub fn new(minter: Arc<dyn Minter>, store: Arc<dyn SecretStore>, margin: Duration) -> Self {
        let options = SessionOptions {
            refresh_margin: margin,
            ..SessionOptions::default()
        };
        CachedTokens {
            session: Session::new(minter, store, Arc::new(SystemClock), options),
            last_expiry: std::sync::Mutex::new(None),
        }
    }

    /// Expiry of the last token handed out, epoch seconds, without minting.
    pub fn expires_at(&self) -> Option<i64> {
        self.last_expiry.lock().ok().and_then(|e| *e)
    }

    /// Forgets every cached token (sign out).
    pub async fn clear(&self) -> Result<()> {
        if let Ok(mut e) = self.last_expiry.lock() {
            *e = None;
        }
        self.session.clear().await
    }
}

impl TokenSource for CachedTokens {
    fn bearer(&self) -> BoxFuture<'_, Result<Bearer>> {
        Box::pin(async move {
            let bearer = self.session.bearer().await?;
            if let Ok(mut e) = self.last_expiry.lock() {
                *e = bearer.expires_at;
            }
            Ok(bearer)
        })
    }

    fn invalidate<'a>(&'a self, stale: &'a Bearer) -> BoxFuture<'a, ()> {
        self.session.invalidate(stale)
    }
}
