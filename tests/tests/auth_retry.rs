//! Minting retries with the chat's policy (issue 3, reliability bar D3/D4): the API-key mint and
//! the token endpoint are retried on connect errors, 408, 409, 429 and 5xx, at most twice,
//! honouring `Retry-After`; 400, 401, 402 and 403 are final at once. Faults come from the
//! gateway's per-route scripts, and from a raw TCP double for broken connections.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth_support;
mod chat_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use auth_support::{config_for, count, gateway, Mode};
use behest_desktop::core::auth::{
    minter_with_retry, MintParams, Minter, SystemClock, TokenEndpointMinter,
};
use behest_desktop::core::gateway::{Fault, GatewayHandle, Route};
use behest_desktop::core::redact::Secret;
use behest_desktop::core::retry::RetryPolicy;
use behest_desktop::core::Error;
use chat_support::{read_request, token_bundle_answer, write, TcpDouble};

const MINT: &str = "/v1/auth/mint";
const TOKEN: &str = "/api/behest/token";

/// The modes that mint over the network: their fault route and recorded path.
const NETWORK_MINTS: [(Mode, Route, &str); 2] = [
    (Mode::ApiKey, Route::Mint, MINT),
    (Mode::TokenEndpoint, Route::Token, TOKEN),
];

/// The default policy with a 10 ms first backoff.
fn fast() -> RetryPolicy {
    RetryPolicy {
        initial_backoff: Duration::from_millis(10),
        ..RetryPolicy::default()
    }
}

fn minter(mode: Mode, gw: &GatewayHandle) -> Arc<dyn Minter> {
    let config = config_for(mode, gw).unwrap();
    let http = behest_desktop::core::http::shared_client().unwrap();
    minter_with_retry(&config, None, http, Arc::new(SystemClock), fast()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retryable_statuses_are_retried_until_a_token_comes() {
    let gw = gateway().await;
    for (mode, route, path) in NETWORK_MINTS {
        let m = minter(mode, &gw);
        for pair in [[503, 503], [429, 502], [408, 409], [500, 504]] {
            let before = count(&gw, path);
            for status in pair {
                gw.faults().push(route, Fault::status(status)).unwrap();
            }
            let minted = m.mint(&MintParams::default()).await;
            assert!(minted.is_ok(), "{mode:?} {pair:?}: {minted:?}");
            assert_eq!(count(&gw, path) - before, 3, "{mode:?} {pair:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_two_retries_then_the_error() {
    let gw = gateway().await;
    for (mode, route, path) in NETWORK_MINTS {
        let m = minter(mode, &gw);
        gw.faults().push_n(route, Fault::status(503), 3).unwrap();
        let before = count(&gw, path);
        let err = m.mint(&MintParams::default()).await.unwrap_err();
        assert!(matches!(err, Error::Upstream(_)), "{mode:?}: {err:?}");
        assert_eq!(count(&gw, path) - before, 3, "{mode:?}: 1 + 2 retries");
        // The queue is drained: the next mint succeeds at once.
        m.mint(&MintParams::default()).await.unwrap();
        assert_eq!(count(&gw, path) - before, 4);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_final_at_once() {
    let gw = gateway().await;
    for (mode, route, path) in NETWORK_MINTS {
        let m = minter(mode, &gw);
        type Is = fn(&Error) -> bool;
        let cases: [(u16, Is); 4] = [
            (400, |e| matches!(e, Error::BadRequest(_))),
            (401, |e| matches!(e, Error::Unauthorized(_))),
            (402, |e| matches!(e, Error::QuotaExceeded(_))),
            (403, |e| matches!(e, Error::Forbidden(_))),
        ];
        for (status, is) in cases {
            // One scripted refusal: a retry would get a token and hide it.
            gw.faults().push(route, Fault::status(status)).unwrap();
            let before = count(&gw, path);
            let err = m.mint(&MintParams::default()).await.unwrap_err();
            assert!(is(&err), "{mode:?} {status}: {err:?}");
            assert_eq!(count(&gw, path) - before, 1, "{mode:?} {status}: no retry");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_honoured_and_over_the_cap_is_surfaced() {
    let gw = gateway().await;
    let m = minter(Mode::ApiKey, &gw);
    // retry-after-ms 300 beats the 10 ms backoff: the retry waits for it.
    gw.faults()
        .push(
            Route::Mint,
            Fault::status(429).header("retry-after-ms", "300"),
        )
        .unwrap();
    let started = Instant::now();
    m.mint(&MintParams::default()).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(count(&gw, MINT), 2);
    // Over the 60 s cap: no automatic retry, the wait is reported.
    gw.faults()
        .push(Route::Mint, Fault::status(429).retry_after(120))
        .unwrap();
    let err = m.mint(&MintParams::default()).await.unwrap_err();
    assert!(matches!(err, Error::RateLimited(_)), "{err:?}");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(120)));
    assert_eq!(count(&gw, MINT), 3);
}

/// A token endpoint on a raw socket: connections before `fail_first` are dropped before any
/// answer; later ones get a bundle with `token`.
async fn flaky_token_endpoint(fail_first: usize, token: Secret) -> TcpDouble {
    TcpDouble::spawn(move |index, mut stream| {
        let token = token.clone();
        async move {
            read_request(&mut stream).await;
            if index < fail_first {
                return; // dropped: the connection closes with no answer
            }
            let answer = token_bundle_answer(&token, "sess-flaky");
            write(&mut stream, answer.as_bytes()).await;
        }
    })
    .await
}

fn endpoint_minter(url: String) -> TokenEndpointMinter {
    let http = behest_desktop::core::http::shared_client().unwrap();
    TokenEndpointMinter::new(
        http,
        url,
        Secret::new("sess_SENTINEL_TOK_flaky"),
        3600,
        Arc::new(SystemClock),
    )
    .with_retry(fast())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_connections_are_retried() {
    let gw = gateway().await;
    let token = gw.mint("flaky-user", None, 3600).unwrap();
    // Two connections closed before an answer, then a token.
    let double = flaky_token_endpoint(2, token.clone()).await;
    let m = endpoint_minter(format!("{}/token", double.base_url()));
    let minted = m.mint(&MintParams::default()).await.unwrap();
    assert_eq!(minted.token, token);
    assert_eq!(double.accepted(), 3);
    // Always broken: three connections, then a network error.
    let dead = flaky_token_endpoint(usize::MAX, token).await;
    let m = endpoint_minter(format!("{}/token", dead.base_url()));
    let err = m.mint(&MintParams::default()).await.unwrap_err();
    assert!(matches!(err, Error::Network(_)), "{err:?}");
    assert_eq!(dead.accepted(), 3);
}
