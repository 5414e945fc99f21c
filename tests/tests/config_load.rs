//! The one configuration loader ([`behest_desktop::core::config::load`]) every command and the
//! app use: when the secret store is read (only when the environment does not decide the mode),
//! what is reported about it, the settings file, and the demo gateway helper.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use behest_desktop::core::auth::{minter_for, MintParams, SystemClock};
use behest_desktop::core::config::load::{DemoGateway, DemoOptions, KeyringRead, Loaded};
use behest_desktop::core::config::{env, AuthMode, Env, Settings};
use behest_desktop::core::http::{build_client, HttpOptions};
use behest_desktop::core::redact::Secret;
use behest_desktop::core::secrets::{
    KeyringBackend, KeyringError, KeyringState, KeyringStore, MemoryStore, SecretStore, KEY,
    SESSION_TOKEN,
};
use behest_desktop::core::token::BoxFuture;
use behest_desktop::core::{Error, Result};

const API_KEY: &str = "behest_sk_live_0123456789abcdef0123456789abcdef";
const OTHER_KEY: &str = "behest_sk_live_fedcba9876543210fedcba9876543210";

/// A memory store that counts reads, or fails every read.
struct Counting {
    inner: MemoryStore,
    reads: AtomicUsize,
    fail: bool,
}

impl Counting {
    async fn with(pairs: &[(&str, &str)], fail: bool) -> Counting {
        let inner = MemoryStore::new();
        for (name, value) in pairs {
            inner.set(name, &Secret::new(*value)).await.unwrap();
        }
        Counting {
            inner,
            reads: AtomicUsize::new(0),
            fail,
        }
    }
    fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }
}

impl SecretStore for Counting {
    fn get<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<Secret>>> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        if self.fail {
            return Box::pin(async { Err(Error::KeyringUnavailable("locked".into())) });
        }
        self.inner.get(name)
    }
    fn set<'a>(&'a self, name: &'a str, value: &'a Secret) -> BoxFuture<'a, Result<()>> {
        self.inner.set(name, value)
    }
    fn delete<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<()>> {
        self.inner.delete(name)
    }
    fn state(&self) -> KeyringState {
        self.inner.state()
    }
}

/// A keyring that cannot be reached.
struct Unreachable;

impl KeyringBackend for Unreachable {
    fn get(&self, _s: &str, _n: &str) -> std::result::Result<Vec<u8>, KeyringError> {
        Err(KeyringError::NoStorageAccess(Box::new(
            std::io::Error::other("no secret service"),
        )))
    }
    fn set(&self, _s: &str, _n: &str, _v: &[u8]) -> std::result::Result<(), KeyringError> {
        Err(KeyringError::NoStorageAccess(Box::new(
            std::io::Error::other("no secret service"),
        )))
    }
    fn delete(&self, _s: &str, _n: &str) -> std::result::Result<(), KeyringError> {
        Err(KeyringError::NoStorageAccess(Box::new(
            std::io::Error::other("no secret service"),
        )))
    }
}

#[tokio::test]
async fn the_store_is_not_read_when_the_environment_decides_the_mode() {
    let store = Counting::with(&[(KEY, OTHER_KEY)], false).await;
    let env = Env::from_pairs([(env::BEHEST_KEY, API_KEY)]);
    let loaded = Loaded::from_parts(env, Settings::default(), &store).await;
    assert!(matches!(loaded.keyring, KeyringRead::NotNeeded));
    assert_eq!(store.reads(), 0);
    match loaded.resolve().unwrap().mode {
        AuthMode::ApiKey { key } => assert_eq!(key.expose(), API_KEY),
        other => panic!("{other:?}"),
    }

    let settings = Settings {
        token_url: Some("https://app.example.com/api/behest-token".into()),
        ..Settings::default()
    };
    let env = Env::from_pairs([(env::BEHEST_SESSION_TOKEN, "from-env")]);
    let loaded = Loaded::from_parts(env, settings, &store).await;
    assert!(matches!(loaded.keyring, KeyringRead::NotNeeded));
    assert_eq!(store.reads(), 0);
    assert!(matches!(
        loaded.resolve().unwrap().mode,
        AuthMode::TokenEndpoint { .. }
    ));
}

#[tokio::test]
async fn otherwise_the_stored_key_or_session_credential_decides_and_the_state_is_reported() {
    let store = Counting::with(&[(KEY, OTHER_KEY)], false).await;
    let loaded = Loaded::from_parts(Env::default(), Settings::default(), &store).await;
    assert!(matches!(
        loaded.keyring,
        KeyringRead::Read(KeyringState::MemoryOnly { .. })
    ));
    assert_eq!(store.reads(), 2, "the key and the session credential");
    match loaded.resolve().unwrap().mode {
        AuthMode::ApiKey { key } => assert_eq!(key.expose(), OTHER_KEY),
        other => panic!("{other:?}"),
    }

    let store = Counting::with(&[(SESSION_TOKEN, "stored-session")], false).await;
    let settings = Settings {
        token_url: Some("https://app.example.com/api/behest-token".into()),
        ..Settings::default()
    };
    let loaded = Loaded::from_parts(Env::default(), settings, &store).await;
    match loaded.resolve().unwrap().mode {
        AuthMode::TokenEndpoint { session_token, .. } => {
            assert_eq!(session_token.expose(), "stored-session")
        }
        other => panic!("{other:?}"),
    }

    let unreachable =
        KeyringStore::with_backend("behest-test", Arc::new(Unreachable), Duration::from_secs(5));
    let loaded = Loaded::from_parts(Env::default(), Settings::default(), &unreachable).await;
    assert!(
        matches!(
            loaded.keyring,
            KeyringRead::Read(KeyringState::MemoryOnly { .. })
        ),
        "an unreachable keyring is reported as memory only: {:?}",
        loaded.keyring
    );
    assert_eq!(loaded.resolve().unwrap().mode, AuthMode::Demo);
}

#[tokio::test]
async fn a_failed_read_counts_as_nothing_stored_and_is_reported() {
    let store = Counting::with(&[(KEY, OTHER_KEY)], true).await;
    let loaded = Loaded::from_parts(Env::default(), Settings::default(), &store).await;
    assert!(matches!(
        loaded.keyring,
        KeyringRead::Failed(Error::KeyringUnavailable(_))
    ));
    assert_eq!(loaded.stored.key, None);
    assert_eq!(loaded.resolve().unwrap().mode, AuthMode::Demo);

    let env = Env::from_pairs([(env::BEHEST_BASE_URL, "https://amber-fox-042.behest.app")]);
    let loaded = Loaded::from_parts(env, Settings::default(), &store).await;
    match loaded.resolve() {
        Err(Error::InvalidSettings { name, .. }) => assert_eq!(name, env::BEHEST_KEY),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn the_settings_file_is_read_and_a_malformed_one_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.json");
    let store = MemoryStore::new();
    let loaded = Loaded::from_files(Env::default(), &path, &store)
        .await
        .unwrap();
    assert_eq!(
        loaded.settings,
        Settings::default(),
        "a missing file: defaults"
    );
    std::fs::write(&path, r#"{"userId":"alice","ttl":900}"#).unwrap();
    let config = Loaded::from_files(Env::default(), &path, &store)
        .await
        .unwrap()
        .resolve()
        .unwrap();
    assert_eq!((config.user_id.as_str(), config.ttl), ("alice", 900));
    let env = Env::from_pairs([(env::BEHEST_USER_ID, "bob")]);
    let config = Loaded::from_files(env, &path, &store)
        .await
        .unwrap()
        .resolve()
        .unwrap();
    assert_eq!(config.user_id, "bob", "the environment overrides the file");
    std::fs::write(&path, "{not json").unwrap();
    assert!(matches!(
        Loaded::from_files(Env::default(), &path, &store).await,
        Err(Error::InvalidSettings { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_mode_starts_a_gateway_whose_key_the_minter_signs_with() {
    let store = MemoryStore::new();
    let config = Loaded::from_parts(Env::default(), Settings::default(), &store)
        .await
        .resolve()
        .unwrap();
    let demo = DemoGateway::for_config(&config, &DemoOptions::default())
        .await
        .unwrap()
        .expect("a demo gateway in demo mode");
    assert_eq!(demo.credentials.base_url, demo.handle.base_url());
    assert!(demo.handle.addr().ip().is_loopback());
    let http = build_client(HttpOptions::default()).unwrap();
    let minter = minter_for(
        &config,
        Some(&demo.credentials),
        http.clone(),
        Arc::new(SystemClock),
    )
    .unwrap();
    let minted = minter.mint(&MintParams::default()).await.unwrap();
    let answer = http
        .get(format!("{}/v1/threads", demo.handle.base_url()))
        .bearer_auth(minted.token.expose())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200, "the gateway accepts the demo token");

    // A long conversation (the app resends it whole) is answered, and chatting quickly is not
    // throttled by the tier's per-minute limit (15 requests here, more than the free tier's 10).
    let long = "word ".repeat(400_000);
    let body = serde_json::json!({"messages": [
        {"role": "user", "content": long}, {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "and now?"}
    ]});
    for i in 0..15 {
        let answer = http
            .post(format!("{}/v1/chat/completions", demo.handle.base_url()))
            .bearer_auth(minted.token.expose())
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200, "request {i} of a 2 MB conversation");
    }
    demo.shutdown().await;

    let env = Env::from_pairs([(env::BEHEST_KEY, API_KEY)]);
    let config = Loaded::from_parts(env, Settings::default(), &store)
        .await
        .resolve()
        .unwrap();
    assert!(DemoGateway::for_config(&config, &DemoOptions::default())
        .await
        .unwrap()
        .is_none());
}

#[test]
fn the_demo_gateway_never_runs_out_of_quota_in_a_day_of_chatting() {
    use behest_desktop::core::config::load::{
        configure_demo, DEMO_MAX_BODY_BYTES, DEMO_REQUESTS_PER_DAY, DEMO_TOKENS_PER_DAY,
    };
    use behest_desktop::core::gateway::GatewayConfig;
    let mut config = GatewayConfig::demo().unwrap();
    configure_demo(&mut config, &DemoOptions::default());
    let max_rpm = behest_desktop::core::gateway::config::default_tier_limits()["max"].rpm;
    assert!(!config.projects.is_empty());
    for project in &config.projects {
        assert!(!project.tier_limits.is_empty());
        for (tier, limits) in &project.tier_limits {
            assert_eq!(limits.rpm, max_rpm, "{tier}");
            assert_eq!(limits.requests_per_day, DEMO_REQUESTS_PER_DAY, "{tier}");
            assert_eq!(limits.tokens_per_day, DEMO_TOKENS_PER_DAY, "{tier}");
        }
    }
    // A 1 MB conversation resent every turn, 2,000 turns a day, at ~4 characters a token.
    const { assert!(DEMO_TOKENS_PER_DAY > 2_000 * (1 << 20) / 4) };
    assert_eq!(config.max_body_bytes, DEMO_MAX_BODY_BYTES);
}
