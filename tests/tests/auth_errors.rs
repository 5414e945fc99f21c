//! Error answers of the mint and the token endpoint, classified by the protocol's classifier
//! into typed errors (variant, status, code, trace id, Retry-After). Retryable answers are
//! scripted three times (the first request and its two retries, see `auth_retry.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth_support;

use std::sync::Arc;
use std::time::Duration;

use auth_support::{config_for, count, gateway, mint_error_from, minter, Mode};
use behest_desktop::core::auth::{minter_with_retry, MintParams, SystemClock};
use behest_desktop::core::gateway::{Fault, Route};
use behest_desktop::core::retry::{is_retryable_status, RetryPolicy};
use behest_desktop::core::Error;

/// A well-formed API key the gateway never issued.
const UNKNOWN_KEY: &str = "behest_sk_live_00000000000000000000000000000000";

#[tokio::test]
async fn mint_with_an_unknown_key_is_unauthorized() {
    let gw = gateway().await;
    let base = gw.base_url();
    let err = mint_error_from(&[("BEHEST_KEY", UNKNOWN_KEY), ("BEHEST_BASE_URL", &base)]).await;
    assert!(matches!(err, Error::Unauthorized(_)), "{err:?}");
    let f = err.http().unwrap();
    assert_eq!(f.status, 401);
    assert!(f.code.is_some());
    assert!(f.trace_id.is_some(), "the gateway's X-Trace-Id is kept");
}

#[tokio::test]
async fn mint_with_a_bad_ttl_is_a_bad_request() {
    let gw = gateway().await;
    let (_, m) = minter(Mode::ApiKey, &gw, Arc::new(SystemClock)).unwrap();
    let err = m
        .mint(&MintParams {
            ttl: Some(59),
            ..MintParams::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(err, Error::BadRequest(_)), "{err:?}");
    assert_eq!(err.http().unwrap().status, 400);
}

#[tokio::test]
async fn token_endpoint_with_an_unknown_session_is_unauthorized() {
    let gw = gateway().await;
    let c = gw.credentials();
    let err = mint_error_from(&[
        ("BEHEST_TOKEN_URL", &c.token_url),
        ("BEHEST_SESSION_TOKEN", "sess_not_a_real_session"),
    ])
    .await;
    assert!(matches!(err, Error::Unauthorized(_)), "{err:?}");
}

#[tokio::test]
async fn scripted_mint_faults_are_classified() {
    let gw = gateway().await;
    // Millisecond backoffs; a Retry-After over 5 s is not waited for (it is reported).
    let fast = RetryPolicy {
        initial_backoff: Duration::from_millis(1),
        max_retry_after: Duration::from_secs(5),
        ..RetryPolicy::default()
    };
    let m = minter_with_retry(
        &config_for(Mode::ApiKey, &gw).unwrap(),
        None,
        behest_desktop::core::http::shared_client().unwrap(),
        Arc::new(SystemClock),
        fast,
    )
    .unwrap();
    type Case = (Fault, fn(&Error) -> bool);
    let cases: Vec<Case> = vec![
        (Fault::status(429).retry_after(7), |e| {
            matches!(e, Error::RateLimited(_))
        }),
        (Fault::status(402), |e| matches!(e, Error::QuotaExceeded(_))),
        (Fault::status(403), |e| matches!(e, Error::Forbidden(_))),
        (Fault::status(503), |e| matches!(e, Error::Upstream(_))),
        (Fault::status(500).body("<html>oops</html>"), |e| {
            matches!(e, Error::Upstream(_))
        }),
    ];
    for (fault, is) in cases {
        let status = fault.status;
        let waited_for = status.is_some_and(is_retryable_status) && fault.retry_after.is_none();
        let times = if waited_for { 3 } else { 1 };
        let before = count(&gw, "/v1/auth/mint");
        gw.faults().push_n(Route::Mint, fault, times).unwrap();
        let err = m.mint(&MintParams::default()).await.unwrap_err();
        assert!(is(&err), "status {status:?} gave {err:?}");
        assert_eq!(err.http().map(|f| f.status), status);
        assert_eq!(count(&gw, "/v1/auth/mint") - before, times);
    }
    gw.faults()
        .push(Route::Mint, Fault::status(429).retry_after(7))
        .unwrap();
    let err = m.mint(&MintParams::default()).await.unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
}

#[tokio::test]
async fn a_mint_answer_without_a_token_is_a_protocol_error() {
    let gw = gateway().await;
    let (_, m) = minter(Mode::ApiKey, &gw, Arc::new(SystemClock)).unwrap();
    gw.faults()
        .push(
            Route::Mint,
            Fault::status(200).body(r#"{"ttl":900,"session_id":"s"}"#),
        )
        .unwrap();
    let err = m.mint(&MintParams::default()).await.unwrap_err();
    assert!(matches!(err, Error::Protocol(_)), "{err:?}");
}

#[tokio::test]
async fn nothing_listening_is_a_network_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let err = mint_error_from(&[("BEHEST_KEY", UNKNOWN_KEY), ("BEHEST_BASE_URL", &base)]).await;
    assert!(matches!(err, Error::Network(_)), "{err:?}");
}
