//! `behest-desktop mint` as scripts use it, against the local gateway: output formats, `--tier`
//! and `--ttl` in the claims, exit codes (after the mint's retries), the `BEHEST_API_KEY`
//! deprecation warning given once, and no secret in its output at TRACE (except the token on
//! stdout with `--raw`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth_support;

use std::process::Output;

use auth_support::{count, gateway, mint_cli as mint, mode_pairs as pairs, Mode};
use behest_desktop::core::gateway::{Fault, GatewayHandle, Route};
use behest_desktop::core::protocol::claims::inspect;

fn secrets_of(gw: &GatewayHandle) -> Vec<String> {
    let c = gw.credentials();
    let mut s = vec![
        c.api_key.expose().to_string(),
        c.session_token.expose().to_string(),
        c.signing_key_pem.expose().to_string(),
    ];
    s.extend(
        c.signing_key_pem
            .expose()
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .map(str::to_string),
    );
    s
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts that `out` exited with 0, naming `what` and showing its stderr otherwise.
fn assert_ok(out: &Output, what: &str) {
    assert_eq!(out.status.code(), Some(0), "{what}: {}", text(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mode_prints_json_raw_and_human_without_leaking() {
    let gw = gateway().await;
    let home = tempfile::tempdir().unwrap();
    let secrets = secrets_of(&gw);
    for (mode, name) in [
        (Mode::TokenEndpoint, "tokenEndpoint"),
        (Mode::ApiKey, "apiKey"),
        (Mode::LocalSign, "localSign"),
        (Mode::Demo, "demo"),
    ] {
        let env = pairs(mode, &gw);
        let json = mint(
            home.path(),
            &env,
            &["--json", "--user", "alice", "--session", "sess-cli"],
        );
        assert_ok(&json, name);
        let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "claims",
                "expires_at",
                "header",
                "mode",
                "session_id",
                "ttl"
            ],
            "{name}"
        );
        assert_eq!(v["mode"], name);
        assert_eq!(v["header"]["alg"], "RS256");
        assert_eq!(v["expires_at"], v["claims"]["exp"]);
        if mode != Mode::TokenEndpoint {
            assert_eq!(
                (v["claims"]["uid"].as_str(), v["session_id"].as_str()),
                (Some("alice"), Some("sess-cli")),
                "{name}"
            );
        }

        let raw = mint(home.path(), &env, &["--raw"]);
        assert_ok(&raw, name);
        let token = text(&raw.stdout).trim_end().to_string();
        assert!(
            inspect(&token).is_some() && !token.contains('\n'),
            "{name}: --raw prints only the token"
        );
        assert!(
            !text(&raw.stderr).contains(&token),
            "{name}: the token is on stdout only"
        );

        let human = mint(home.path(), &env, &[]);
        assert_ok(&human, name);
        let out = text(&human.stdout);
        assert!(
            out.contains(name) && out.contains("\"uid\"") && out.contains("expires"),
            "{out}"
        );
        assert!(
            !out.contains("eyJ"),
            "{name}: the default output never shows the token"
        );
        for o in [&json, &raw, &human] {
            let all = format!("{}{}", text(&o.stdout), text(&o.stderr));
            for s in &secrets {
                assert!(!all.contains(s.as_str()), "{name}: a secret in the output");
            }
        }
        assert!(!text(&json.stdout).contains("eyJ"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_follow_the_error_kind() {
    let gw = gateway().await;
    let home = tempfile::tempdir().unwrap();
    let api = pairs(Mode::ApiKey, &gw);
    let code = |o: Output| o.status.code();
    // 0 ok.
    assert_eq!(code(mint(home.path(), &api, &[])), Some(0));
    // 2 configuration: a malformed key, a bad flag value, a 400 from the mint.
    let bad_key = vec![("BEHEST_KEY".to_string(), "SENTINEL_KEY_garbage".to_string())];
    let out = mint(home.path(), &bad_key, &[]);
    assert!(!text(&out.stderr).contains("SENTINEL_KEY_garbage"));
    assert_eq!(code(out), Some(2));
    assert_eq!(code(mint(home.path(), &api, &["--ttl", "0"])), Some(2));
    assert_eq!(
        code(mint(home.path(), &api, &["--ttl", "59"])),
        Some(2),
        "the gateway refuses ttl < 60 with 400"
    );
    // 3 unauthorized.
    let mut wrong = api.clone();
    wrong.retain(|(k, _)| k != "BEHEST_KEY");
    wrong.push((
        "BEHEST_KEY".into(),
        "behest_sk_live_00000000000000000000000000000000".into(),
    ));
    assert_eq!(code(mint(home.path(), &wrong, &[])), Some(3));
    // 4 quota, 5 rate limited, 6 server error, as scripted: 429 and 503 three times (the
    // first request and its two retries), the others once (never retried).
    for (status, want, times) in [(402, 4, 1), (403, 3, 1), (429, 5, 3), (503, 6, 3)] {
        let before = count(&gw, "/v1/auth/mint");
        gw.faults()
            .push_n(
                Route::Mint,
                Fault::status(status).header("retry-after-ms", "20"),
                times,
            )
            .unwrap();
        assert_eq!(
            code(mint(home.path(), &api, &[])),
            Some(want),
            "status {status}"
        );
        assert_eq!(
            count(&gw, "/v1/auth/mint") - before,
            times,
            "status {status}"
        );
    }
    // 6 network: nothing listens.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut dead = api.clone();
    dead.retain(|(k, _)| k != "BEHEST_BASE_URL");
    dead.push(("BEHEST_BASE_URL".into(), format!("http://127.0.0.1:{port}")));
    assert_eq!(code(mint(home.path(), &dead, &[])), Some(6));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tier_and_ttl_reach_the_claims() {
    let gw = gateway().await;
    let home = tempfile::tempdir().unwrap();
    for mode in [Mode::ApiKey, Mode::LocalSign, Mode::Demo] {
        for (tier, want_tier, ttl) in [
            ("3", serde_json::json!(3), 600u64),
            ("pro", serde_json::json!("pro"), 900),
        ] {
            let ttl_arg = ttl.to_string();
            let out = mint(
                home.path(),
                &pairs(mode, &gw),
                &["--json", "--tier", tier, "--ttl", &ttl_arg],
            );
            assert_ok(&out, &format!("{mode:?}"));
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let claims = &v["claims"];
            assert_eq!(claims["tier"], want_tier, "{mode:?} --tier {tier}");
            let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
            assert_eq!(lifetime, ttl as i64, "{mode:?} --ttl {ttl}: exp - iat");
            assert_eq!(v["ttl"], ttl, "{mode:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deprecated_key_variable_is_warned_about_once() {
    let gw = gateway().await;
    let home = tempfile::tempdir().unwrap();
    let key = gw.credentials().api_key.expose().to_string();
    let env = vec![
        ("BEHEST_BASE_URL".to_string(), gw.base_url()),
        ("BEHEST_API_KEY".to_string(), key.clone()),
    ];
    let out = mint(home.path(), &env, &["--json"]);
    assert_ok(&out, "mint --json");
    let stderr = text(&out.stderr);
    assert_eq!(
        stderr.matches("BEHEST_API_KEY is deprecated").count(),
        1,
        "{stderr}"
    );
    assert!(!stderr.contains(&key));
}
