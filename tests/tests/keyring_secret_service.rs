//! The real OS keyring on Linux: a round trip on Secret Service (gnome-keyring), checked with
//! `secret-tool`, and the memory-only state when no Secret Service is reachable.
//!
//! The round trip needs a D-Bus session with an unlocked gnome-keyring; run it with
//! ```sh
//! export XDG_DATA_HOME=$(mktemp -d) XDG_RUNTIME_DIR=$(mktemp -d); chmod 700 $XDG_RUNTIME_DIR
//! dbus-run-session -- sh -c 'echo -n pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null; \
//!   cargo test -p behest-desktop-tests --test keyring_secret_service -- --test-threads=1'
//! ```
//! Without one it fails with that message (it never passes by skipping).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use behest_desktop::core::keys::RsaKey;
use behest_desktop::core::redact::Secret;
use behest_desktop::core::secrets::{KeyringState, KeyringStore, SecretStore, KEY, SESSION_TOKEN};
use behest_desktop::core::Error;

const HOW_TO: &str = "this test needs a D-Bus session with an unlocked gnome-keyring (apt: gnome-keyring dbus-user-session libsecret-tools); run: \
export XDG_DATA_HOME=$(mktemp -d) XDG_RUNTIME_DIR=$(mktemp -d); chmod 700 $XDG_RUNTIME_DIR; \
dbus-run-session -- sh -c 'echo -n pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null; \
cargo test -p behest-desktop-tests --test keyring_secret_service -- --test-threads=1'";

fn secret_tool(args: &[&str]) -> (bool, String) {
    let out = Command::new("secret-tool")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("secret-tool is missing ({e}); apt-get install libsecret-tools")
        });
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

async fn real_store() -> KeyringStore {
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "no D-Bus session bus: {HOW_TO}"
    );
    let store = KeyringStore::new(format!("behest-desktop-test-{}", uuid::Uuid::new_v4()));
    match store.probe().await {
        KeyringState::Persisted => store,
        KeyringState::MemoryOnly { reason } => {
            panic!("Secret Service not reachable ({reason}): {HOW_TO}")
        }
    }
}

#[tokio::test]
async fn secret_service_round_trip_verified_with_secret_tool() {
    let store = real_store().await;
    let service = store.service().to_string();
    let value = Secret::new(format!("behest_sk_live_{}", uuid::Uuid::new_v4().simple()));
    store.set(KEY, &value).await.unwrap();
    assert_eq!(store.get(KEY).await.unwrap(), Some(value.clone()));
    let (found, stored) = secret_tool(&["lookup", "service", &service, "username", KEY]);
    assert!(found, "secret-tool does not see the entry");
    assert_eq!(stored.trim_end(), value.expose());
    store
        .set(SESSION_TOKEN, &Secret::new("sess_x"))
        .await
        .unwrap();
    let (_, listing) = secret_tool(&["search", "--all", "service", &service]);
    assert!(
        listing.contains(KEY) && listing.contains(SESSION_TOKEN),
        "{listing}"
    );
    // Sign-out removes every entry.
    store.delete(KEY).await.unwrap();
    store.delete(SESSION_TOKEN).await.unwrap();
    assert_eq!(store.get(KEY).await.unwrap(), None);
    let (found, _) = secret_tool(&["lookup", "service", &service, "username", KEY]);
    assert!(!found, "the entry survived its deletion");
    let (_, listing) = secret_tool(&["search", "--all", "service", &service]);
    assert!(
        !listing.contains("username"),
        "entries left behind: {listing}"
    );
    assert_eq!(store.state(), KeyringState::Persisted);
}

#[tokio::test]
async fn pem_sizes_against_the_keyring_limit() {
    let store = real_store().await;
    // A 2048-bit PKCS#8 PEM (~1.7 KB) fits as bytes; a 4096-bit one (~3.2 KB) does not.
    let small = RsaKey::generate().unwrap().private_pem();
    store.set(KEY, &small).await.unwrap();
    assert_eq!(store.get(KEY).await.unwrap(), Some(small));
    let out = Command::new("openssl")
        .args(["genrsa", "4096"])
        .output()
        .expect("openssl is required: apt-get install openssl");
    let big = Secret::new(String::from_utf8(out.stdout).unwrap());
    assert!(big.expose().contains("PRIVATE KEY"));
    assert!(matches!(
        store.set(KEY, &big).await,
        Err(Error::SecretTooLarge { .. })
    ));
    assert_eq!(
        store.get(KEY).await.unwrap(),
        None,
        "the refused write left no stale entry"
    );
}

fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path.display().to_string());
        }
    }
    out
}

#[test]
fn no_secret_service_is_memory_only_and_writes_no_file() {
    let home = tempfile::tempdir().unwrap();
    let dirs = ["config", "data", "cache", "runtime", "state"].map(|d| {
        let p = home.path().join(d);
        std::fs::create_dir_all(&p).unwrap();
        p
    });
    let started = std::time::Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_keyring_probe"))
        .arg(format!("behest-desktop-test-{}", uuid::Uuid::new_v4()))
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", &dirs[0])
        .env("XDG_DATA_HOME", &dirs[1])
        .env("XDG_CACHE_HOME", &dirs[2])
        .env("XDG_RUNTIME_DIR", &dirs[3])
        .env("XDG_STATE_HOME", &dirs[4])
        .env_remove("DISPLAY")
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "probe failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("state=memory-only"), "{stdout}");
    assert!(
        stdout.contains("round_trip=ok"),
        "secrets still work in memory: {stdout}"
    );
    let probe_ms: u64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("probe_ms="))
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(
        probe_ms <= 5_000,
        "the memory-only state took {probe_ms} ms to report"
    );
    assert!(elapsed.as_secs() < 30, "the probe process hung");
    assert_eq!(
        files_under(home.path()),
        Vec::<String>::new(),
        "a file was written under HOME"
    );
}
