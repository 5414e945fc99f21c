//! The session against the local gateway: single-flight refresh under 50 concurrent callers
//! (one mint, one keyring write), and a 401 that invalidates the token and causes exactly one
//! refresh.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth_support;

use std::sync::Arc;
use std::time::Duration;

use auth_support::{count, gateway, session_with, use_token, CountingStore, Mode};
use behest_desktop::core::auth::{Clock, ManualClock, SystemClock};
use behest_desktop::core::gateway::{Fault, GatewayHandle, Route};
use behest_desktop::core::session::Session;
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
