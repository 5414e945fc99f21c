//! Header and claims of locally signed tokens, exactly as the SDK's sign mode makes them.

use super::*;
use crate::core::auth::ManualClock;
use crate::core::protocol::claims::{inspect, Tier};

fn signing(pem: Secret) -> SigningConfig {
    SigningConfig {
        pem,
        kid: "kid_7h4m2p".into(),
        tenant_id: "t-1".into(),
        project_id: "p-1".into(),
    }
}

fn defaults() -> MintDefaults {
    MintDefaults {
        user_id: "default".into(),
        ttl: 3600,
        tier: None,
    }
}

#[test]
fn header_and_claims_match_the_sdk() -> Result<()> {
    let key = RsaKey::generate()?;
    let clock = Arc::new(ManualClock::new(1_790_000_000));
    let signer = LocalSigner::new(
        "localSign",
        &signing(key.private_pem()),
        "https://x.behest.app",
        "https://api.behest.ai",
        "behest",
        defaults(),
        clock,
    )?;
    let params = MintParams {
        user_id: Some("alice".into()),
        tier: Some(Tier::Id(2)),
        ttl: None,
        session_id: Some("s-1".into()),
    };
    let minted = signer.sign(&params)?;
    let parts = inspect(minted.token.expose()).ok_or_else(|| Error::Crypto("not a jwt".into()))?;
    assert_eq!(
        parts.header,
        serde_json::json!({"alg":"RS256","kid":"kid_7h4m2p","typ":"JWT"})
    );
    let c = &parts.claims;
    let names: Vec<&str> = c
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let mut want = vec![
        "tid", "pid", "uid", "role", "scp", "iss", "aud", "iat", "nbf", "exp", "jti", "sid", "tier",
    ];
    let mut got = names.clone();
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got, want);
    assert_eq!(
        (c["tid"].as_str(), c["pid"].as_str(), c["uid"].as_str()),
        (Some("t-1"), Some("p-1"), Some("alice"))
    );
    assert_eq!(
        (c["role"].as_str(), c["scp"].clone()),
        (Some("user"), serde_json::json!([]))
    );
    assert_eq!(
        (c["iss"].as_str(), c["aud"].as_str()),
        (Some("https://api.behest.ai"), Some("behest"))
    );
    assert_eq!(
        (c["iat"].as_i64(), c["nbf"].as_i64(), c["exp"].as_i64()),
        (
            Some(1_790_000_000),
            Some(1_790_000_000),
            Some(1_790_003_600)
        )
    );
    assert_eq!(
        (c["sid"].as_str(), c["tier"].as_i64()),
        (Some("s-1"), Some(2))
    );
    assert!(uuid::Uuid::parse_str(c["jti"].as_str().unwrap_or("")).is_ok());
    assert!(c.get("sub").is_none());
    assert_eq!(
        (minted.ttl, minted.session_id.as_deref(), minted.expires_at),
        (3600, Some("s-1"), Some(1_790_003_600))
    );
    // The payload's bytes keep the SDK's claim order.
    let payload = minted.token.expose().split('.').nth(1).unwrap_or("");
    let json = String::from_utf8(
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
            .unwrap_or_default(),
    )
    .unwrap_or_default();
    assert!(
        json.starts_with(r#"{"tid":"t-1","pid":"p-1","uid":"alice","role":"user","scp":[],"iss":"#),
        "{json}"
    );
    Ok(())
}

#[test]
fn defaults_fresh_session_and_no_tier() -> Result<()> {
    let key = RsaKey::generate()?;
    let signer = LocalSigner::new(
        "demo",
        &signing(key.private_pem()),
        "http://127.0.0.1:1",
        "https://api.behest.ai",
        "behest",
        MintDefaults {
            ttl: 60,
            ..defaults()
        },
        Arc::new(ManualClock::new(100)),
    )?;
    let a = signer.sign(&MintParams::default())?;
    let b = signer.sign(&MintParams::default())?;
    let (ca, cb) = (inspect(a.token.expose()), inspect(b.token.expose()));
    let ca = ca.map(|i| i.claims).unwrap_or_default();
    assert_eq!(
        (ca["uid"].as_str(), ca["exp"].as_i64()),
        (Some("default"), Some(160))
    );
    assert!(ca.get("tier").is_none());
    assert_ne!(
        a.session_id, b.session_id,
        "a fresh session id per unnamed mint"
    );
    assert_ne!(
        ca["jti"],
        cb.map(|i| i.claims["jti"].clone()).unwrap_or_default()
    );
    assert_eq!(signer.mode(), "demo");
    Ok(())
}

#[test]
fn a_bad_pem_is_a_settings_error_without_the_pem() {
    let bad =
        Secret::new("-----BEGIN PRIVATE KEY-----\nSENTINEL_PEM_AAAA\n-----END PRIVATE KEY-----\n");
    let err = LocalSigner::new(
        "localSign",
        &signing(bad),
        "https://x",
        "i",
        "a",
        defaults(),
        Arc::new(ManualClock::new(0)),
    )
    .err();
    match err {
        Some(Error::InvalidSettings { name, reason }) => {
            assert_eq!(name, "BEHEST_KEY");
            assert!(!reason.contains("SENTINEL"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_pem_is_parsed_once_per_process() -> Result<()> {
    let key = RsaKey::generate()?;
    let pem = key.private_pem();
    let a = parsed_key(&pem)?;
    let b = parsed_key(&pem)?;
    assert!(Arc::ptr_eq(&a, &b));
    Ok(())
}
