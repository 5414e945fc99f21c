//! Every route of the local gateway over loopback: mint (both paths, both field families,
//! validation, envelopes), JWKS, models, chat (JSON and exact SSE framing), sessions, threads,
//! usage (both shapes), the example token endpoint, trace ids.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod gateway_support;

use behest_desktop::core::gateway::SessionSource;
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
    let models: Value = client()
        .get(format!("{}/v1/models", gw.base_url()))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
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
async fn non_streaming_chat_is_an_openai_completion_quoting_the_user() {
    let gw = start(|_| {}).await;
    let t = token(&gw, "alice", Some(2)).await;
    let r = chat(&gw, &t, &chat_body("What is 2+2?", false)).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("x-trace-id").is_some());
    assert_eq!(
        r.headers().get("x-trace-id"),
        r.headers().get("x-request-id")
    );
    let c: Value = r.json().await.unwrap();
    assert_eq!(c["object"], "chat.completion");
    assert!(c["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(c["choices"][0]["message"]["role"], "assistant");
    assert_eq!(c["choices"][0]["finish_reason"], "stop");
    let text = c["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(text.contains("> What is 2+2?") && text.contains("local demo gateway"));
    let u = &c["usage"];
    assert_eq!(
        u["total_tokens"].as_u64(),
        Some(u["prompt_tokens"].as_u64().unwrap() + u["completion_tokens"].as_u64().unwrap())
    );
    assert!(u["completion_tokens"].as_u64().unwrap() > 20);
    gw.shutdown().await;
}

#[tokio::test]
async fn streaming_chat_is_framed_exactly() {
    let gw = start(|_| {}).await;
    let t = token(&gw, "alice", None).await;
    let mut body = chat_body("stream please", true);
    body["stream_options"] = json!({"include_usage": true});
    let r = chat(&gw, &t, &body).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    assert_eq!(r.headers()["cache-control"], "no-cache");
    let raw = r.text().await.unwrap();
    assert!(!raw.contains('\r'), "LF framing only");
    assert!(raw.ends_with("data: [DONE]\n\n"));
    let payloads = sse_payloads(&raw);
    let events: Vec<Value> = payloads[..payloads.len() - 1]
        .iter()
        .map(|p| serde_json::from_str(p).unwrap())
        .collect();
    assert_eq!(events[0]["choices"][0]["delta"]["role"], "assistant");
    let ids: std::collections::HashSet<&str> =
        events.iter().filter_map(|e| e["id"].as_str()).collect();
    assert_eq!(ids.len(), 1);
    let usage = events.last().unwrap();
    assert_eq!(usage["choices"], json!([]));
    let content_events = &events[1..events.len() - 1];
    let last = content_events.last().unwrap();
    assert_eq!(last["choices"][0]["finish_reason"], "stop");
    assert!(content_events[..content_events.len() - 1]
        .iter()
        .all(|e| e["choices"][0]["finish_reason"].is_null()));
    let text: String = content_events
        .iter()
        .filter_map(|e| e["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert!(text.contains("> stream please"));
    assert_eq!(
        usage["usage"]["completion_tokens"].as_u64(),
        Some(content_events.len() as u64)
    );
    // Without include_usage there is no usage chunk.
    let raw = chat(&gw, &t, &chat_body("x", true))
        .await
        .text()
        .await
        .unwrap();
    assert!(!raw.contains("\"usage\""));
    gw.shutdown().await;
}

#[tokio::test]
async fn session_header_wins_over_sid_and_is_recorded() {
    let gw = start(|_| {}).await;
    let m = mint_json(&gw, json!({"user_id": "alice", "session_id": "from-claim"})).await;
    let t = m["jwt"].as_str().unwrap();
    let c = client();
    let url = format!("{}/v1/chat/completions", gw.base_url());
    let r = c
        .post(&url)
        .bearer_auth(t)
        .header("x-session-id", "from-header")
        .json(&chat_body("a", false))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    chat(&gw, t, &chat_body("b", false)).await;
    let chats: Vec<_> = gw
        .requests()
        .into_iter()
        .filter(|r| r.path == "/v1/chat/completions")
        .collect();
    let s0 = chats[0].session.clone().unwrap();
    let s1 = chats[1].session.clone().unwrap();
    assert_eq!(
        (s0.id.as_str(), s0.source),
        ("from-header", SessionSource::Header)
    );
    assert_eq!(
        (s1.id.as_str(), s1.source),
        ("from-claim", SessionSource::Claim)
    );
    assert_eq!(
        chats[0].claims.as_ref().map(|c| c.uid.as_str()),
        Some("alice")
    );
    assert_eq!(chats[0].header("authorization"), Some("[redacted]"));
    assert!(chats.iter().all(|r| !format!("{r:?}").contains(t)));
    gw.shutdown().await;
}

#[tokio::test]
async fn threads_are_created_by_chat_and_scoped_to_the_user() {
    let gw = start(|_| {}).await;
    let alice = token(&gw, "alice", None).await;
    let bob = token(&gw, "bob", None).await;
    let c = client();
    let base = gw.base_url();
    let send = |tok: &str, thread: &str, text: &str, stream: bool| {
        c.post(format!("{base}/v1/chat/completions"))
            .bearer_auth(tok)
            .header("x-thread-id", thread)
            .json(&chat_body(text, stream))
            .send()
    };
    send(&alice, "thread_2026_04_12_abc", "first question", false)
        .await
        .unwrap();
    send(&alice, "thread_2026_04_12_abc", "second question", true)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let get = |tok: &str, path: &str| c.get(format!("{base}{path}")).bearer_auth(tok).send();
    let list: Value = get(&alice, "/v1/threads")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    assert_eq!(list[0]["id"], "thread_2026_04_12_abc");
    assert_eq!(list[0]["title"], "first question");
    let one: Value = get(&alice, "/v1/threads/thread_2026_04_12_abc")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["message_count"], 4);
    let msgs: Value = get(&alice, "/v1/threads/thread_2026_04_12_abc/messages")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let roles: Vec<&str> = msgs
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["role"].as_str())
        .collect();
    assert_eq!(roles, vec!["user", "assistant", "user", "assistant"]);
    assert!(
        msgs[3]["content"]
            .as_str()
            .unwrap()
            .contains("> second question"),
        "streamed reply stored"
    );
    // Bob sees nothing of Alice's.
    assert_eq!(
        get(&bob, "/v1/threads")
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap(),
        json!([])
    );
    for path in [
        "/v1/threads/thread_2026_04_12_abc",
        "/v1/threads/thread_2026_04_12_abc/messages",
        "/v1/threads/missing",
    ] {
        let r = get(&bob, path).await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
    let del = c
        .delete(format!("{base}/v1/threads/thread_2026_04_12_abc"))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 404);
    let del = c
        .delete(format!("{base}/v1/threads/thread_2026_04_12_abc"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 204);
    assert!(del.bytes().await.unwrap().is_empty());
    assert_eq!(
        get(&alice, "/v1/threads/thread_2026_04_12_abc")
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        get(&alice, "/v1/threads")
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap(),
        json!([])
    );
    // Unauthenticated thread routes are 401.
    assert_eq!(
        c.get(format!("{base}/v1/threads"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn usage_in_sdk_and_docs_shapes() {
    let gw = start(|_| {}).await;
    let alice = token(&gw, "alice", None).await;
    let c: Value = chat(&gw, &alice, &chat_body("count me", false))
        .await
        .json()
        .await
        .unwrap();
    let total = c["usage"]["total_tokens"].as_u64().unwrap();
    let get = |path: String, tok: &str| {
        client()
            .get(format!("{}{path}", gw.base_url()))
            .bearer_auth(tok)
            .send()
    };
    let u: Value = get("/v1/usage?granularity=hour".into(), &alice)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(u["totals"]["tokens"].as_u64(), Some(total));
    assert_eq!(u["breakdown"][0]["tokens"].as_u64(), Some(total));
    assert!(u["breakdown"][0]["timestamp"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    let b: Value = get(
        "/v1/billing/usage?from=2020-01-01&to=2100-01-01".into(),
        &alice,
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(b["project_id"], gw.credentials().project_id.as_str());
    assert_eq!(b["platform"]["requests"], 1);
    assert_eq!(b["platform"]["input_tokens"], c["usage"]["prompt_tokens"]);
    assert_eq!(
        b["platform"]["output_tokens"],
        c["usage"]["completion_tokens"]
    );
    assert_eq!(b["platform"]["by_model"][0]["model"], "behest-local-demo");
    assert_eq!(b["byok"]["requests"], 0);
    // Another user sees zero, and may not read Alice's.
    let bob = token(&gw, "bob", None).await;
    let u: Value = get("/v1/usage".into(), &bob)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(u["totals"]["tokens"], 0);
    assert_eq!(
        get("/v1/usage?user_id=alice".into(), &bob)
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        get("/v1/usage?from=yesterday".into(), &bob)
            .await
            .unwrap()
            .status(),
        400
    );
    gw.shutdown().await;
    // The not-supported switch answers 404 on the SDK path.
    let gw = start(|c| c.usage_not_supported = true).await;
    let t = token(&gw, "alice", None).await;
    let r = client()
        .get(format!("{}/v1/usage", gw.base_url()))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
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
