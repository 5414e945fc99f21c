//! The session against the local gateway: single-flight refresh under 50 concurrent callers
//! (one mint, one keyring write), a 401 that invalidates the token and causes exactly one
//! refresh, and one stored token per (mode, base URL, credential, user): a changed
//! configuration never reuses another's token.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth_support;

use std::sync::Arc;
use std::time::Duration;

use auth_support::{count, env_for, gateway, session_with, use_token, CountingStore, Mode};
use behest_desktop::core::auth::{minter_for, Clock, ManualClock, SystemClock};
use behest_desktop::core::config::{Config, Env, Settings, StoredSecrets};
use behest_desktop::core::gateway::{Fault, GatewayHandle, Route};
use behest_desktop::core::secrets::SecretStore;
use behest_desktop::core::session::Session;
use behest_desktop::core::session::SessionOptions;
use behest_desktop::core::token::{Bearer, TokenSource};

const MINT: &str = "/v1/auth/mint";
const TOKEN: &str = "/api/behest/token";

async fn fifty_at_once(session: &Arc<Session>) -> Vec<Bearer> {
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let s = Arc::clone(session);
            tokio::spawn(async move { s.bearer().await })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap().unwrap());
    }
    out
}

async fn one_refresh_for_fifty_callers(mode: Mode, path: &str) {
    let gw = gateway().await;
    gw.faults()
        .set_mint_latency(Duration::from_millis(50))
        .unwrap();
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let store = Arc::new(CountingStore::default());
    let session = Arc::new(session_with(mode, &gw, store.clone(), clock.clone()).unwrap());
    let first = session.bearer().await.unwrap();
    assert_eq!((count(&gw, path), store.sets()), (1, 1));
    // The token is now inside the 60 s refresh margin.
    clock.set(first.expires_at.unwrap() - 59);
    let bearers = fifty_at_once(&session).await;
    assert_eq!(count(&gw, path), 2, "exactly one refresh for 50 callers");
    assert_eq!(
        store.sets(),
        2,
        "exactly one keyring write for that refresh"
    );
    assert!(bearers
        .iter()
        .all(|b| b.token == bearers[0].token && b.token != first.token));
    if mode == Mode::ApiKey {
        // The token endpoint's backend picks the session; the mint reuses ours.
        assert_eq!(
            bearers[0].session_id, first.session_id,
            "the session id is reused"
        );
    }
    assert_eq!(use_token(&gw, &bearers[0]).await, 200);
}

#[tokio::test]
async fn fifty_callers_one_api_key_mint() {
    one_refresh_for_fifty_callers(Mode::ApiKey, MINT).await;
}

#[tokio::test]
async fn fifty_callers_one_token_endpoint_call() {
    one_refresh_for_fifty_callers(Mode::TokenEndpoint, TOKEN).await;
}

/// What a client does with a 401: invalidate, get a token again, retry once.
async fn call_with_one_retry(gw: &GatewayHandle, session: &Session) -> u16 {
    let bearer = session.bearer().await.unwrap();
    let status = use_token(gw, &bearer).await;
    if status != 401 {
        return status;
    }
    session.invalidate(&bearer).await;
    let again = session.bearer().await.unwrap();
    assert_ne!(again.token, bearer.token);
    use_token(gw, &again).await
}

#[tokio::test]
async fn a_401_invalidates_and_refreshes_once() {
    let gw = gateway().await;
    let store = Arc::new(CountingStore::default());
    let session = session_with(Mode::ApiKey, &gw, store.clone(), Arc::new(SystemClock)).unwrap();
    session.bearer().await.unwrap();
    gw.faults().push(Route::Usage, Fault::status(401)).unwrap();
    let status = call_with_one_retry(&gw, &session).await;
    assert_eq!(status, 200);
    assert_eq!(count(&gw, MINT), 2, "one refresh after the 401");
    assert_eq!(count(&gw, "/v1/usage"), 2, "one retry");
    assert_eq!(
        store.deletes.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the refused token left the keyring"
    );
}

#[tokio::test]
async fn many_requests_refused_together_cause_one_refresh() {
    let gw = gateway().await;
    let session = Arc::new(
        session_with(
            Mode::ApiKey,
            &gw,
            Arc::new(CountingStore::default()),
            Arc::new(SystemClock),
        )
        .unwrap(),
    );
    let stale = session.bearer().await.unwrap();
    // Ten requests all sent with `stale` were refused: each reports it, then asks again.
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (s, stale) = (Arc::clone(&session), stale.clone());
            tokio::spawn(async move {
                s.invalidate(&stale).await;
                s.bearer().await.unwrap()
            })
        })
        .collect();
    let mut fresh = Vec::new();
    for t in tasks {
        fresh.push(t.await.unwrap());
    }
    let distinct: std::collections::HashSet<_> =
        fresh.iter().map(|b| b.token.expose().to_string()).collect();
    assert_eq!(distinct.len(), 1);
    assert_eq!(count(&gw, MINT), 2);
    assert_eq!(use_token(&gw, &fresh[0]).await, 200);
}

/// A session for `mode` against `gw` with `overrides` on top of its environment, over `store`.
fn session_overriding(
    mode: Mode,
    gw: &GatewayHandle,
    store: Arc<dyn SecretStore>,
    overrides: &[(&str, &str)],
) -> Session {
    let base = env_for(mode, gw);
    let mut pairs: Vec<(String, String)> = behest_desktop::core::config::env::ALL
        .iter()
        .filter_map(|n| base.raw(n).map(|v| (n.to_string(), v.to_string())))
        .filter(|(n, _)| !overrides.iter().any(|(o, _)| o == n))
        .collect();
    pairs.extend(
        overrides
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let config = Config::resolve(
        &Env::from_pairs(pairs),
        &Settings::default(),
        &StoredSecrets::default(),
    )
    .unwrap();
    let http = behest_desktop::core::http::shared_client().unwrap();
    let minter = minter_for(&config, None, http, Arc::new(SystemClock)).unwrap();
    Session::new(
        minter,
        store,
        Arc::new(SystemClock),
        SessionOptions::default(),
    )
}

#[tokio::test]
async fn a_stored_token_is_reused_only_by_the_same_configuration() {
    let gw = gateway().await;
    let base = gw.base_url();
    // Another origin of the same gateway: a different BEHEST_BASE_URL, as far as the cache knows.
    let other_base = base.replace("127.0.0.1", "localhost");
    for (mode, path, changes) in [
        (
            Mode::TokenEndpoint,
            TOKEN,
            vec![("BEHEST_BASE_URL", other_base.as_str())],
        ),
        (
            Mode::ApiKey,
            MINT,
            vec![
                ("BEHEST_BASE_URL", other_base.as_str()),
                ("BEHEST_USER_ID", "someone-else"),
                ("BEHEST_TIER", "3"),
            ],
        ),
        (
            Mode::LocalSign,
            "",
            vec![
                ("BEHEST_BASE_URL", other_base.as_str()),
                ("BEHEST_USER_ID", "someone-else"),
                ("BEHEST_AUDIENCE", "another-audience"),
            ],
        ),
    ] {
        // One store, like the OS keyring across restarts.
        let store = Arc::new(CountingStore::default());
        let first = session_overriding(mode, &gw, store.clone(), &[])
            .bearer()
            .await
            .unwrap();
        // The same configuration after a restart: the stored token.
        let again = session_overriding(mode, &gw, store.clone(), &[])
            .bearer()
            .await
            .unwrap();
        assert_eq!(again.token, first.token, "{mode:?}: same configuration");
        let changed = changes.len();
        for change in changes {
            let other = session_overriding(mode, &gw, store.clone(), &[change])
                .bearer()
                .await
                .unwrap();
            assert_ne!(other.token, first.token, "{mode:?}: {} changed", change.0);
        }
        if !path.is_empty() {
            assert_eq!(
                count(&gw, path),
                1 + changed,
                "{mode:?}: one mint per configuration"
            );
        }
    }
}
