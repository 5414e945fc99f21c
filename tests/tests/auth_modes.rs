//! Each auth mode end to end against the local gateway over loopback: the token is obtained,
//! has the right shape, and the gateway accepts it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth_support;

use std::sync::Arc;

use auth_support::{
    count, gateway, openssl_pkcs1_pem, requests_to, session, use_token, CountingStore, Mode,
};
use base64::Engine as _;
use behest_desktop::core::auth::{LocalSigner, MintDefaults, MintParams, Minted, SystemClock};
use behest_desktop::core::config::{Config, Settings, SigningConfig, StoredSecrets};
use behest_desktop::core::gateway::GatewayHandle;
use behest_desktop::core::keys::RsaKey;
use behest_desktop::core::protocol::claims::inspect;
use behest_desktop::core::redact::Secret;
use behest_desktop::core::token::{Bearer, TokenSource};

/// A gateway and a token a `mode` session (which must report `name`) obtained from it, which
/// the gateway accepted.
async fn accepted_bearer(mode: Mode, name: &str) -> (GatewayHandle, Bearer) {
    let gw = gateway().await;
    let s = session(mode, &gw, Arc::new(CountingStore::default())).unwrap();
    assert_eq!(s.mode(), name);
    let bearer = s.bearer().await.unwrap();
    assert_eq!(use_token(&gw, &bearer).await, 200, "{name}: token accepted");
    (gw, bearer)
}

/// `minted` as a bearer (no expiry kept).
fn bearer_of(minted: Minted) -> Bearer {
    Bearer {
        token: minted.token,
        session_id: minted.session_id,
        expires_at: None,
    }
}

#[tokio::test]
async fn token_endpoint_mode_end_to_end() {
    let (gw, bearer) = accepted_bearer(Mode::TokenEndpoint, "tokenEndpoint").await;
    let calls = requests_to(&gw, "/api/behest/token");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].method, "POST");
    // The client never tells the endpoint who the user is or which tier.
    assert!(
        !calls[0].body.contains("user") && !calls[0].body.contains("tier"),
        "{}",
        calls[0].body
    );
    let claims = inspect(bearer.token.expose()).unwrap().claims;
    assert_eq!(claims["uid"], gw.credentials().session_user_id.as_str());
    assert_eq!(bearer.session_id.as_deref(), claims["sid"].as_str());
}

#[tokio::test]
async fn api_key_mode_end_to_end() {
    let (gw, bearer) = accepted_bearer(Mode::ApiKey, "apiKey").await;
    let mint = requests_to(&gw, "/v1/auth/mint");
    assert_eq!(mint.len(), 1);
    let body: serde_json::Value = serde_json::from_str(&mint[0].body).unwrap();
    assert_eq!(body["user_id"], "default");
    assert_eq!(body["role"], "user");
    assert_eq!(body["ttl"], 3600);
    let sent_session = body["session_id"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(sent_session).is_ok());
    assert_eq!(
        bearer.session_id.as_deref(),
        Some(sent_session),
        "the session id is echoed and kept"
    );
    assert!(body.get("tier").is_none());
    let exp = inspect(bearer.token.expose()).unwrap().exp();
    assert_eq!(bearer.expires_at, exp);
}

#[tokio::test]
async fn local_sign_mode_end_to_end() {
    let (gw, bearer) = accepted_bearer(Mode::LocalSign, "localSign").await;
    assert_eq!(
        count(&gw, "/v1/auth/mint") + count(&gw, "/api/behest/token"),
        0,
        "no network mint"
    );
    let parts = inspect(bearer.token.expose()).unwrap();
    assert_eq!(parts.header["kid"], gw.credentials().kid.as_str());
    assert_eq!(parts.claims["tid"], gw.credentials().tenant_id.as_str());
}

#[tokio::test]
async fn demo_mode_end_to_end() {
    let (_gw, _bearer) = accepted_bearer(Mode::Demo, "demo").await;
}

/// PKCS#1 keys (as openssl writes them) work in both accepted forms: bare base64 and
/// `behest_pk_` + raw PEM.
#[tokio::test]
async fn pkcs1_signing_keys_are_accepted() {
    let gw = gateway().await;
    let pem = openssl_pkcs1_pem();
    let key = RsaKey::from_pem(&pem).unwrap();
    gw.add_tenant_key("kid_pkcs1", &key).unwrap();
    let c = gw.credentials();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&pem);
    for form in [
        b64.clone(),
        format!("behest_pk_{pem}"),
        format!("behest_pk_{b64}"),
    ] {
        let env = behest_desktop::core::config::Env::from_pairs([
            ("BEHEST_KEY", form.as_str()),
            ("BEHEST_BASE_URL", c.base_url.as_str()),
            ("BEHEST_KID", "kid_pkcs1"),
            ("BEHEST_TENANT_ID", c.tenant_id.as_str()),
            ("BEHEST_PROJECT_ID", c.project_id.as_str()),
        ]);
        let config =
            Config::resolve(&env, &Settings::default(), &StoredSecrets::default()).unwrap();
        let minter = behest_desktop::core::auth::minter_for(
            &config,
            None,
            behest_desktop::core::http::shared_client().unwrap(),
            Arc::new(SystemClock),
        )
        .unwrap();
        let minted = minter
            .mint(&MintParams {
                user_id: Some("pk1".into()),
                ..MintParams::default()
            })
            .await
            .unwrap();
        assert_eq!(use_token(&gw, &bearer_of(minted)).await, 200);
    }
}

/// A 2048-bit PKCS#8 key from the gateway signs tokens the gateway verifies, through the
/// public `LocalSigner` API.
#[tokio::test]
async fn local_signer_tokens_verify_at_the_gateway() {
    let gw = gateway().await;
    let c = gw.credentials();
    let signing = SigningConfig {
        pem: c.signing_key_pem.clone(),
        kid: c.kid.clone(),
        tenant_id: c.tenant_id.clone(),
        project_id: c.project_id.clone(),
    };
    let defaults = MintDefaults {
        user_id: "alice".into(),
        ttl: 600,
        tier: None,
    };
    let signer = LocalSigner::new(
        "localSign",
        &signing,
        &c.base_url,
        "https://api.behest.ai",
        "behest",
        defaults,
        Arc::new(SystemClock),
    )
    .unwrap();
    let minted = signer.sign(&MintParams::default()).unwrap();
    let bearer = bearer_of(minted);
    assert_eq!(use_token(&gw, &bearer).await, 200);
    let forged = Bearer {
        token: Secret::new(format!("{}x", bearer.token.expose())),
        ..bearer
    };
    assert_eq!(use_token(&gw, &forged).await, 401);
}
