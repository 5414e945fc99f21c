//! A client clock ten minutes off against the local gateway (reliability C4): the session never
//! storms the mint, and a clock far ahead falls back to the server's ttl.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth_support;

use std::sync::Arc;

use auth_support::{count, gateway, minter, use_token, CountingStore, Mode};
use behest_desktop::core::auth::{Clock, ManualClock, SystemClock};
use behest_desktop::core::gateway::GatewayHandle;
use behest_desktop::core::session::{Session, SessionOptions};
use behest_desktop::core::token::TokenSource;

const MINT: &str = "/v1/auth/mint";

async fn skewed(offset_secs: i64, ttl: u64) -> (Session, Arc<ManualClock>, GatewayHandle) {
    let gw = gateway().await;
    let clock = Arc::new(ManualClock::new(SystemClock.now() + offset_secs));
    let (_, m) = minter(Mode::ApiKey, &gw, clock.clone()).unwrap();
    let options = SessionOptions {
        ttl: Some(ttl),
        ..SessionOptions::default()
    };
    (
        Session::new(
            m,
            Arc::new(CountingStore::default()),
            clock.clone(),
            options,
        ),
        clock,
        gw,
    )
}

#[tokio::test]
async fn clock_ten_minutes_ahead_with_short_tokens_uses_the_server_ttl() {
    // Tokens live 300 s by the server's clock; ours is 600 s ahead, so every token looks
    // expired on arrival.
    let (session, clock, gw) = skewed(600, 300).await;
    let first = session.bearer().await.unwrap();
    for _ in 0..100 {
        assert_eq!(session.bearer().await.unwrap().token, first.token);
    }
    assert_eq!(count(&gw, MINT), 1, "no refresh storm");
    assert_eq!(
        use_token(&gw, &first).await,
        200,
        "the server still accepts it"
    );
    // Refreshed 60 s before the server ttl runs out, by our clock.
    clock.advance(239);
    session.bearer().await.unwrap();
    assert_eq!(count(&gw, MINT), 1);
    clock.advance(1);
    session.bearer().await.unwrap();
    assert_eq!(count(&gw, MINT), 2);
}

#[tokio::test]
async fn clock_ten_minutes_behind_refreshes_by_exp_once() {
    let (session, clock, gw) = skewed(-600, 3600).await;
    let first = session.bearer().await.unwrap();
    for _ in 0..100 {
        session.bearer().await.unwrap();
    }
    assert_eq!(count(&gw, MINT), 1);
    // By our clock the token has 10 more minutes than it really has; the refresh follows `exp`.
    clock.set(first.expires_at.unwrap() - 60);
    let second = session.bearer().await.unwrap();
    assert_ne!(second.token, first.token);
    assert_eq!(count(&gw, MINT), 2);
}
