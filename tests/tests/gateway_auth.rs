//! Token verification over loopback (§16 order, reliability bar C1–C3): every forged, stale or
//! misdirected token is refused with the documented status and envelope; JWKS rotation bites
//! at once; an API key is no chat bearer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod gateway_support;

use base64::Engine as _;
use gateway_support::*;
use serde_json::{json, Value};

fn b64(v: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

/// One DER element: tag, length, contents.
fn der(tag: u8, contents: &[u8]) -> Vec<u8> {
    let len = contents.len();
    let mut out = vec![tag];
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(contents);
    out
}

/// A DER INTEGER of an unsigned big-endian number.
fn der_uint(n: &[u8]) -> Vec<u8> {
    let mut n: Vec<u8> = n.iter().copied().skip_while(|b| *b == 0).collect();
    if n.first().is_none_or(|b| b & 0x80 != 0) {
        n.insert(0, 0);
    }
    der(0x02, &n)
}

fn pem(label: &str, der: &[u8]) -> String {
    let text = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = text
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// The public key of `kid` as an attacker rebuilds it from the served JWKS: PEM texts in the
/// usual encodings (SPKI `PUBLIC KEY` with and without the final newline, PKCS#1
/// `RSA PUBLIC KEY`), to try as an HMAC secret.
async fn public_pems(gw: &behest_desktop::core::gateway::GatewayHandle, kid: &str) -> Vec<String> {
    let jwks = get_json(gw, "/.well-known/jwks.json").await;
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .expect("the kid is served");
    let part = |name: &str| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(jwk[name].as_str().unwrap())
            .unwrap()
    };
    let pkcs1 = der(0x30, &[der_uint(&part("n")), der_uint(&part("e"))].concat());
    // AlgorithmIdentifier { rsaEncryption (1.2.840.113549.1.1.1), NULL }.
    let algorithm = der(
        0x30,
        &[
            der(
                0x06,
                &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01],
            ),
            der(0x05, &[]),
        ]
        .concat(),
    );
    let spki = der(
        0x30,
        &[algorithm, der(0x03, &[&[0u8][..], &pkcs1].concat())].concat(),
    );
    let spki_pem = pem("PUBLIC KEY", &spki);
    vec![
        spki_pem.clone(),
        spki_pem.trim_end().to_string(),
        pem("RSA PUBLIC KEY", &pkcs1),
    ]
}

async fn status_and_code(
    gw: &behest_desktop::core::gateway::GatewayHandle,
    token: &str,
) -> (u16, Option<String>) {
    let r = chat(gw, token, &chat_body("hi", false)).await;
    let status = r.status().as_u16();
    assert!(r.headers().contains_key("x-trace-id"));
    let body: Value = r.json().await.unwrap_or(Value::Null);
    (status, code(&body).map(str::to_string))
}

#[tokio::test]
async fn forged_and_invalid_tokens_are_refused() {
    let gw = start(|_| {}).await;
    let kid = gw.credentials().kid;
    let header = json!({"alg": "RS256", "kid": kid, "typ": "JWT"});
    let good = tenant_claims(&gw, "alice");
    let now = gw.now();
    let with = |k: &str, v: Value| {
        let mut c = good.clone();
        c[k] = v;
        sign_tenant(&gw, &header, &c)
    };
    let without = |k: &str| {
        let mut c = good.clone();
        c.as_object_mut().unwrap().remove(k);
        sign_tenant(&gw, &header, &c)
    };
    // Algorithm confusion: HS256 keyed with the RSA public key's PEM text, which a verifier that
    // trusts the header's alg would accept as an HMAC secret.
    let mut hs = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    hs.kid = Some(kid.clone());
    let pems = public_pems(&gw, &kid).await;
    let hs256: Vec<String> = pems
        .iter()
        .map(|pem| {
            jsonwebtoken::encode(
                &hs,
                &good,
                &jsonwebtoken::EncodingKey::from_secret(pem.as_bytes()),
            )
            .unwrap()
        })
        .collect();
    let valid = sign_tenant(&gw, &header, &good);
    let mut tampered: Vec<String> = valid.split('.').map(str::to_string).collect();
    let mut evil = good.clone();
    evil["uid"] = json!("mallory");
    tampered[1] = b64(&evil);
    let cases: Vec<(&str, String, u16, &str)> = vec![
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(&json!({"alg": "none", "kid": kid})),
                b64(&good)
            ),
            401,
            "invalid_token",
        ),
        (
            "rs512 header",
            sign_tenant(&gw, &json!({"alg": "RS512", "kid": kid}), &good),
            401,
            "invalid_token",
        ),
        (
            "es256 header",
            sign_tenant(&gw, &json!({"alg": "ES256", "kid": kid}), &good),
            401,
            "invalid_token",
        ),
        (
            "unknown kid",
            sign_tenant(&gw, &json!({"alg": "RS256", "kid": "kid_nope"}), &good),
            401,
            "invalid_token",
        ),
        (
            "hostile kid",
            sign_tenant(
                &gw,
                &json!({"alg": "RS256", "kid": "../../etc/passwd"}),
                &good,
            ),
            401,
            "invalid_token",
        ),
        (
            "sql kid",
            sign_tenant(&gw, &json!({"alg": "RS256", "kid": "' OR 1=1"}), &good),
            401,
            "invalid_token",
        ),
        (
            "jku header",
            sign_tenant(
                &gw,
                &json!({"alg": "RS256", "kid": kid, "jku": "http://127.0.0.1:9/k"}),
                &good,
            ),
            401,
            "invalid_token",
        ),
        ("tampered payload", tampered.join("."), 401, "invalid_token"),
        (
            "expired",
            with("exp", json!(now - 120)),
            401,
            "invalid_token",
        ),
        (
            "not yet valid",
            with("nbf", json!(now + 600)),
            401,
            "invalid_token",
        ),
        (
            "string exp",
            with("exp", json!((now + 3600).to_string())),
            401,
            "invalid_token",
        ),
        ("missing exp", without("exp"), 401, "invalid_token"),
        ("missing iat", without("iat"), 401, "invalid_token"),
        (
            "wrong aud",
            with("aud", json!("openai")),
            401,
            "invalid_token",
        ),
        ("missing aud", without("aud"), 401, "invalid_token"),
        (
            "wrong iss",
            with("iss", json!("https://evil.example")),
            401,
            "invalid_token",
        ),
        ("empty uid", with("uid", json!("")), 401, "invalid_token"),
        (
            "over 8 KiB",
            with("pad", json!("p".repeat(9000))),
            401,
            "invalid_token",
        ),
        (
            "wrong tid",
            with("tid", json!("ten_other")),
            403,
            "forbidden",
        ),
        (
            "wrong pid",
            with("pid", json!("prj_other")),
            403,
            "forbidden",
        ),
        (
            "api key as bearer",
            gw.credentials().api_key.expose().to_string(),
            401,
            "invalid_token",
        ),
        ("two parts", "abc.def".to_string(), 401, "invalid_token"),
        ("garbage", "%%%".to_string(), 401, "invalid_token"),
    ];
    for (name, token, status, code) in cases {
        assert_eq!(
            status_and_code(&gw, &token).await,
            (status, Some(code.to_string())),
            "{name}"
        );
    }
    // Each PEM really is the tenant's public key (it verifies the valid RS256 token), and HS256
    // keyed with its text is refused.
    let mut rs256 = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    rs256.validate_aud = false;
    for (pem, forged) in pems.iter().zip(&hs256) {
        let key = jsonwebtoken::DecodingKey::from_rsa_pem(pem.as_bytes()).unwrap();
        assert!(
            jsonwebtoken::decode::<Value>(&valid, &key, &rs256).is_ok(),
            "{pem}"
        );
        assert_eq!(
            status_and_code(&gw, forged).await,
            (401, Some("invalid_token".to_string())),
            "hs256 keyed with the public key pem {pem:?}"
        );
    }
    // No bearer at all, and a non-bearer scheme.
    let r = client()
        .post(format!("{}/v1/chat/completions", gw.base_url()))
        .json(&chat_body("x", false))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = client()
        .post(format!("{}/v1/chat/completions", gw.base_url()))
        .header("authorization", format!("Basic {valid}"))
        .json(&chat_body("x", false))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // The untouched token passes, its role forced to user; nothing failed was recorded with claims.
    let mut admin = good.clone();
    admin["role"] = json!("admin");
    assert_eq!(
        status_and_code(&gw, &sign_tenant(&gw, &header, &admin))
            .await
            .0,
        200
    );
    let ok: Vec<_> = gw
        .requests()
        .into_iter()
        .filter(|r| r.claims.is_some())
        .collect();
    assert_eq!(ok.len(), 1);
    assert_eq!(ok[0].claims.as_ref().map(|c| c.role.as_str()), Some("user"));
    gw.shutdown().await;
}

#[tokio::test]
async fn removing_a_kid_kills_its_tokens_immediately() {
    let gw = start(|_| {}).await;
    let kid = gw.credentials().kid;
    let token = sign_tenant(
        &gw,
        &json!({"alg": "RS256", "kid": kid, "typ": "JWT"}),
        &tenant_claims(&gw, "alice"),
    );
    let minted = token_of(&gw).await;
    assert_eq!(status_and_code(&gw, &token).await.0, 200);
    assert!(gw.remove_kid(&kid));
    assert_eq!(status_and_code(&gw, &token).await.0, 401);
    let jwks = get_json(&gw, "/.well-known/jwks.json").await;
    assert!(jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .all(|k| k["kid"] != kid.as_str()));
    // Global-key tokens are unaffected.
    assert_eq!(status_and_code(&gw, &minted).await.0, 200);
    gw.shutdown().await;
}

async fn token_of(gw: &behest_desktop::core::gateway::GatewayHandle) -> String {
    token(gw, "alice", None).await
}

#[tokio::test]
async fn leeway_and_strict_issuer_are_configurable() {
    let gw = start(|c| {
        c.leeway_secs = 0;
        c.issuers = vec!["https://api.behest.app".into()];
    })
    .await;
    let header = json!({"alg": "RS256", "kid": gw.credentials().kid});
    let mut c = tenant_claims(&gw, "alice");
    c["exp"] = json!(gw.now() - 2);
    c["iss"] = json!("https://api.behest.app");
    assert_eq!(
        status_and_code(&gw, &sign_tenant(&gw, &header, &c)).await.0,
        401
    );
    c["exp"] = json!(gw.now() + 60);
    assert_eq!(
        status_and_code(&gw, &sign_tenant(&gw, &header, &c)).await.0,
        200
    );
    c["iss"] = json!("https://api.behest.ai");
    assert_eq!(
        status_and_code(&gw, &sign_tenant(&gw, &header, &c)).await.0,
        401
    );
    gw.shutdown().await;
    // A leeway over 60 s is refused at start.
    let mut config = behest_desktop::core::gateway::GatewayConfig::demo().unwrap();
    config.leeway_secs = 61;
    let err = behest_desktop::core::gateway::Gateway::spawn(config, loopback())
        .await
        .err();
    assert!(matches!(
        err,
        Some(behest_desktop::core::Error::InvalidSettings { .. })
    ));
}

#[tokio::test]
async fn host_slug_selects_the_project() {
    let gw = start(|c| {
        let mut other = c.projects[0].clone();
        other.slug = "amber-fox-042".into();
        other.project_id = "prj_other".into();
        c.projects.push(other);
    })
    .await;
    let t = token(&gw, "alice", None).await; // minted for the first project
    let port = gw.addr().port();
    let send = |host: String| {
        client()
            .post(format!("{}/v1/chat/completions", gw.base_url()))
            .header("host", host)
            .bearer_auth(&t)
            .json(&chat_body("x", false))
            .send()
    };
    assert_eq!(
        send(format!("demo.localhost:{port}"))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        send(format!("amber-fox-042.localhost:{port}"))
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        send(format!("unknown.localhost:{port}"))
            .await
            .unwrap()
            .status(),
        404
    );
    gw.shutdown().await;
}
