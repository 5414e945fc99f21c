//! One cache slot: the token for one (mode, base URL, user, session id), its single-flight
//! refresh lock and its entry in the secret store.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;

use sha2::Digest as _;

use super::cached::Cached;
use super::replay::replay;
use crate::core::auth::{Clock, MintParams, Minter};
use crate::core::secrets::SecretStore;
use crate::core::token::Bearer;
use crate::core::{Error, Result};

/// Guarded by the refresh lock.
#[derive(Default)]
struct RefreshState {
    /// Whether the secret store was read already.
    loaded: bool,
    /// The session id to reuse.
    session_id: Option<String>,
    /// The last failed attempt's number and error, for its waiters.
    failure: Option<(u64, Error)>,
}

pub(crate) struct Slot {
    params: MintParams,
    pub(super) store_name: String,
    current: RwLock<Option<Cached>>,
    refresh: tokio::sync::Mutex<RefreshState>,
    attempts: AtomicU64,
    session_id: RwLock<Option<String>>,
}

impl Slot {
    pub fn new(scope: &str, params: MintParams) -> Slot {
        let key = format!(
            "{scope}|{}|{}",
            params.user_id.as_deref().unwrap_or(""),
            params.session_id.as_deref().unwrap_or("")
        );
        let digest = sha2::Sha256::digest(key.as_bytes());
        let hex: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
        Slot {
            store_name: format!("token.{hex}"),
            session_id: RwLock::new(params.session_id.clone()),
            refresh: tokio::sync::Mutex::new(RefreshState {
                session_id: params.session_id.clone(),
                ..RefreshState::default()
            }),
            params,
            current: RwLock::new(None),
            attempts: AtomicU64::new(0),
        }
    }

    pub fn params(&self) -> MintParams {
        self.params.clone()
    }

    pub fn session_id(&self) -> Option<String> {
        self.session_id.read().ok().and_then(|s| s.clone())
    }

    fn fresh(&self, now: i64) -> Option<Bearer> {
        let current = self.current.read().ok()?;
        current
            .as_ref()
            .filter(|c| c.is_fresh(now))
            .map(|c| c.bearer.clone())
    }

    fn install(&self, cached: Cached) {
        if let Ok(mut s) = self.session_id.write() {
            s.clone_from(&cached.bearer.session_id);
        }
        if let Ok(mut c) = self.current.write() {
            *c = Some(cached);
        }
    }

    /// A fresh token: from memory, else from the store, else minted (one mint at a time).
    pub async fn bearer(
        &self,
        minter: &dyn Minter,
        store: &dyn SecretStore,
        clock: &dyn Clock,
        margin: i64,
    ) -> Result<Bearer> {
        if let Some(b) = self.fresh(clock.now()) {
            return Ok(b);
        }
        let seen = self.attempts.load(Ordering::Acquire);
        let mut state = self.refresh.lock().await;
        if let Some(b) = self.fresh(clock.now()) {
            return Ok(b);
        }
        if let Some((attempt, error)) = &state.failure {
            if *attempt > seen {
                // We waited on a refresh that failed: share its outcome rather than mint again.
                return Err(replay(error));
            }
        }
        if !state.loaded {
            state.loaded = true;
            if let Some(cached) = self.load(store, margin).await {
                if cached.bearer.session_id.is_some() {
                    state.session_id.clone_from(&cached.bearer.session_id);
                }
                if cached.is_fresh(clock.now()) {
                    tracing::debug!("reusing a stored token");
                    let bearer = cached.bearer.clone();
                    self.install(cached);
                    return Ok(bearer);
                }
            }
        }
        let params = MintParams {
            session_id: state.session_id.clone(),
            ..self.params.clone()
        };
        let outcome = minter.mint(&params).await;
        let attempt = self.attempts.fetch_add(1, Ordering::AcqRel) + 1;
        let minted = match outcome {
            Ok(m) => m,
            Err(e) => {
                tracing::debug!(mode = minter.mode(), error = %e, "token refresh failed");
                let copy = replay(&e);
                state.failure = Some((attempt, e));
                return Err(copy);
            }
        };
        state.failure = None;
        let cached = Cached::from_minted(minted, clock.now(), margin);
        if cached.bearer.session_id.is_some() {
            state.session_id.clone_from(&cached.bearer.session_id);
        }
        self.persist(store, &cached).await;
        let bearer = cached.bearer.clone();
        self.install(cached);
        tracing::debug!(mode = minter.mode(), expires_at = ?bearer.expires_at, "token refreshed");
        Ok(bearer)
    }

    /// The stored token, if any and not corrupt (a corrupt one is deleted).
    async fn load(&self, store: &dyn SecretStore, margin: i64) -> Option<Cached> {
        let value = match store.get(&self.store_name).await {
            Ok(v) => v?,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the stored token");
                return None;
            }
        };
        let cached = Cached::from_stored(&value, margin);
        if cached.is_none() {
            tracing::warn!(secret = %self.store_name, "the stored token is corrupt; deleting it");
            if let Err(e) = store.delete(&self.store_name).await {
                tracing::warn!(error = %e, "cannot delete the corrupt stored token");
            }
        }
        cached
    }

    /// Keeps the token in the store; a failure only costs a mint after a restart.
    async fn persist(&self, store: &dyn SecretStore, cached: &Cached) {
        let result = match cached.to_stored() {
            Ok(value) => store.set(&self.store_name, &value).await,
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "the token is kept in memory only");
        }
    }

    /// Drops the token if it is still `stale`.
    pub async fn invalidate(&self, stale: &Bearer, store: &dyn SecretStore) {
        let _guard = self.refresh.lock().await;
        let is_current = self
            .current
            .read()
            .map(|c| c.as_ref().is_some_and(|c| c.bearer.token == stale.token))
            .unwrap_or(false);
        if !is_current {
            return;
        }
        if let Ok(mut c) = self.current.write() {
            *c = None;
        }
        tracing::debug!("token invalidated after the server refused it");
        if let Err(e) = store.delete(&self.store_name).await {
            tracing::warn!(error = %e, "cannot delete the refused stored token");
        }
    }

    /// Forgets the token and the session id, in memory and in the store.
    pub async fn clear(&self, store: &dyn SecretStore) -> Result<()> {
        let mut state = self.refresh.lock().await;
        state.session_id.clone_from(&self.params.session_id);
        state.loaded = true;
        if let Ok(mut c) = self.current.write() {
            *c = None;
        }
        store.delete(&self.store_name).await
    }
}
