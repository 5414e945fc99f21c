//! `core::check` end to end against the gateway: every mode passes every check, the progress
//! callback sees each result in order, and no secret reaches the report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod check_support;

use behest_desktop::core::check::{self, CheckResult};
use behest_desktop::core::config::{Config, Env, Settings, StoredSecrets};
use check_support::*;

const ALL_COMMON: [&str; 17] = [
    "config.mode",
    "config.key",
    "config.ids",
    "config.baseUrl",
    "config.reachable",
    "token.mint",
    "token.header",
    "token.claims",
    "token.lifetime",
    "token.clock",
    "verify.jwks",
    "verify.kid",
    "verify.signature",
    "chat.completion",
    "limits.tier",
    "limits.usage",
    "cors:https://app.example.com",
];

async fn all_pass(mode: Mode) {
    let gw =
        gateway(|c| c.projects[0].allowed_origins = vec!["https://app.example.com".into()]).await;
    let o = options_with_origins(&["https://app.example.com"]);
    let report = run_mode(mode, &gw, &[], &o).await;
    assert!(report.ok, "{report:#?}");
    for name in ALL_COMMON {
        passes(&report, name);
    }
    let sign = mode == Mode::LocalSign;
    assert_eq!(report.get("verify.publicKey").is_some(), sign);
    let secrets = secrets_of(&gw);
    no_secrets(
        &report,
        &secrets.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn api_key_mode_passes_every_check() {
    all_pass(Mode::ApiKey).await;
}

#[tokio::test]
async fn local_sign_mode_passes_every_check() {
    all_pass(Mode::LocalSign).await;
}

#[tokio::test]
async fn token_endpoint_mode_passes_every_check() {
    all_pass(Mode::TokenEndpoint).await;
}

#[tokio::test]
async fn demo_mode_checks_the_in_process_gateway() {
    let gw = gateway(|_| {}).await;
    let config = Config::resolve(
        &Env::default(),
        &Settings::default(),
        &StoredSecrets::default(),
    )
    .unwrap();
    let mut o = options();
    o.demo = Some(demo(&gw));
    let report = check::run(&config, &o, |_| {}).await;
    assert!(report.ok, "{report:#?}");
    assert_eq!(report.mode, "demo");
    passes(&report, "verify.publicKey");
    assert!(get(&report, "config.baseUrl")
        .detail
        .contains(&gw.base_url()));
    // Without the gateway's credentials demo mode cannot be checked.
    let report = check::run(&config, &options(), |_| {}).await;
    let c = get(&report, "config.mode");
    assert!(!c.ok && c.hint.as_deref().unwrap_or_default().contains("BEHEST_KEY"));
    gw.shutdown().await;
}

#[tokio::test]
async fn progress_sees_every_result_in_order_and_json_has_the_contract_shape() {
    let gw = gateway(|_| {}).await;
    let config = resolve(&env_for(Mode::ApiKey, &gw)).unwrap();
    let mut seen: Vec<CheckResult> = Vec::new();
    let report = check::run(&config, &options(), |c| seen.push(c.clone())).await;
    assert_eq!(seen, report.checks);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["ok"], true);
    assert_eq!(json["mode"], "apiKey");
    let first = json["checks"][0].as_object().unwrap();
    let mut keys: Vec<&str> = first.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["detail", "hint", "name", "ok"]);
    // The chat check shows time to first byte, the model and the trace id.
    let chat = get(&report, "chat.completion");
    assert!(
        chat.detail.contains("behest-local-demo")
            && chat.detail.contains("trace")
            && chat.detail.contains("ms"),
        "{}",
        chat.detail
    );
    // The header and every claim are shown.
    assert!(get(&report, "token.header").detail.contains("RS256"));
    let claims = &get(&report, "token.claims").detail;
    for claim in [
        "tid", "pid", "uid", "role", "iss", "aud", "iat", "nbf", "exp", "jti", "sid",
    ] {
        assert!(
            claims.contains(&format!("\"{claim}\"")),
            "{claim} missing from {claims}"
        );
    }
    gw.shutdown().await;
}
