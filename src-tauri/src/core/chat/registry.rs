//! The requests in flight, by request id, so that a `cancel_chat(requestId)` command can trip the
//! cancellation token of a running send.
//!
//! Invariant: an entry lives exactly as long as its [`InFlightGuard`]; the guard's `Drop` removes
//! it on every exit path (success, error, panic unwinding, a dropped future). The map's lock is
//! never held across an await.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio_util::sync::CancellationToken;

/// Cancellation tokens of the chat requests in flight.
#[derive(Debug, Default)]
pub struct InFlight {
    tokens: Mutex<HashMap<String, CancellationToken>>,
}

impl InFlight {
    /// An empty registry, shared with [`Arc`].
    pub fn new() -> Arc<Self> {
        Arc::new(InFlight::default())
    }

    fn map(&self) -> MutexGuard<'_, HashMap<String, CancellationToken>> {
        // A panic while holding this lock cannot leave the map half-updated (single inserts and
        // removes), so a poisoned lock is still safe to use.
        self.tokens
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers `request_id` with a fresh token. `None` when that id is already in flight (the
    /// caller picked a duplicate id; the running request is left alone).
    pub fn register(self: &Arc<Self>, request_id: impl Into<String>) -> Option<InFlightGuard> {
        let id = request_id.into();
        let token = CancellationToken::new();
        let mut map = self.map();
        if map.contains_key(&id) {
            return None;
        }
        map.insert(id.clone(), token.clone());
        Some(InFlightGuard {
            registry: Arc::clone(self),
            id,
            token,
        })
    }

    /// Trips the token of `request_id`. `false` when no such request is in flight (already
    /// finished, or never started): cancelling is idempotent.
    pub fn cancel(&self, request_id: &str) -> bool {
        match self.map().get(request_id) {
            Some(token) => {
                token.cancel();
                true
            }
            None => false,
        }
    }

    /// Trips every token (app shutdown).
    pub fn cancel_all(&self) {
        for token in self.map().values() {
            token.cancel();
        }
    }

    /// How many requests are in flight.
    pub fn len(&self) -> usize {
        self.map().len()
    }

    /// Whether no request is in flight.
    pub fn is_empty(&self) -> bool {
        self.map().is_empty()
    }
}

/// Keeps one request registered; dropping it removes the entry.
#[derive(Debug)]
pub struct InFlightGuard {
    registry: Arc<InFlight>,
    id: String,
    token: CancellationToken,
}

impl InFlightGuard {
    /// The request's cancellation token (pass it to [`crate::core::chat::ChatClient::send`]).
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }

    /// The request id.
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.registry.map().remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancel_trips_the_token_and_drop_removes_the_entry() {
        let reg = InFlight::new();
        let guard = reg.register("r1");
        assert!(guard.is_some());
        assert!(reg.register("r1").is_none(), "a duplicate id is refused");
        assert_eq!(reg.len(), 1);
        let token = guard
            .as_ref()
            .map(|g| g.token().clone())
            .unwrap_or_default();
        assert!(!token.is_cancelled());
        assert!(reg.cancel("r1"));
        assert!(token.is_cancelled());
        drop(guard);
        assert!(reg.is_empty());
        assert!(!reg.cancel("r1"), "a finished request cannot be cancelled");
        assert!(reg.register("r1").is_some(), "the id is free again");
    }

    #[tokio::test]
    async fn the_entry_is_removed_when_the_future_is_dropped_or_panics() {
        let reg = InFlight::new();
        let r = Arc::clone(&reg);
        let task = tokio::spawn(async move {
            let _guard = r.register("slow");
            std::future::pending::<()>().await;
        });
        tokio::task::yield_now().await;
        while reg.is_empty() {
            tokio::task::yield_now().await;
        }
        task.abort();
        assert!(task.await.is_err());
        assert!(reg.is_empty());

        let r = Arc::clone(&reg);
        let task = tokio::spawn(async move {
            let _guard = r.register("boom");
            panic!("the send panicked");
        });
        assert!(task.await.is_err());
        assert!(reg.is_empty());
    }

    #[test]
    fn cancel_all_trips_everything() {
        let reg = InFlight::new();
        let a = reg.register("a");
        let b = reg.register("b");
        reg.cancel_all();
        assert!(a.iter().chain(b.iter()).all(|g| g.token().is_cancelled()));
    }
}
