//! The chat and limits checks: 402 and 429 from the test completion, and usage routes that
//! answer, answer 404 (not reported, not a failure) or fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod check_support;

use behest_desktop::core::gateway::{Fault, Route};
use check_support::*;

#[tokio::test]
async fn quota_exceeded_names_the_tier() {
    let gw = gateway(|_| {}).await;
    gw.faults().push(Route::Chat, Fault::status(402)).unwrap();
    let report = run_default(Mode::ApiKey, &gw, &[]).await;
    fails_naming(&report, "chat.completion", "BEHEST_TIER");
    let detail = &get(&report, "chat.completion").detail;
    assert!(
        detail.contains("402") && detail.contains("trace"),
        "{detail}"
    );
    // The rest still ran.
    passes(&report, "limits.usage");
    gw.shutdown().await;
}

#[tokio::test]
async fn rate_limited_shows_retry_after_and_is_not_retried() {
    let gw = gateway(|_| {}).await;
    gw.faults()
        .push(Route::Chat, Fault::status(429).retry_after(7))
        .unwrap();
    let report = run_default(Mode::ApiKey, &gw, &[]).await;
    fails_naming(&report, "chat.completion", "BEHEST_TIER");
    let c = get(&report, "chat.completion");
    assert!(c.detail.contains("retry after 7 s"), "{}", c.detail);
    assert!(c.hint.as_deref().unwrap_or_default().contains("wait 7 s"));
    let chats = gw
        .requests()
        .into_iter()
        .filter(|r| r.path == "/v1/chat/completions")
        .count();
    assert_eq!(chats, 1, "the check must not retry");
    gw.shutdown().await;
}

#[tokio::test]
async fn the_test_completion_asks_for_one_token() {
    let gw = gateway(|_| {}).await;
    let report = run_default(Mode::LocalSign, &gw, &[("BEHEST_TIER", "3")]).await;
    passes(&report, "chat.completion");
    assert!(get(&report, "limits.tier").detail.contains("max"));
    let chat = gw
        .requests()
        .into_iter()
        .find(|r| r.path == "/v1/chat/completions")
        .unwrap();
    let body: serde_json::Value = serde_json::from_str(&chat.body).unwrap();
    assert_eq!(body["max_tokens"], 1);
    assert!(chat
        .headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("x-session-id")));
    gw.shutdown().await;
}

#[tokio::test]
async fn usage_404_is_not_reported_not_a_failure() {
    let gw = gateway(|c| c.usage_not_supported = true).await;
    let report = run_default(Mode::ApiKey, &gw, &[]).await;
    passes(&report, "limits.usage");
    let detail = &get(&report, "limits.usage").detail;
    assert!(
        detail.contains("/v1/usage: not reported")
            && detail.contains("/v1/billing/usage: requests"),
        "{detail}"
    );
    gw.shutdown().await;

    let gw = gateway(|_| {}).await;
    gw.faults()
        .push_n(Route::Usage, Fault::status(404), 2)
        .unwrap();
    let report = run_default(Mode::ApiKey, &gw, &[]).await;
    passes(&report, "limits.usage");
    assert_eq!(
        get(&report, "limits.usage")
            .detail
            .matches("not reported")
            .count(),
        2
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn a_failing_usage_route_fails_the_check() {
    let gw = gateway(|_| {}).await;
    gw.faults().push(Route::Usage, Fault::status(500)).unwrap();
    let report = run_default(Mode::ApiKey, &gw, &[]).await;
    let c = get(&report, "limits.usage");
    assert!(
        !c.ok && c.detail.contains("500") && c.hint.is_some(),
        "{c:#?}"
    );
    gw.shutdown().await;
}
