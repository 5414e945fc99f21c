//! [`KeyringStore`]: secrets in the OS store through the `keyring` crate (Secret Service on
//! Linux, Keychain on macOS, Credential Manager on Windows, each named as a feature).
//!
//! Invariants: every keyring call runs on `spawn_blocking` under a timeout (5 s by default), so
//! the async runtime is never blocked; when the store is unreachable, fails or times out, this
//! store switches to memory for the rest of the process and reports
//! [`KeyringState::MemoryOnly`] — it never writes a file; a stored value that is not UTF-8 is
//! deleted and treated as absent; logs carry secret names, never values.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{check_size, KeyringState, MemoryStore, SecretStore};
use crate::core::redact::Secret;
use crate::core::token::BoxFuture;
use crate::core::{Error, Result};

/// Service name under which entries are stored, unless configured otherwise.
pub const DEFAULT_SERVICE: &str = "ai.behest.desktop";
/// How long one keyring call may take before the store degrades to memory.
pub const DEFAULT_KEYRING_TIMEOUT: Duration = Duration::from_secs(5);

/// The blocking calls of an OS credential store; [`OsKeyring`] in production, fakes in tests.
pub trait KeyringBackend: Send + Sync + 'static {
    /// The stored bytes of `(service, name)`.
    fn get(&self, service: &str, name: &str) -> keyring::Result<Vec<u8>>;
    /// Stores bytes under `(service, name)`.
    fn set(&self, service: &str, name: &str, value: &[u8]) -> keyring::Result<()>;
    /// Deletes `(service, name)`.
    fn delete(&self, service: &str, name: &str) -> keyring::Result<()>;
}

/// The platform's default store, as chosen by the `keyring` crate's features.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsKeyring;

impl KeyringBackend for OsKeyring {
    fn get(&self, service: &str, name: &str) -> keyring::Result<Vec<u8>> {
        keyring::Entry::new(service, name)?.get_secret()
    }
    fn set(&self, service: &str, name: &str, value: &[u8]) -> keyring::Result<()> {
        keyring::Entry::new(service, name)?.set_secret(value)
    }
    fn delete(&self, service: &str, name: &str) -> keyring::Result<()> {
        keyring::Entry::new(service, name)?.delete_credential()
    }
}

/// Secrets in the OS keyring, degrading to memory when it cannot be used.
pub struct KeyringStore {
    service: String,
    backend: Arc<dyn KeyringBackend>,
    timeout: Duration,
    memory: MemoryStore,
    degraded: Mutex<Option<String>>,
}

impl std::fmt::Debug for KeyringStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyringStore")
            .field("service", &self.service)
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

/// What a keyring call came to.
enum Outcome<T> {
    Done(T),
    Missing,
    Unusable(String),
}

impl KeyringStore {
    /// The OS keyring under `service`, with the default 5 s timeout.
    pub fn new(service: impl Into<String>) -> Self {
        Self::with_backend(service, Arc::new(OsKeyring), DEFAULT_KEYRING_TIMEOUT)
    }

    /// A store over any backend and timeout (tests inject hanging or failing backends).
    pub fn with_backend(
        service: impl Into<String>,
        backend: Arc<dyn KeyringBackend>,
        timeout: Duration,
    ) -> Self {
        KeyringStore {
            service: service.into(),
            backend,
            timeout,
            memory: MemoryStore::new(),
            degraded: Mutex::new(None),
        }
    }

    /// The service name entries are stored under.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// Checks that the keyring answers (a read of a probe entry) and returns the state; an
    /// unreachable keyring switches the store to memory within the timeout.
    pub async fn probe(&self) -> KeyringState {
        if self.is_degraded() {
            return self.state();
        }
        // The probe's answer itself does not matter, only whether the store answered.
        let _ = self.get("probe").await;
        self.state()
    }

    fn is_degraded(&self) -> bool {
        self.degraded.lock().map(|d| d.is_some()).unwrap_or(true)
    }

    fn degrade(&self, reason: String) {
        tracing::warn!(service = %self.service, %reason, "os keyring unusable; secrets are kept in memory only");
        if let Ok(mut d) = self.degraded.lock() {
            d.get_or_insert(reason);
        }
    }

    async fn call<T: Send + 'static>(
        &self,
        op: impl FnOnce(&dyn KeyringBackend, &str) -> keyring::Result<T> + Send + 'static,
    ) -> Outcome<T> {
        let backend = Arc::clone(&self.backend);
        let service = self.service.clone();
        let task = tokio::task::spawn_blocking(move || op(backend.as_ref(), &service));
        match tokio::time::timeout(self.timeout, task).await {
            Ok(Ok(Ok(v))) => Outcome::Done(v),
            Ok(Ok(Err(keyring::Error::NoEntry))) => Outcome::Missing,
            Ok(Ok(Err(e))) => Outcome::Unusable(scrubbed(&e)),
            Ok(Err(_join)) => Outcome::Unusable("the keyring call panicked".into()),
            Err(_elapsed) => Outcome::Unusable(format!(
                "the keyring did not answer within {:?}",
                self.timeout
            )),
        }
    }
}

/// A keyring error's text, without any bytes it may carry.
fn scrubbed(e: &keyring::Error) -> String {
    match e {
        keyring::Error::BadEncoding(_) => "a stored value is not utf-8".into(),
        keyring::Error::Ambiguous(v) => format!("{} entries match", v.len()),
        other => crate::core::redact::excerpt(&other.to_string(), 200),
    }
}

impl SecretStore for KeyringStore {
    fn get<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<Secret>>> {
        Box::pin(async move {
            if self.is_degraded() {
                return Ok(self.memory.get_now(name));
            }
            let owned = name.to_string();
            match self.call(move |b, s| b.get(s, &owned)).await {
                Outcome::Done(bytes) => match String::from_utf8(bytes) {
                    Ok(text) => Ok(Some(Secret::new(text))),
                    Err(_) => {
                        tracing::warn!(secret = name, "stored secret is not utf-8; deleting it");
                        self.delete(name).await?;
                        Ok(None)
                    }
                },
                Outcome::Missing => Ok(None),
                Outcome::Unusable(reason) => {
                    self.degrade(reason);
                    Ok(self.memory.get_now(name))
                }
            }
        })
    }

    fn set<'a>(&'a self, name: &'a str, value: &'a Secret) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            if let Err(e) = check_size(name, value) {
                // Leave no stale value that could be mistaken for the refused one.
                self.delete(name).await?;
                return Err(e);
            }
            if self.is_degraded() {
                self.memory.set_now(name, value);
                return Ok(());
            }
            let owned = name.to_string();
            let bytes = value.expose().as_bytes().to_vec();
            match self.call(move |b, s| b.set(s, &owned, &bytes)).await {
                Outcome::Done(()) => {
                    tracing::debug!(secret = name, "secret saved in the os keyring");
                    Ok(())
                }
                Outcome::Missing => Err(Error::KeyringUnavailable(
                    "the keyring refused the entry".into(),
                )),
                Outcome::Unusable(reason) => {
                    self.degrade(reason);
                    self.memory.set_now(name, value);
                    Ok(())
                }
            }
        })
    }

    fn delete<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.memory.delete_now(name);
            if self.is_degraded() {
                return Ok(());
            }
            let owned = name.to_string();
            match self.call(move |b, s| b.delete(s, &owned)).await {
                Outcome::Done(()) | Outcome::Missing => Ok(()),
                Outcome::Unusable(reason) => {
                    self.degrade(reason);
                    Ok(())
                }
            }
        })
    }

    fn state(&self) -> KeyringState {
        match self.degraded.lock() {
            Ok(d) => match d.as_ref() {
                Some(reason) => KeyringState::MemoryOnly {
                    reason: reason.clone(),
                },
                None => KeyringState::Persisted,
            },
            Err(_) => KeyringState::MemoryOnly {
                reason: "keyring state lock poisoned".into(),
            },
        }
    }
}

#[cfg(test)]
mod tests;
