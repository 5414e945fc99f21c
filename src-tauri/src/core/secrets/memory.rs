//! [`MemoryStore`]: secrets in process memory, for tests and as the keyring's fallback.
//!
//! Invariant: applies the same size rule as the OS stores, so a value accepted here would be
//! accepted by every keyring.

use std::collections::HashMap;
use std::sync::Mutex;

use super::{check_size, KeyringState, SecretStore};
use crate::core::redact::Secret;
use crate::core::token::BoxFuture;
use crate::core::Result;

/// Secrets in a map, gone when the process exits.
#[derive(Debug, Default)]
pub struct MemoryStore {
    map: Mutex<HashMap<String, Secret>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, Secret>) -> T) -> T {
        // A poisoned lock only means another thread panicked mid-insert; the map is still valid.
        let mut guard = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard)
    }

    /// Synchronous get, for the keyring's fallback path.
    pub(super) fn get_now(&self, name: &str) -> Option<Secret> {
        self.with(|m| m.get(name).cloned())
    }

    /// Synchronous set (size already checked by the caller).
    pub(super) fn set_now(&self, name: &str, value: &Secret) {
        self.with(|m| m.insert(name.to_string(), value.clone()));
    }

    /// Synchronous delete.
    pub(super) fn delete_now(&self, name: &str) {
        self.with(|m| m.remove(name));
    }
}

impl SecretStore for MemoryStore {
    fn get<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<Secret>>> {
        Box::pin(async move { Ok(self.get_now(name)) })
    }

    fn set<'a>(&'a self, name: &'a str, value: &'a Secret) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            if let Err(e) = check_size(name, value) {
                self.delete_now(name);
                return Err(e);
            }
            self.set_now(name, value);
            Ok(())
        })
    }

    fn delete<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.delete_now(name);
            Ok(())
        })
    }

    fn state(&self) -> KeyringState {
        KeyringState::MemoryOnly {
            reason: "in-memory store".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::Error;

    #[tokio::test]
    async fn round_trip_and_oversize_leaves_no_stale_entry() -> Result<()> {
        let s = MemoryStore::new();
        assert_eq!(s.get("a").await?, None);
        s.set("a", &Secret::new("one")).await?;
        assert_eq!(s.get("a").await?, Some(Secret::new("one")));
        let big = Secret::new("x".repeat(3000));
        assert!(matches!(
            s.set("a", &big).await,
            Err(Error::SecretTooLarge { .. })
        ));
        assert_eq!(
            s.get("a").await?,
            None,
            "the old value must not survive a refused write"
        );
        s.set("b", &Secret::new("two")).await?;
        s.delete("b").await?;
        s.delete("b").await?;
        assert_eq!(s.get("b").await?, None);
        Ok(())
    }
}
