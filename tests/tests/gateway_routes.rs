//! The identity and service routes of the local gateway over loopback: mint (both paths, both
//! field families, validation, envelopes), JWKS, models, the example token endpoint, trace ids.
//! Chat, sessions, threads and usage are in `gateway_chat.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod gateway_support;

use behest_desktop::core::protocol::claims::inspect;
use gateway_support::*;
use serde_json::{json, Value};

#[tokio::test]
async fn mint_answers_both_field_families_with_sdk_claims() {
    let gw = start(|_| {}).await;
    let creds = gw.credentials();
    let body =
        json!({"user_id": "alice", "role": "user", "ttl": 900, "session_id": "sess-1", "tier": 2});
    let m = mint_json(&gw, body).await;
    assert_eq!(m["jwt"], m["access_token"]);
    assert_eq!(m["token_type"], "Bearer");
    assert_eq!(
        (m["ttl"].as_u64(), m["expires_in"].as_u64()),
        (Some(900), Some(900))
    );
    assert_eq!(m["session_id"], "sess-1");
    assert_eq!(m["project_id"], creds.project_id.as_str());
    let token = m["jwt"].as_str().unwrap();
    let i = inspect(token).unwrap();
    assert_eq!(
        i.header,
        json!({"alg": "RS256", "kid": "behest-global-1", "typ": "JWT"})
    );
    let keys: Vec<&str> = i
        .claims
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    let mut want = vec![
        "tid", "pid", "uid", "role", "scp", "iss", "aud", "iat", "nbf", "exp", "jti", "sid", "tier",
    ];
    want.sort_unstable();
    assert_eq!(sorted, want);
    let c = &i.claims;
    assert_eq!(
        (c["tid"].as_str(), c["pid"].as_str()),
        (
            Some(creds.tenant_id.as_str()),
            Some(creds.project_id.as_str())
        )
    );
    assert_eq!(
        (c["uid"].as_str(), c["aud"].as_str(), c["sid"].as_str()),
        (Some("alice"), Some("behest"), Some("sess-1"))
    );
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 900);
    assert_eq!(c["nbf"], c["iat"]);
    assert_eq!(c["tier"], 2);
    assert!(c.get("sub").is_none());
    // The minted token works on chat, and a generated session id appears when none is sent.
    let m2 = mint_json(&gw, json!({"user_id": "bob"})).await;
    assert_eq!(m2["ttl"], 3600);
    assert!(m2["session_id"].as_str().is_some_and(|s| s.len() >= 32));
    assert_eq!(
        chat(&gw, token, &chat_body("hi", false)).await.status(),
        200
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn mint_validation_and_envelopes_per_path() {
    let gw = start(|_| {}).await;
    let key = gw.credentials().api_key;
    let c = client();
    let post = |path: &str, bearer: Option<&str>, body: &str| {
        let mut r = c
            .post(format!("{}{path}", gw.base_url()))
            .body(body.to_string());
        if let Some(b) = bearer {
            r = r.bearer_auth(b);
        }
        r.send()
    };
    // Nested envelope on /v1/auth/mint.
    let r = post(
        "/v1/auth/mint",
        Some(key.expose()),
        r#"{"user_id":"admin"}"#,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers().contains_key("x-trace-id"));
    assert_eq!(
        code(&r.json::<Value>().await.unwrap()),
        Some("validation_error")
    );
    for body in [
        r#"{"user_id":"a","ttl":10}"#,
        r#"{"user_id":"a","role":"root"}"#,
        "not json",
        "",
    ] {
        let r = post("/v1/auth/mint", Some(key.expose()), body)
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "body {body}");
    }
    let wrong = "behest_sk_live_ffffffffffffffffffffffffffffffff";
    for bearer in [None, Some("nope"), Some(wrong)] {
        let r = post("/v1/auth/mint", bearer, r#"{"user_id":"a"}"#)
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        assert_eq!(
            code(&r.json::<Value>().await.unwrap()),
            Some("invalid_token")
        );
    }
    // Flat envelope on the auth-service alias, which mints the same way.
    let r = post("/auth/v1/auth/mint", Some(wrong), r#"{"user_id":"a"}"#)
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let flat: Value = r.json().await.unwrap();
    assert_eq!(
        (flat["code"].as_str(), flat["retryable"].as_bool()),
        (Some("invalid_token"), Some(false))
    );
    assert!(flat["error"].is_string());
    let r = post(
        "/auth/v1/auth/mint",
        Some(key.expose()),
        r#"{"user_id":"a","role":"regular"}"#,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let m: Value = r.json().await.unwrap();
    assert_eq!(
        inspect(m["access_token"].as_str().unwrap()).unwrap().claims["role"],
        "user"
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn jwks_lists_global_and_tenant_keys_and_models_need_a_token() {
    let gw = start(|c| c.projects[0].models = vec!["other-model".into()]).await;
    let jwks = get_json(&gw, "/.well-known/jwks.json").await;
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k["kid"].as_str())
        .collect();
    assert_eq!(kids, vec!["behest-global-1", gw.credentials().kid.as_str()]);
    for k in jwks["keys"].as_array().unwrap() {
        assert_eq!(
            (k["kty"].as_str(), k["use"].as_str(), k["alg"].as_str()),
            (Some("RSA"), Some("sig"), Some("RS256"))
        );
        assert!(k["n"].as_str().is_some_and(|n| n.len() > 300) && k["e"] == "AQAB");
    }
    let models = client()
        .get(format!("{}/v1/models", gw.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(models.status(), 401);
    let t = token(&gw, "alice", None).await;
    let models = json_of(
        client()
            .get(format!("{}/v1/models", gw.base_url()))
            .bearer_auth(&t),
    )
    .await;
    assert_eq!(models["object"], "list");
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert_eq!(ids, vec!["behest-local-demo", "other-model"]);
    // Unknown model → 400; a listed one is used.
    let bad = chat(
        &gw,
        &t,
        &json!({"model": "gpt-9", "messages": [{"role": "user", "content": "x"}]}),
    )
    .await;
    assert_eq!(bad.status(), 400);
    let ok: Value = chat(
        &gw,
        &t,
        &json!({"model": "other-model", "messages": [{"role": "user", "content": "x"}]}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(ok["model"], "other-model");
    gw.shutdown().await;
}

#[tokio::test]
async fn example_token_endpoint_maps_sessions_server_side() {
    let gw = start(|_| {}).await;
    let creds = gw.credentials();
    let c = client();
    let r = c
        .post(&creds.token_url)
        .bearer_auth(creds.session_token.expose())
        .header("x-end-user-id", "mallory")
        .json(&json!({"user_id": "mallory", "tier": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.unwrap();
    let keys: Vec<&str> = b.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 4);
    assert!(["token", "ttl", "sessionId", "expiresAt"]
        .iter()
        .all(|k| keys.contains(k)));
    let claims = inspect(b["token"].as_str().unwrap()).unwrap().claims;
    assert_eq!(
        (claims["uid"].as_str(), claims["tier"].as_i64()),
        (Some("demo-user"), Some(2))
    );
    assert_eq!(claims["sid"], b["sessionId"]);
    assert_eq!(b["expiresAt"].as_i64(), claims["exp"].as_i64());
    assert_eq!(
        chat(&gw, b["token"].as_str().unwrap(), &chat_body("hi", false))
            .await
            .status(),
        200
    );
    for bearer in [None, Some("sess_unknown")] {
        let mut req = c.post(&creds.token_url);
        if let Some(b) = bearer {
            req = req.bearer_auth(b);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 401);
        assert_eq!(code(&r.json().await.unwrap()), Some("invalid_token"));
    }
    gw.shutdown().await;
}

#[tokio::test]
async fn every_answer_carries_a_trace_id_including_errors_and_unknown_routes() {
    let gw = start(|_| {}).await;
    let c = client();
    let base = gw.base_url();
    let answers = vec![
        c.get(format!("{base}/nope")).send().await.unwrap(),
        c.put(format!("{base}/v1/chat/completions"))
            .send()
            .await
            .unwrap(),
        c.post(format!("{base}/v1/chat/completions"))
            .send()
            .await
            .unwrap(),
        c.get(format!("{base}/.well-known/jwks.json"))
            .send()
            .await
            .unwrap(),
        c.request(
            reqwest::Method::OPTIONS,
            format!("{base}/v1/chat/completions"),
        )
        .send()
        .await
        .unwrap(),
    ];
    let statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses, vec![404, 405, 401, 200, 204]);
    let mut seen = std::collections::HashSet::new();
    for r in &answers {
        let t = r
            .headers()
            .get("x-trace-id")
            .and_then(|v| v.to_str().ok())
            .unwrap()
            .to_string();
        assert_eq!(
            r.headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok()),
            Some(t.as_str())
        );
        assert!(seen.insert(t), "trace ids are unique");
    }
    let recorded: Vec<String> = gw.requests().iter().map(|r| r.trace_id.clone()).collect();
    assert!(seen.iter().all(|t| recorded.contains(t)));
    gw.shutdown().await;
}
