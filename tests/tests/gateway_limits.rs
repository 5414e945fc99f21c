//! Tier limits over loopback (§8): 429 with an integer `Retry-After` until the minute window
//! resets, 402 `quota_exceeded` with `{tier, limit, usage}` on daily caps, per `(project, uid)`.
//! Time moves through the gateway clock, never by sleeping.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod gateway_support;

use behest_desktop::core::gateway::TierLimits;
use gateway_support::*;
use serde_json::Value;

const T0: i64 = 1_800_000_000 - 1_800_000_000 % 86_400 + 3_600 + 20; // 20 s into a minute

/// Tier limits: requests per minute, requests per day, tokens per day.
fn limits(rpm: u64, requests_per_day: u64, tokens_per_day: u64) -> TierLimits {
    TierLimits {
        rpm,
        requests_per_day,
        tokens_per_day,
    }
}

#[tokio::test]
async fn rate_limit_gives_429_with_retry_after_until_the_minute_resets() {
    let gw = start(|c| {
        c.clock_override = Some(T0);
        c.projects[0]
            .tier_limits
            .insert("free".into(), limits(2, 100, 1_000_000));
    })
    .await;
    let alice = token(&gw, "alice", Some(1)).await;
    for _ in 0..2 {
        assert_eq!(chat_status(&gw, &alice).await, 200);
    }
    let r = chat(&gw, &alice, &chat_body("x", false)).await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "40");
    let body: Value = r.json().await.unwrap();
    assert_eq!(code(&body), Some("rate_limited"));
    // Bob's quota is separate; pro-tier users have the pro limit.
    let bob = token(&gw, "bob", Some(1)).await;
    assert_eq!(chat_status(&gw, &bob).await, 200);
    let pro = token(&gw, "carol", Some(2)).await;
    for _ in 0..3 {
        assert_eq!(chat_status(&gw, &pro).await, 200);
    }
    gw.advance_clock(39);
    assert_eq!(
        chat(&gw, &alice, &chat_body("x", false)).await.headers()["retry-after"],
        "1"
    );
    gw.advance_clock(1);
    assert_eq!(chat_status(&gw, &alice).await, 200);
    gw.shutdown().await;
}

#[tokio::test]
async fn daily_caps_give_402_with_details() {
    let gw = start(|c| {
        c.clock_override = Some(T0);
        c.projects[0]
            .tier_limits
            .insert("free".into(), limits(1000, 2, 1_000_000));
        c.projects[0]
            .tier_limits
            .insert("pro".into(), limits(1000, 1000, 50));
    })
    .await;
    let alice = token(&gw, "alice", None).await; // no tier → free
    for _ in 0..2 {
        assert_eq!(chat_status(&gw, &alice).await, 200);
    }
    let r = chat(&gw, &alice, &chat_body("x", false)).await;
    assert_eq!(r.status(), 402);
    assert!(r.headers().contains_key("x-trace-id"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(code(&body), Some("quota_exceeded"));
    let d = &body["error"]["details"];
    assert_eq!(
        (
            d["tier"].as_str(),
            d["limit"]["requests_per_day"].as_u64(),
            d["usage"]["requests_today"].as_u64()
        ),
        (Some("free"), Some(2), Some(2))
    );
    // Tokens: one reply spends more than 50 tokens, the next request is refused.
    let pro = token(&gw, "dave", Some(2)).await;
    assert_eq!(chat_status(&gw, &pro).await, 200);
    let body: Value = chat(&gw, &pro, &chat_body("x", false))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["error"]["details"]["tier"], "pro");
    assert_eq!(body["error"]["details"]["limit"]["tokens_per_day"], 50);
    assert!(
        body["error"]["details"]["usage"]["tokens_today"]
            .as_u64()
            .unwrap()
            > 50
    );
    // A new day resets both (with fresh tokens: yesterday's have expired).
    gw.advance_clock(86_400);
    assert_eq!(chat_status(&gw, &alice).await, 401);
    let (alice, pro) = (
        token(&gw, "alice", None).await,
        token(&gw, "dave", Some(2)).await,
    );
    assert_eq!(chat_status(&gw, &alice).await, 200);
    assert_eq!(chat_status(&gw, &pro).await, 200);
    gw.shutdown().await;
}
