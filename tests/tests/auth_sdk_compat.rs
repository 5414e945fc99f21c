//! Compatibility with the official SDK: a token our local signer makes and one the SDK's
//! `auth.mint()` makes in sign mode, with the same key and options, have the same header
//! fields and the same claim names and values except `iat`, `nbf`, `exp`, `jti`, `sid`
//! (and the same claim order).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use base64::Engine as _;
use behest_desktop::core::auth::{LocalSigner, MintDefaults, MintParams, SystemClock};
use behest_desktop::core::config::SigningConfig;
use behest_desktop::core::keys::RsaKey;
use behest_desktop::core::protocol::claims::{inspect, Tier};
use behest_desktop_tests::{sdk_python, workspace_root};

fn sdk_token(pem: &str, options: serde_json::Value) -> String {
    let out = std::process::Command::new(sdk_python())
        .arg(workspace_root().join("tests/sdk/sign_compare.py"))
        .arg(options.to_string())
        .env(
            "BEHEST_KEY",
            base64::engine::general_purpose::STANDARD.encode(pem),
        )
        .env("BEHEST_KID", "kid_compat")
        .env("BEHEST_TENANT_ID", "ten_compat")
        .env("BEHEST_PROJECT_ID", "prj_compat")
        .env_remove("BEHEST_BASE_URL")
        .output()
        .expect("run the SDK");
    assert!(
        out.status.success(),
        "sign_compare.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["token"].as_str().unwrap().to_string()
}

/// Claim names in payload order, from the token's raw JSON.
fn claim_order(token: &str) -> Vec<String> {
    let payload = token.split('.').nth(1).unwrap();
    let json = String::from_utf8(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    // serde_json's map is sorted; find each known name's position in the raw text instead.
    let names = [
        "tid", "pid", "uid", "role", "scp", "iss", "aud", "iat", "nbf", "exp", "jti", "sid", "tier",
    ];
    let mut found: Vec<(usize, String)> = names
        .iter()
        .filter_map(|n| json.find(&format!("\"{n}\":")).map(|i| (i, n.to_string())))
        .collect();
    found.sort();
    found.into_iter().map(|(_, n)| n).collect()
}

fn compare(ours: &str, theirs: &str) {
    let (a, b) = (inspect(ours).unwrap(), inspect(theirs).unwrap());
    assert_eq!(a.header, b.header, "headers differ");
    let (ca, cb) = (a.claims.as_object().unwrap(), b.claims.as_object().unwrap());
    let mut names_a: Vec<_> = ca.keys().collect();
    let mut names_b: Vec<_> = cb.keys().collect();
    names_a.sort();
    names_b.sort();
    assert_eq!(names_a, names_b, "claim names differ");
    for (name, value) in ca {
        if !["iat", "nbf", "exp", "jti", "sid"].contains(&name.as_str()) {
            assert_eq!(Some(value), cb.get(name), "claim {name} differs");
        }
    }
    assert_eq!(
        claim_order(ours),
        claim_order(theirs),
        "claim order differs"
    );
    let lifetime = |c: &serde_json::Map<String, serde_json::Value>| {
        c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap()
    };
    assert_eq!(lifetime(ca), lifetime(cb));
}

#[test]
fn our_local_signer_matches_the_sdk_sign_mode() {
    let key = RsaKey::generate().unwrap();
    let pem = key.private_pem();
    let signing = SigningConfig {
        pem: pem.clone(),
        kid: "kid_compat".into(),
        tenant_id: "ten_compat".into(),
        project_id: "prj_compat".into(),
    };
    let defaults = MintDefaults {
        user_id: "default".into(),
        ttl: 3600,
        tier: None,
    };
    let signer = LocalSigner::new(
        "localSign",
        &signing,
        "https://api.behest.ai",
        "https://api.behest.ai",
        "behest",
        defaults,
        Arc::new(SystemClock),
    )
    .unwrap();
    let cases = [
        (MintParams::default(), serde_json::json!({})),
        (
            MintParams {
                user_id: Some("alice".into()),
                tier: Some(Tier::Id(2)),
                ttl: Some(900),
                session_id: Some("sess-1".into()),
            },
            serde_json::json!({"user_id": "alice", "tier": 2, "ttl": 900, "session_id": "sess-1"}),
        ),
    ];
    for (params, options) in cases {
        let ours = signer.sign(&params).unwrap();
        let theirs = sdk_token(pem.expose(), options);
        compare(ours.token.expose(), &theirs);
        // Each verifies with the same public key.
        let jwk = key.jwk("kid_compat");
        let dk = jsonwebtoken::DecodingKey::from_rsa_components(&jwk.n, &jwk.e).unwrap();
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        v.set_audience(&["behest"]);
        for t in [ours.token.expose(), theirs.as_str()] {
            jsonwebtoken::decode::<serde_json::Value>(t, &dk, &v).unwrap();
        }
    }
}
