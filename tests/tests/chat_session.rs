//! The chat client on the real token session (API-key mint against the local gateway): 50
//! concurrent chats with no token yet, and 50 with an expired token, each cause exactly one mint
//! (reliability bar B7); a 401 invalidates the session's token, re-mints once and retries once
//! (D1); a cancel interrupts a mint's backoff (D5).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod chat_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use behest_desktop::core::auth::{ApiKeyMinter, Clock, ManualClock, MintDefaults, SystemClock};
use behest_desktop::core::chat::{ChatClient, ChatStatus};
use behest_desktop::core::gateway::{
    Fault, Gateway, GatewayConfig, GatewayHandle, Route, TierLimits,
};
use behest_desktop::core::http::{build_client, HttpOptions};
use behest_desktop::core::secrets::MemoryStore;
use behest_desktop::core::session::{Session, SessionOptions};
use chat_support::{chat, chats_seen, collector, config, send};
use tokio_util::sync::CancellationToken;

async fn unlimited_gateway() -> GatewayHandle {
    let mut cfg = GatewayConfig::demo().unwrap();
    cfg.faults_enabled = true;
    for limits in cfg.projects[0].tier_limits.values_mut() {
        *limits = TierLimits {
            rpm: u64::MAX,
            requests_per_day: u64::MAX,
            tokens_per_day: u64::MAX,
        };
    }
    Gateway::spawn(cfg, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn session_client(gw: &GatewayHandle) -> ChatClient {
    session_client_on(gw, Arc::new(SystemClock))
}

/// A chat client whose session and minter read `clock`.
fn session_client_on(gw: &GatewayHandle, clock: Arc<dyn Clock>) -> ChatClient {
    let http = build_client(HttpOptions::default()).unwrap();
    let defaults = MintDefaults {
        user_id: "session-user".into(),
        ttl: 3600,
        tier: None,
    };
    let minter = ApiKeyMinter::new(
        http.clone(),
        gw.base_url(),
        gw.credentials().api_key,
        defaults,
        Arc::clone(&clock),
    );
    let session = Session::new(
        Arc::new(minter),
        Arc::new(MemoryStore::new()),
        clock,
        SessionOptions::default(),
    );
    ChatClient::new(
        http,
        &gw.base_url(),
        Arc::new(session),
        config(Duration::from_secs(5)),
    )
    .unwrap()
}

fn count(gw: &GatewayHandle, path_end: &str) -> usize {
    gw.requests()
        .iter()
        .filter(|r| r.path.ends_with(path_end))
        .count()
}

/// Sends 50 chats at once through `client`; each must complete.
async fn fifty_chats(client: &Arc<ChatClient>) {
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let client = Arc::clone(client);
            tokio::spawn(async move { chat(&client, &format!("chat {i}")).await })
        })
        .collect();
    for (i, t) in tasks.into_iter().enumerate() {
        let out = t
            .await
            .unwrap()
            .unwrap_or_else(|f| panic!("chat {i}: {f:?}"));
        assert_eq!(out.status, ChatStatus::Completed, "chat {i}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_chats_cause_one_mint() {
    let gw = unlimited_gateway().await;
    gw.faults()
        .set_mint_latency(Duration::from_millis(50))
        .unwrap();
    let client = Arc::new(session_client(&gw));
    fifty_chats(&client).await;
    assert_eq!(count(&gw, "/auth/mint"), 1);
    let chats = chats_seen(&gw);
    assert_eq!(chats.len(), 50);
    let sid = chats[0].header("x-session-id").map(str::to_string);
    assert!(sid.is_some());
    assert!(chats
        .iter()
        .all(|r| r.header("x-session-id").map(str::to_string) == sid));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_chats_with_an_expired_token_cause_one_mint() {
    let gw = unlimited_gateway().await;
    gw.faults()
        .set_mint_latency(Duration::from_millis(50))
        .unwrap();
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let client = Arc::new(session_client_on(&gw, clock.clone()));
    // Warm: one chat, one mint.
    chat(&client, "warm").await.expect("warm chat");
    assert_eq!(count(&gw, "/auth/mint"), 1);
    let exp = gw
        .requests()
        .into_iter()
        .find(|r| r.path == "/v1/chat/completions")
        .and_then(|r| r.claims)
        .map(|c| c.exp)
        .expect("the warm chat's verified claims");
    // The token is now past its expiry by the session's clock.
    clock.set(exp + 1);
    fifty_chats(&client).await;
    assert_eq!(
        count(&gw, "/auth/mint"),
        2,
        "exactly one more mint for 50 chats"
    );
    let chats = chats_seen(&gw);
    assert_eq!(chats.len(), 51);
    assert!(chats.iter().all(|r| r.status == 200));
    let jtis: std::collections::HashSet<_> = chats[1..]
        .iter()
        .map(|r| r.claims.as_ref().map(|c| c.jti.clone()))
        .collect();
    assert_eq!(jtis.len(), 1, "the 50 chats share the one new token");
    assert_ne!(
        chats[0].claims.as_ref().map(|c| c.jti.clone()),
        chats[1].claims.as_ref().map(|c| c.jti.clone())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_interrupts_a_mint_backoff() {
    let gw = unlimited_gateway().await;
    // The mint asks for 30 s: the session's mint is waiting inside its backoff.
    gw.faults()
        .push(Route::Mint, Fault::status(503).retry_after(30))
        .unwrap();
    let client = Arc::new(session_client(&gw));
    let cancel = CancellationToken::new();
    let trip = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        trip.cancel();
    });
    let started = Instant::now();
    let (_, sink) = collector();
    let out = client
        .send(&send("cancel me"), &cancel, sink)
        .await
        .expect("a cancel is an outcome");
    assert_eq!(out.status, ChatStatus::Cancelled);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(count(&gw, "/auth/mint"), 1, "no retry after the cancel");
    assert_eq!(count(&gw, "/v1/chat/completions"), 0);
    // The session is usable afterwards.
    let out = chat(&client, "again").await.expect("chat");
    assert_eq!(out.status, ChatStatus::Completed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_re_mints_once_and_retries_once() {
    let gw = unlimited_gateway().await;
    let client = session_client(&gw);
    chat(&client, "warm").await.expect("first chat");
    assert_eq!(count(&gw, "/auth/mint"), 1);
    gw.faults().push(Route::Chat, Fault::status(401)).unwrap();
    let out = chat(&client, "again").await.expect("chat");
    assert_eq!(out.status, ChatStatus::Completed);
    assert_eq!(count(&gw, "/auth/mint"), 2);
    assert_eq!(count(&gw, "/v1/chat/completions"), 3);
}
