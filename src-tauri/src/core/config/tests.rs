//! Resolution table for [`Config::resolve`].

use super::*;
use base64::Engine as _;

const API: &str = "behest_sk_live_0123456789abcdef0123456789abcdef";
const PEM: &str = "-----BEGIN PRIVATE KEY-----\nMIIEvQ==\n-----END PRIVATE KEY-----\n";

fn resolve(pairs: &[(&str, &str)], settings: &Settings, stored: &StoredSecrets) -> Result<Config> {
    Config::resolve(&Env::from_pairs(pairs.iter().copied()), settings, stored)
}

fn bad_name(r: Result<Config>) -> String {
    match r {
        Err(Error::InvalidSettings { name, reason }) => {
            assert!(reason.contains("expected"), "{name}: {reason}");
            name
        }
        other => panic!("expected InvalidSettings, got {other:?}"),
    }
}

#[test]
fn nothing_configured_is_demo_with_sdk_defaults() -> Result<()> {
    let c = resolve(&[], &Settings::default(), &StoredSecrets::default())?;
    assert_eq!(c.mode, AuthMode::Demo);
    assert_eq!(c.base_url, "https://api.behest.ai");
    assert_eq!(
        (c.user_id.as_str(), c.ttl, c.tier.clone()),
        ("default", 3600, None)
    );
    assert_eq!(
        (c.issuer.as_str(), c.audience.as_str()),
        ("https://api.behest.ai", "behest")
    );
    assert_eq!(c.refresh_margin, Duration::from_secs(60));
    Ok(())
}

#[test]
fn api_key_mode_with_env_over_settings() -> Result<()> {
    let settings = Settings {
        base_url: Some("https://settings.behest.app".into()),
        user_id: Some("from-settings".into()),
        ttl: Some(100),
        ..Settings::default()
    };
    let c = resolve(
        &[
            ("BEHEST_KEY", API),
            ("BEHEST_BASE_URL", "https://env.behest.app/v1/"),
            ("BEHEST_TTL", "900"),
            ("BEHEST_TIER", "2"),
        ],
        &settings,
        &StoredSecrets::default(),
    )?;
    assert_eq!(
        c.mode,
        AuthMode::ApiKey {
            key: Secret::new(API)
        }
    );
    assert_eq!(c.base_url, "https://env.behest.app");
    assert_eq!(
        (c.user_id.as_str(), c.ttl, c.tier),
        ("from-settings", 900, Some(Tier::Id(2)))
    );
    Ok(())
}

#[test]
fn sign_mode_needs_kid_tenant_project() -> Result<()> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(PEM);
    let key = format!("behest_pk_{b64}");
    let name = bad_name(resolve(
        &[("BEHEST_KEY", &key), ("BEHEST_KID", "k1")],
        &Settings::default(),
        &StoredSecrets::default(),
    ));
    assert_eq!(name, "BEHEST_TENANT_ID, BEHEST_PROJECT_ID");
    let settings = Settings {
        tenant_id: Some("t1".into()),
        project_id: Some("p1".into()),
        ..Settings::default()
    };
    let c = resolve(
        &[("BEHEST_KEY", &key), ("BEHEST_KID", "k1")],
        &settings,
        &StoredSecrets::default(),
    )?;
    let want = SigningConfig {
        pem: Secret::new(PEM),
        kid: "k1".into(),
        tenant_id: "t1".into(),
        project_id: "p1".into(),
    };
    assert_eq!(c.mode, AuthMode::LocalSign(want));
    assert_eq!(c.mode.name(), "localSign");
    Ok(())
}

#[test]
fn deprecated_api_key_variable_still_works() -> Result<()> {
    let c = resolve(
        &[("BEHEST_API_KEY", API)],
        &Settings::default(),
        &StoredSecrets::default(),
    )?;
    assert_eq!(c.mode.name(), "apiKey");
    Ok(())
}

#[test]
fn token_endpoint_takes_session_from_env_or_store() -> Result<()> {
    let url = "https://app.example/api/behest/token";
    let name = bad_name(resolve(
        &[("BEHEST_TOKEN_URL", url)],
        &Settings::default(),
        &StoredSecrets::default(),
    ));
    assert_eq!(name, "BEHEST_SESSION_TOKEN");
    let stored = StoredSecrets {
        session_token: Some(Secret::new("sess")),
        key: None,
    };
    let settings = Settings {
        token_url: Some(url.into()),
        ..Settings::default()
    };
    let c = resolve(&[], &settings, &stored)?;
    assert_eq!(
        c.mode,
        AuthMode::TokenEndpoint {
            url: url.into(),
            session_token: Secret::new("sess")
        }
    );
    // BEHEST_KEY in the environment wins over a configured token endpoint.
    let c = resolve(&[("BEHEST_KEY", API)], &settings, &stored)?;
    assert_eq!(c.mode.name(), "apiKey");
    // A stored key is used only when nothing else is configured.
    let stored = StoredSecrets {
        key: Some(Secret::new(API)),
        session_token: None,
    };
    assert_eq!(
        resolve(&[], &Settings::default(), &stored)?.mode.name(),
        "apiKey"
    );
    Ok(())
}

#[test]
fn every_malformed_value_names_its_variable() {
    let none = StoredSecrets::default();
    let s = Settings::default();
    let cases: [(&[(&str, &str)], &str); 12] = [
        (&[("BEHEST_KEY", "bh_live_x")], "BEHEST_KEY"),
        (&[("BEHEST_API_KEY", "garbage!")], "BEHEST_API_KEY"),
        (
            &[
                ("BEHEST_KEY", API),
                ("BEHEST_BASE_URL", "http://x.behest.app"),
            ],
            "BEHEST_BASE_URL",
        ),
        (&[("BEHEST_KEY", API), ("BEHEST_TTL", "soon")], "BEHEST_TTL"),
        (&[("BEHEST_KEY", API), ("BEHEST_TTL", "0")], "BEHEST_TTL"),
        (
            &[("BEHEST_KEY", API), ("BEHEST_TTL", "86401")],
            "BEHEST_TTL",
        ),
        (&[("BEHEST_KEY", API), ("BEHEST_TIER", "")], "BEHEST_TIER"),
        (
            &[("BEHEST_KEY", API), ("BEHEST_TIER", "two words")],
            "BEHEST_TIER",
        ),
        (
            &[("BEHEST_KEY", API), ("BEHEST_USER_ID", "a\u{7}b")],
            "BEHEST_USER_ID",
        ),
        (
            &[
                ("BEHEST_TOKEN_URL", "ftp://x"),
                ("BEHEST_SESSION_TOKEN", "s"),
            ],
            "BEHEST_TOKEN_URL",
        ),
        (&[("BEHEST_BASE_URL", "https://x.behest.app")], "BEHEST_KEY"),
        (&[("BEHEST_SESSION_TOKEN", "s")], "BEHEST_KEY"),
    ];
    for (pairs, want) in cases {
        assert_eq!(bad_name(resolve(pairs, &s, &none)), want, "{pairs:?}");
    }
    let s = Settings {
        base_url: Some("http://10.1.1.1".into()),
        ..Settings::default()
    };
    assert_eq!(
        bad_name(resolve(&[("BEHEST_KEY", API)], &s, &none)),
        "settings.baseUrl"
    );
    let s = Settings {
        ttl: Some(0),
        ..Settings::default()
    };
    assert_eq!(
        bad_name(resolve(&[("BEHEST_KEY", API)], &s, &none)),
        "settings.ttl"
    );
}

#[test]
fn config_debug_never_shows_secrets() -> Result<()> {
    let c = resolve(
        &[("BEHEST_KEY", API)],
        &Settings::default(),
        &StoredSecrets::default(),
    )?;
    let text = format!("{c:?}");
    assert!(!text.contains(API) && text.contains("[redacted]"));
    Ok(())
}

#[test]
fn tier_names_are_accepted() -> Result<()> {
    assert_eq!(parse_tier("BEHEST_TIER", "pro")?, Tier::Name("pro".into()));
    assert_eq!(parse_tier("BEHEST_TIER", " 3 ")?, Tier::Id(3));
    Ok(())
}
