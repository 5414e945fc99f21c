//! [`KeyringStore`] against fake backends: a map, a hanging store, a failing store.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;

#[derive(Default)]
struct MapBackend {
    map: Mutex<HashMap<String, Vec<u8>>>,
    deletes: AtomicUsize,
}

impl KeyringBackend for MapBackend {
    fn get(&self, _s: &str, name: &str) -> keyring::Result<Vec<u8>> {
        self.map
            .lock()
            .ok()
            .and_then(|m| m.get(name).cloned())
            .ok_or(keyring::Error::NoEntry)
    }
    fn set(&self, _s: &str, name: &str, value: &[u8]) -> keyring::Result<()> {
        if let Ok(mut m) = self.map.lock() {
            m.insert(name.to_string(), value.to_vec());
        }
        Ok(())
    }
    fn delete(&self, _s: &str, name: &str) -> keyring::Result<()> {
        self.deletes.fetch_add(1, Ordering::SeqCst);
        self.map
            .lock()
            .ok()
            .and_then(|mut m| m.remove(name))
            .map(|_| ())
            .ok_or(keyring::Error::NoEntry)
    }
}

/// Never answers: each call blocks until the test ends.
struct Hanging(Mutex<std::sync::mpsc::Receiver<()>>);

impl KeyringBackend for Hanging {
    fn get(&self, _s: &str, _n: &str) -> keyring::Result<Vec<u8>> {
        // Blocks until the sender is dropped at the end of the test.
        let _ = self.0.lock().map(|r| r.recv());
        Err(keyring::Error::NoEntry)
    }
    fn set(&self, s: &str, n: &str, _v: &[u8]) -> keyring::Result<()> {
        self.get(s, n).map(|_| ())
    }
    fn delete(&self, s: &str, n: &str) -> keyring::Result<()> {
        self.get(s, n).map(|_| ())
    }
}

struct NoDbus;

impl KeyringBackend for NoDbus {
    fn get(&self, _s: &str, _n: &str) -> keyring::Result<Vec<u8>> {
        Err(keyring::Error::NoStorageAccess("no session bus".into()))
    }
    fn set(&self, _s: &str, _n: &str, _v: &[u8]) -> keyring::Result<()> {
        Err(keyring::Error::PlatformFailure("no session bus".into()))
    }
    fn delete(&self, _s: &str, _n: &str) -> keyring::Result<()> {
        Err(keyring::Error::NoStorageAccess("no session bus".into()))
    }
}

#[tokio::test]
async fn round_trip_persisted() -> Result<()> {
    let backend = Arc::new(MapBackend::default());
    let store = KeyringStore::with_backend("svc", backend.clone(), DEFAULT_KEYRING_TIMEOUT);
    store.set("a", &Secret::new("value")).await?;
    assert_eq!(store.get("a").await?, Some(Secret::new("value")));
    assert_eq!(store.state(), KeyringState::Persisted);
    store.delete("a").await?;
    assert_eq!(store.get("a").await?, None);
    assert_eq!(store.probe().await, KeyringState::Persisted);
    Ok(())
}

/// Paused tokio time does not advance while a blocking task runs, so this test uses a real
/// millisecond timeout instead of the 5 s default.
#[tokio::test]
async fn hanging_keyring_times_out_and_degrades_to_memory() -> Result<()> {
    let (tx, rx) = std::sync::mpsc::channel();
    let timeout = Duration::from_millis(100);
    let store = KeyringStore::with_backend("svc", Arc::new(Hanging(Mutex::new(rx))), timeout);
    let started = std::time::Instant::now();
    assert_eq!(store.get("a").await?, None);
    assert!(started.elapsed() >= timeout);
    assert!(matches!(store.state(), KeyringState::MemoryOnly { .. }));
    // From now on no call touches the keyring: the set and get do not wait for the timeout.
    let after = std::time::Instant::now();
    store.set("a", &Secret::new("v")).await?;
    assert_eq!(store.get("a").await?, Some(Secret::new("v")));
    assert!(
        after.elapsed() < timeout,
        "memory-only calls never wait on the keyring"
    );
    drop(tx);
    Ok(())
}

#[tokio::test]
async fn unreachable_keyring_reports_memory_only() -> Result<()> {
    let store = KeyringStore::with_backend("svc", Arc::new(NoDbus), DEFAULT_KEYRING_TIMEOUT);
    match store.probe().await {
        KeyringState::MemoryOnly { reason } => {
            assert!(reason.contains("no session bus"), "{reason}")
        }
        KeyringState::Persisted => panic!("reported persisted"),
    }
    store.set("k", &Secret::new("SENTINEL_KEY_1")).await?;
    assert_eq!(
        store
            .get("k")
            .await?
            .map(|s| s.expose().to_string())
            .as_deref(),
        Some("SENTINEL_KEY_1")
    );
    assert!(!format!("{store:?}").contains("SENTINEL"));
    Ok(())
}

#[tokio::test]
async fn non_utf8_value_is_deleted_and_absent() -> Result<()> {
    let backend = Arc::new(MapBackend::default());
    backend
        .set("svc", "tok", &[0xff, 0xfe, b'x'])
        .map_err(|e| Error::KeyringUnavailable(e.to_string()))?;
    let store = KeyringStore::with_backend("svc", backend.clone(), DEFAULT_KEYRING_TIMEOUT);
    assert_eq!(store.get("tok").await?, None);
    assert!(
        backend.get("svc", "tok").is_err(),
        "the corrupt entry is gone"
    );
    assert_eq!(store.state(), KeyringState::Persisted);
    Ok(())
}

#[tokio::test]
async fn oversized_value_is_refused_and_old_value_deleted() -> Result<()> {
    let backend = Arc::new(MapBackend::default());
    let store = KeyringStore::with_backend("svc", backend.clone(), DEFAULT_KEYRING_TIMEOUT);
    store.set("tok", &Secret::new("old")).await?;
    let big = Secret::new("x".repeat(2600));
    assert!(matches!(
        store.set("tok", &big).await,
        Err(Error::SecretTooLarge { bytes: 2600, .. })
    ));
    assert_eq!(store.get("tok").await?, None);
    assert_eq!(backend.deletes.load(Ordering::SeqCst), 1);
    Ok(())
}
