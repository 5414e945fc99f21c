//! The token session: implements [`TokenSource`] over a [`Minter`], with one cached token per
//! (mode, base URL, user, session id).
//!
//! Invariants:
//! - a token is refreshed `refresh_margin` before its `exp` (see [`cached`]);
//! - one refresh per slot at a time: the slot's `tokio::sync::Mutex` is held across the mint,
//!   and every waiter re-checks the cache after acquiring it; waiters of a failed refresh get
//!   that failure instead of minting again;
//! - [`TokenSource::invalidate`] drops a token only if it is still the current one;
//! - the session id from the first token is kept and reused by every refresh;
//! - tokens are also kept in the [`SecretStore`] so a restart reuses a valid one; a stored
//!   value that is corrupt is deleted; a token is never logged.

mod cached;
mod replay;
mod slot;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::core::auth::{Clock, MintParams, Minter};
use crate::core::config::DEFAULT_REFRESH_MARGIN_SECS;
use crate::core::protocol::claims::Tier;
use crate::core::secrets::{KeyringState, SecretStore};
use crate::core::token::{Bearer, BoxFuture, TokenSource};
use crate::core::Result;

use slot::Slot;

/// What the session asks for; unset fields take the minter's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionOptions {
    /// End user (ignored by the token endpoint).
    pub user_id: Option<String>,
    /// Tier (ignored by the token endpoint).
    pub tier: Option<Tier>,
    /// Lifetime in seconds (ignored by the token endpoint).
    pub ttl: Option<u64>,
    /// A session id to use from the start; otherwise the first token's is kept.
    pub session_id: Option<String>,
    /// Refresh this long before expiry (60 s by default).
    pub refresh_margin: Duration,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            user_id: None,
            tier: None,
            ttl: None,
            session_id: None,
            refresh_margin: Duration::from_secs(DEFAULT_REFRESH_MARGIN_SECS),
        }
    }
}

/// (user id, session id) of a non-default slot.
type SlotKey = (Option<String>, Option<String>);

/// Cached tokens of one minter.
pub struct Session {
    minter: Arc<dyn Minter>,
    store: Arc<dyn SecretStore>,
    clock: Arc<dyn Clock>,
    margin: i64,
    default: Arc<Slot>,
    others: Mutex<HashMap<SlotKey, Arc<Slot>>>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("mode", &self.minter.mode())
            .field("margin", &self.margin)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A session over `minter`, keeping tokens in `store` too.
    pub fn new(
        minter: Arc<dyn Minter>,
        store: Arc<dyn SecretStore>,
        clock: Arc<dyn Clock>,
        options: SessionOptions,
    ) -> Self {
        let margin = i64::try_from(options.refresh_margin.as_secs()).unwrap_or(i64::MAX);
        let params = MintParams {
            user_id: options.user_id,
            tier: options.tier,
            ttl: options.ttl,
            session_id: options.session_id,
        };
        let default = Arc::new(Slot::new(&minter.scope(), params));
        Session {
            minter,
            store,
            clock,
            margin,
            default,
            others: Mutex::new(HashMap::new()),
        }
    }

    /// The mode's name.
    pub fn mode(&self) -> &'static str {
        self.minter.mode()
    }

    /// Where tokens are kept: the OS keyring, or memory only.
    pub fn keyring_state(&self) -> KeyringState {
        self.store.state()
    }

    /// The session id of the default slot, once known.
    pub fn session_id(&self) -> Option<String> {
        self.default.session_id()
    }

    /// A token for another user and/or session id (a separate cache slot).
    pub async fn bearer_for(
        &self,
        user_id: Option<&str>,
        session_id: Option<&str>,
    ) -> Result<Bearer> {
        let key = (user_id.map(str::to_string), session_id.map(str::to_string));
        let slot = {
            let mut others = self
                .others
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let base = self.default.params();
            Arc::clone(others.entry(key.clone()).or_insert_with(|| {
                let params = MintParams {
                    user_id: key.0.clone().or(base.user_id),
                    session_id: key.1.clone(),
                    ..base
                };
                Arc::new(Slot::new(&self.minter.scope(), params))
            }))
        };
        slot.bearer(
            self.minter.as_ref(),
            self.store.as_ref(),
            self.clock.as_ref(),
            self.margin,
        )
        .await
    }

    /// Drops every cached token, in memory and in the store (sign-out).
    pub async fn clear(&self) -> Result<()> {
        let slots: Vec<Arc<Slot>> = {
            let others = self
                .others
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            others.values().cloned().collect()
        };
        for slot in std::iter::once(&self.default).chain(slots.iter()) {
            slot.clear(self.store.as_ref()).await?;
        }
        Ok(())
    }

    fn all_slots(&self) -> Vec<Arc<Slot>> {
        let others = self
            .others
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        std::iter::once(Arc::clone(&self.default))
            .chain(others.values().cloned())
            .collect()
    }
}

impl TokenSource for Session {
    fn bearer(&self) -> BoxFuture<'_, Result<Bearer>> {
        Box::pin(self.default.bearer(
            self.minter.as_ref(),
            self.store.as_ref(),
            self.clock.as_ref(),
            self.margin,
        ))
    }

    fn invalidate<'a>(&'a self, stale: &'a Bearer) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            for slot in self.all_slots() {
                slot.invalidate(stale, self.store.as_ref()).await;
            }
        })
    }
}

#[cfg(test)]
mod tests;
