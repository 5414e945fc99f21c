//! Claim-validation table for [`super::verify_token`]: every §16 / reliability-bar C1–C3 case.

use super::*;
use crate::core::gateway::state::GatewayState;
use crate::core::keys::RsaKey;
use crate::core::Result;
use axum::http::StatusCode;
use serde_json::{json, Value};

const NOW: i64 = 1_800_000_000;

struct Fixture {
    state: GatewayState,
    tenant_kid: String,
}

fn fixture() -> Result<Fixture> {
    let mut config = crate::core::gateway::GatewayConfig::demo()?;
    config.clock_override = Some(NOW);
    let tenant_kid = config.tenant_keys[0].kid.clone();
    Ok(Fixture {
        state: GatewayState::new(config)?,
        tenant_kid,
    })
}

impl Fixture {
    fn claims(&self) -> Value {
        let p = &self.state.config.projects[0];
        json!({"tid": p.tenant_id, "pid": p.project_id, "uid": "alice", "role": "admin", "scp": [],
               "iss": "https://api.behest.ai", "aud": "behest", "iat": NOW, "nbf": NOW, "exp": NOW + 3600,
               "jti": "j", "sid": "s", "tier": 2})
    }
    fn global(&self, header: Value, claims: &Value) -> String {
        self.state
            .config
            .global_key
            .sign_jwt(&header, claims)
            .unwrap_or_default()
    }
    fn header(&self) -> Value {
        json!({"alg": "RS256", "kid": self.state.config.global_kid, "typ": "JWT"})
    }
    fn with(&self, key: &str, value: Value) -> String {
        self.with_all(self.header(), &[(key, value)])
    }
    /// The claims with every change of `changes` applied, signed under `header`.
    fn with_all(&self, header: Value, changes: &[(&str, Value)]) -> String {
        let mut c = self.claims();
        for (key, value) in changes {
            c[*key] = value.clone();
        }
        self.global(header, &c)
    }
    fn without(&self, key: &str) -> String {
        let mut c = self.claims();
        if let Some(map) = c.as_object_mut() {
            map.remove(key);
        }
        self.global(self.header(), &c)
    }
    fn check(&self, token: &str) -> std::result::Result<Verified, ApiError> {
        verify_token(
            &self.state.config,
            &self.state.keys,
            &self.state.config.projects[0],
            token,
            NOW,
        )
    }
}

fn status(r: &std::result::Result<Verified, ApiError>) -> u16 {
    match r {
        Ok(_) => 200,
        Err(e) => e.status.as_u16(),
    }
}

fn b64(v: &Value) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

#[test]
fn a_good_global_token_passes_with_its_claims() -> Result<()> {
    let f = fixture()?;
    let token = f.global(f.header(), &f.claims());
    let v = f
        .check(&token)
        .map_err(|e| crate::core::Error::Crypto(e.message))?;
    assert_eq!(v.claims.uid, "alice");
    assert_eq!(v.claims.role, "admin");
    assert!(!v.tenant_key);
    Ok(())
}

#[test]
fn tenant_key_tokens_are_forced_to_role_user() -> Result<()> {
    let f = fixture()?;
    let key = &f.state.config.tenant_keys[0].key;
    let token = key.sign_jwt(
        &json!({"alg": "RS256", "kid": f.tenant_kid, "typ": "JWT"}),
        &f.claims(),
    )?;
    let v = f
        .check(&token)
        .map_err(|e| crate::core::Error::Crypto(e.message))?;
    assert!(v.tenant_key);
    assert_eq!(v.claims.role, "user");
    // The tenant key cannot sign under the global kid.
    let forged = key.sign_jwt(&f.header(), &f.claims())?;
    assert_eq!(status(&f.check(&forged)), 401);
    Ok(())
}

#[test]
fn algorithm_and_kid_attacks_are_refused() -> Result<()> {
    let f = fixture()?;
    let claims = f.claims();
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "kid": f.state.config.global_kid})),
        b64(&claims)
    );
    let none_upper = format!(
        "{}.{}.",
        b64(&json!({"alg": "NONE", "kid": f.state.config.global_kid})),
        b64(&claims)
    );
    // HS256 signed with the RSA public key (SPKI PEM) as the HMAC secret.
    let public_pem = {
        use aws_lc_rs::encoding::AsDer as _;
        use aws_lc_rs::signature::KeyPair as _;
        let pem_text = f.state.config.global_key.private_pem();
        let block =
            pem::parse(pem_text.expose()).map_err(|e| crate::core::Error::Crypto(e.to_string()))?;
        let pair = aws_lc_rs::rsa::KeyPair::from_pkcs8(block.contents())
            .map_err(|e| crate::core::Error::Crypto(e.to_string()))?;
        let der = pair
            .public_key()
            .as_der()
            .map_err(|e| crate::core::Error::Crypto(e.to_string()))?;
        pem::encode(&pem::Pem::new("PUBLIC KEY", der.as_ref().to_vec()))
    };
    let mut hs_header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    hs_header.kid = Some(f.state.config.global_kid.clone());
    let hs256 = jsonwebtoken::encode(
        &hs_header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(public_pem.as_bytes()),
    )
    .map_err(|e| crate::core::Error::Crypto(e.to_string()))?;
    let kid = f.state.config.global_kid.clone();
    let cases: Vec<(&str, String)> = vec![
        ("alg none", none),
        ("alg NONE", none_upper),
        ("hs256 with public pem", hs256),
        (
            "rs512 header",
            f.global(json!({"alg": "RS512", "kid": kid}), &claims),
        ),
        (
            "es256 header",
            f.global(json!({"alg": "ES256", "kid": kid}), &claims),
        ),
        ("no kid", f.global(json!({"alg": "RS256"}), &claims)),
        (
            "unknown kid",
            f.global(json!({"alg": "RS256", "kid": "nope"}), &claims),
        ),
        (
            "path kid",
            f.global(json!({"alg": "RS256", "kid": "../../etc/passwd"}), &claims),
        ),
        (
            "sql kid",
            f.global(json!({"alg": "RS256", "kid": "' OR 1=1"}), &claims),
        ),
        (
            "numeric kid",
            f.global(json!({"alg": "RS256", "kid": 5}), &claims),
        ),
        (
            "jku",
            f.global(
                json!({"alg": "RS256", "kid": kid, "jku": "http://127.0.0.1:1/jwks"}),
                &claims,
            ),
        ),
        (
            "x5u",
            f.global(
                json!({"alg": "RS256", "kid": kid, "x5u": "http://127.0.0.1:1/x"}),
                &claims,
            ),
        ),
    ];
    for (name, token) in cases {
        assert_eq!(status(&f.check(&token)), 401, "{name}");
    }
    // A valid token with its payload swapped keeps a signature that no longer matches.
    let good = f.global(f.header(), &claims);
    let mut parts: Vec<String> = good.split('.').map(str::to_string).collect();
    let mut evil = claims.clone();
    evil["uid"] = json!("mallory");
    parts[1] = b64(&evil);
    assert_eq!(status(&f.check(&parts.join("."))), 401, "tampered payload");
    Ok(())
}

#[test]
fn time_and_claim_checks() -> Result<()> {
    let f = fixture()?;
    let cases: Vec<(&str, String, u16)> = vec![
        ("expired beyond leeway", f.with("exp", json!(NOW - 31)), 401),
        ("expired within leeway", f.with("exp", json!(NOW - 29)), 200),
        ("nbf in the future", f.with("nbf", json!(NOW + 31)), 401),
        ("nbf within leeway", f.with("nbf", json!(NOW + 29)), 200),
        (
            "exp as string (CVE-2026-25537)",
            f.with("exp", json!((NOW + 3600).to_string())),
            401,
        ),
        ("nbf as string", f.with("nbf", json!(NOW.to_string())), 401),
        ("iat as string", f.with("iat", json!(NOW.to_string())), 401),
        ("exp as float", f.with("exp", json!(1.8e9 + 3600.5)), 401),
        ("missing exp", f.without("exp"), 401),
        ("missing iat", f.without("iat"), 401),
        ("missing aud", f.without("aud"), 401),
        ("missing iss", f.without("iss"), 401),
        ("wrong aud", f.with("aud", json!("openai")), 401),
        ("aud as an array", f.with("aud", json!(["behest"])), 401),
        (
            "wrong iss",
            f.with("iss", json!("https://evil.example")),
            401,
        ),
        ("legacy iss", f.with("iss", json!("behest")), 200),
        (
            "docs iss",
            f.with("iss", json!("https://api.behest.app")),
            200,
        ),
        ("wrong tid", f.with("tid", json!("other")), 403),
        ("wrong pid", f.with("pid", json!("other")), 403),
        ("empty uid", f.with("uid", json!("")), 401),
        ("missing uid", f.without("uid"), 401),
        ("tier of a wrong type", f.with("tier", json!([2])), 401),
        (
            "over 8 KiB",
            f.with("pad", json!("x".repeat(8 * 1024))),
            401,
        ),
    ];
    for (name, token, want) in cases {
        assert_eq!(status(&f.check(&token)), want, "{name}");
    }
    assert_eq!(
        status(&f.check("behest_sk_live_0123456789abcdef0123456789abcdef")),
        401
    );
    assert_eq!(status(&f.check("a.b")), 401);
    assert_eq!(status(&f.check("not a token at all")), 401);
    Ok(())
}

#[test]
fn strict_issuer_mode_and_suspended_projects() -> Result<()> {
    let mut f = fixture()?;
    f.state.config.issuers = vec!["https://api.behest.app".into()];
    assert_eq!(
        status(&f.check(&f.with("iss", json!("https://api.behest.ai")))),
        401
    );
    assert_eq!(
        status(&f.check(&f.with("iss", json!("https://api.behest.app")))),
        200
    );
    f.state.config.max_token_lifetime_secs = Some(900);
    assert_eq!(
        status(&f.check(&f.with("iss", json!("https://api.behest.app")))),
        401,
        "3600 s > 900 s"
    );
    let short = f.with("exp", json!(NOW + 900));
    f.state.config.issuers = vec!["https://api.behest.ai".into()];
    assert_eq!(status(&f.check(&short)), 200);
    f.state.config.issuers = vec!["https://api.behest.app".into()];
    f.state.config.max_token_lifetime_secs = None;
    f.state.config.projects[0].suspended = true;
    let token = f.with("iss", json!("https://api.behest.app"));
    let r = verify_token(
        &f.state.config,
        &f.state.keys,
        &f.state.config.projects[0],
        &token,
        NOW,
    );
    assert_eq!(r.err().map(|e| e.status), Some(StatusCode::FORBIDDEN));
    Ok(())
}

#[test]
fn removed_kids_fail_immediately() -> Result<()> {
    let f = fixture()?;
    let key = RsaKey::generate()?;
    f.state.keys.add("kid_rot", &key, true)?;
    let token = key.sign_jwt(&json!({"alg": "RS256", "kid": "kid_rot"}), &f.claims())?;
    assert_eq!(status(&f.check(&token)), 200);
    assert!(f.state.keys.remove("kid_rot"));
    assert_eq!(status(&f.check(&token)), 401);
    Ok(())
}

fn message(r: &std::result::Result<Verified, ApiError>) -> String {
    r.as_ref()
        .err()
        .map(|e| e.message.clone())
        .unwrap_or_default()
}

#[test]
fn with_two_faults_the_first_in_section_16_order_wins() -> Result<()> {
    let f = fixture()?;
    let kid = f.state.config.global_kid.clone();
    let good = || json!({"alg": "RS256", "kid": kid});
    // Step 3 (expired) before step 5 (tenant): 401, not 403.
    let r = f.check(&f.with_all(
        good(),
        &[("exp", json!(NOW - 3600)), ("tid", json!("other"))],
    ));
    assert_eq!(status(&r), 401, "expired + wrong tid");
    assert!(message(&r).contains("expired"), "{}", message(&r));
    // Step 3 (not yet valid) before step 5 (project).
    let r = f.check(&f.with_all(
        good(),
        &[("nbf", json!(NOW + 3600)), ("pid", json!("other"))],
    ));
    assert_eq!(status(&r), 401, "future nbf + wrong pid");
    // Step 4 (audience) before step 5 (tenant).
    let r = f.check(&f.with_all(good(), &[("aud", json!("openai")), ("tid", json!("other"))]));
    assert_eq!(status(&r), 401, "wrong aud + wrong tid");
    assert!(message(&r).contains("audience"), "{}", message(&r));
    // Step 2 (algorithm) before the kid lookup in the same step.
    let r = f.check(&f.with_all(json!({"alg": "RS512", "kid": "nope"}), &[]));
    assert!(message(&r).contains("algorithm"), "{}", message(&r));
    // Step 2 (kid) before step 3 (expiry).
    let r = f.check(&f.with_all(
        json!({"alg": "RS256", "kid": "nope"}),
        &[("exp", json!(NOW - 3600))],
    ));
    assert!(
        message(&r).contains("unknown signing key"),
        "{}",
        message(&r)
    );
    // Step 2 (signature) before step 3: a wrong key signing an expired token.
    let other = RsaKey::generate()?;
    let mut c = f.claims();
    c["exp"] = json!(NOW - 3600);
    let r = f.check(&other.sign_jwt(&good(), &c)?);
    assert!(message(&r).contains("signature"), "{}", message(&r));
    // Step 3 (expiry) before step 4 (issuer).
    let r = f.check(&f.with_all(
        good(),
        &[
            ("exp", json!(NOW - 3600)),
            ("iss", json!("https://evil.example")),
        ],
    ));
    assert!(message(&r).contains("expired"), "{}", message(&r));
    // Step 5 (tenant) before step 6 (user).
    let r = f.check(&f.with_all(good(), &[("tid", json!("other")), ("uid", json!(""))]));
    assert_eq!(status(&r), 403, "wrong tid + empty uid");
    // Step 1 (shape) before everything: an API key is refused as such.
    let r = f.check("behest_sk_live_0123456789abcdef0123456789abcdef");
    assert!(message(&r).contains("api key"), "{}", message(&r));
    Ok(())
}

#[test]
fn exp_equal_to_now_is_expired_without_leeway() -> Result<()> {
    let mut f = fixture()?;
    f.state.config.leeway_secs = 0;
    let at = |exp: i64| f.check(&f.with("exp", json!(exp)));
    assert_eq!(status(&at(NOW + 1)), 200, "exp one second ahead");
    let r = at(NOW);
    assert_eq!(status(&r), 401, "exp == now: §16 wants exp > now");
    assert_eq!(r.as_ref().err().map(|e| e.code), Some("invalid_token"));
    assert!(message(&r).contains("expired"), "{}", message(&r));
    assert_eq!(status(&at(NOW - 1)), 401);
    // nbf == now is valid (nbf ≤ now); one second later is not.
    assert_eq!(status(&f.check(&f.with("nbf", json!(NOW)))), 200);
    assert_eq!(status(&f.check(&f.with("nbf", json!(NOW + 1)))), 401);
    // With a leeway of 30 s the boundary moves by exactly 30 s.
    f.state.config.leeway_secs = 30;
    assert_eq!(status(&f.check(&f.with("exp", json!(NOW - 29)))), 200);
    assert_eq!(status(&f.check(&f.with("exp", json!(NOW - 30)))), 401);
    Ok(())
}
