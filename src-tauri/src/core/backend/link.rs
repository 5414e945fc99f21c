//! The connection: settings + environment + stored secrets → [`Config`] → auth mode → minter →
//! token session → chat client. In demo mode the in-process gateway is started (once per process,
//! on 127.0.0.1 with an OS-chosen port) and tokens are signed locally with its tenant key.
//!
//! Invariant: a [`Link`] is immutable; a settings or secret change builds a new one and swaps
//! it in whole, so a chat in flight keeps the connection it started with.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex as AsyncMutex;

use crate::core::auth::{self, Minter, SystemClock};
use crate::core::chat::{ChatClient, ChatConfig};
use crate::core::config::load::{self, KeyringRead, Loaded};
use crate::core::config::{AuthMode, Config, Env, Settings};
use crate::core::gateway::GatewayHandle;
use crate::core::secrets::{MemoryStore, SecretStore};
use crate::core::session::{Session, SessionOptions};
use crate::core::token::{Bearer, BoxFuture, TokenSource};
use crate::core::Result;

use super::requests::{MintTarget, RecordingMinter, RequestLog};

pub use crate::core::config::load::{
    demo_credentials, stored_secrets, DemoOptions, DEMO_DELAY_ENV, DEMO_FAULTS_ENV,
};

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
        let handle = Arc::new(load::spawn_demo_gateway(options).await?);
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

/// Builds a connection from the environment, settings and stored secrets (loaded by
/// [`Loaded::from_parts`]; a secret store that cannot be read is an error here, so a keyring
/// hiccup never silently turns a configured app into the demo).
pub async fn connect(
    env: &Env,
    settings: &Settings,
    store: &Arc<dyn SecretStore>,
    demo: &DemoSlot,
    demo_options: &DemoOptions,
    http: &reqwest::Client,
    requests: &Arc<RequestLog>,
) -> Result<Link> {
    let loaded = Loaded::from_parts(env.clone(), settings.clone(), store.as_ref()).await;
    if let KeyringRead::Failed(error) = loaded.keyring {
        return Err(error);
    }
    let config = loaded.resolve()?;
    let credentials = if config.mode == AuthMode::Demo {
        Some(demo_credentials(&*demo.ensure(demo_options).await?))
    } else {
        None
    };
    let base_url = load::chat_origin(&config, credentials.as_ref());
    let minter = auth::minter_for(
        &config,
        credentials.as_ref(),
        http.clone(),
        Arc::new(SystemClock),
    )?;
    let minter = RecordingMinter::wrap(
        minter,
        MintTarget::of(&config, &base_url),
        Arc::clone(requests),
    );
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

    /// The session id of the cached token, once known (sent as `X-Session-Id`).
    pub fn session_id(&self) -> Option<String> {
        self.session.session_id()
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
