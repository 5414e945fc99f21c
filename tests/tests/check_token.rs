//! The token checks' fail paths: expired and not-yet-valid tokens, a ttl out of range, clock
//! skew against the server's `Date`, a wrong audience or issuer, and a mint that refuses the key.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod check_support;

use check_support::*;

#[tokio::test]
async fn an_expired_token_fails_the_lifetime_check() {
    let gw = gateway(|_| {}).await;
    let mut o = options();
    o.minter = Some(signer_at(&gw, now() - 7200, 3600));
    let report = run_mode(Mode::LocalSign, &gw, &[], &o).await;
    passes(&report, "token.mint");
    passes(&report, "token.clock");
    // The ttl is fine: the hint is about the signing machine's clock, with the fix.
    fails_naming(&report, "token.lifetime", "timedatectl set-ntp true");
    assert_hint_lacks(&report, "token.lifetime", "BEHEST_TTL");
    assert!(get(&report, "token.lifetime").detail.contains("expired"));
    // The gateway agrees: the chat is refused.
    assert!(!get(&report, "chat.completion").ok);
    gw.shutdown().await;
}

#[tokio::test]
async fn a_not_yet_valid_token_fails_the_lifetime_check() {
    let gw = gateway(|_| {}).await;
    let mut o = options();
    o.minter = Some(signer_at(&gw, now() + 3600, 3600));
    let report = run_mode(Mode::LocalSign, &gw, &[], &o).await;
    fails_naming(&report, "token.lifetime", "timedatectl set-ntp true");
    assert_hint_lacks(&report, "token.lifetime", "BEHEST_TTL");
    assert!(get(&report, "token.lifetime").detail.contains("not valid"));
    assert!(!get(&report, "chat.completion").ok);
    gw.shutdown().await;
}

/// Asserts the hint of `name` does not mention `text` (it would point at the wrong setting).
fn assert_hint_lacks(report: &behest_desktop::core::check::CheckReport, name: &str, text: &str) {
    let hint = get(report, name).hint.clone().unwrap_or_default();
    assert!(
        !hint.contains(text),
        "the hint of {name} should not name {text}: {hint}"
    );
}

#[tokio::test]
async fn a_ttl_under_a_minute_is_flagged() {
    let gw = gateway(|_| {}).await;
    // Local signing signs whatever it is told; the check flags it.
    let report = run_default(Mode::LocalSign, &gw, &[("BEHEST_TTL", "30")]).await;
    passes(&report, "token.mint");
    fails_naming(&report, "token.lifetime", "BEHEST_TTL");
    assert!(get(&report, "token.lifetime")
        .detail
        .contains("ttl outside 60 to 86400 s"));
    // The mint refuses it outright.
    let report = run_default(Mode::ApiKey, &gw, &[("BEHEST_TTL", "30")]).await;
    fails_naming(&report, "token.mint", "BEHEST_TTL");
    skipped_by(&report, "token.claims", "token.mint");
    skipped_by(&report, "chat.completion", "token.mint");
    gw.shutdown().await;
}

#[tokio::test]
async fn clock_skew_over_a_minute_is_flagged_both_ways() {
    let gw = gateway(|_| {}).await;
    for offset in [600, -600] {
        let o = options_skewed(offset);
        let report = run_mode(Mode::ApiKey, &gw, &[], &o).await;
        fails_naming(&report, "token.clock", "timedatectl set-ntp true");
        let want = if offset > 0 { "ahead" } else { "behind" };
        assert!(get(&report, "token.clock").detail.contains(want));
        // Minted tokens carry the server's times: they are still fine.
        passes(&report, "token.lifetime");
    }
    // Locally signed tokens inherit the skew and are refused.
    let o = options_skewed(600);
    let report = run_mode(Mode::LocalSign, &gw, &[], &o).await;
    fails_naming(&report, "token.clock", "timedatectl set-ntp true");
    fails_naming(&report, "token.lifetime", "timedatectl set-ntp true");
    assert!(!get(&report, "chat.completion").ok);
    gw.shutdown().await;
}

#[tokio::test]
async fn a_small_skew_passes() {
    let gw = gateway(|_| {}).await;
    let o = options_skewed(20);
    let report = run_mode(Mode::LocalSign, &gw, &[], &o).await;
    passes(&report, "token.clock");
    passes(&report, "token.lifetime");
    passes(&report, "chat.completion");
    gw.shutdown().await;
}

#[tokio::test]
async fn a_wrong_audience_names_behest_audience() {
    let gw = gateway(|_| {}).await;
    let report = run_default(Mode::LocalSign, &gw, &[("BEHEST_AUDIENCE", "not-behest")]).await;
    fails_naming(&report, "token.claims", "BEHEST_AUDIENCE");
    // Verification is about the signature: it still passes; the gateway refuses the chat.
    passes(&report, "verify.signature");
    assert!(!get(&report, "chat.completion").ok);
    gw.shutdown().await;
}

#[tokio::test]
async fn a_wrong_issuer_names_behest_issuer() {
    let gw = gateway(|_| {}).await;
    let report = run_default(
        Mode::LocalSign,
        &gw,
        &[("BEHEST_ISSUER", "https://issuer.example")],
    )
    .await;
    fails_naming(&report, "token.claims", "BEHEST_ISSUER");
    assert!(!get(&report, "chat.completion").ok);
    gw.shutdown().await;
}

#[tokio::test]
async fn a_refused_api_key_names_behest_key() {
    let gw = gateway(|_| {}).await;
    let unknown = "behest_sk_live_0123456789abcdef0123456789abcdef";
    let report = run_default(Mode::ApiKey, &gw, &[("BEHEST_KEY", unknown)]).await;
    passes(&report, "config.key");
    fails_naming(&report, "token.mint", "BEHEST_KEY");
    skipped_by(&report, "verify.kid", "token.mint");
    no_secrets(&report, &[unknown]);
    gw.shutdown().await;
}

#[tokio::test]
async fn a_refused_session_credential_names_behest_session_token() {
    let gw = gateway(|_| {}).await;
    let report = run_default(
        Mode::TokenEndpoint,
        &gw,
        &[("BEHEST_SESSION_TOKEN", "sess_not_a_real_one")],
    )
    .await;
    fails_naming(&report, "token.mint", "BEHEST_SESSION_TOKEN");
    no_secrets(&report, &["sess_not_a_real_one"]);
    gw.shutdown().await;
}
