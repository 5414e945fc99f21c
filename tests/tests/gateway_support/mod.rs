//! Helpers shared by the `gateway_*` integration tests: start a gateway on loopback port 0,
//! mint and sign tokens, read SSE bodies.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;

use behest_desktop::core::gateway::{Gateway, GatewayConfig, GatewayHandle};
use serde_json::{json, Value};

/// Loopback, any free port.
pub fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// A demo gateway with faults enabled, adjusted by `tweak`.
pub async fn start(tweak: impl FnOnce(&mut GatewayConfig)) -> GatewayHandle {
    let mut config = GatewayConfig::demo().expect("demo config");
    config.faults_enabled = true;
    tweak(&mut config);
    Gateway::spawn(config, loopback())
        .await
        .expect("gateway starts")
}

/// A plain client (no pooling surprises: HTTP/1 only).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .http1_only()
        .build()
        .expect("client")
}

/// GETs `path` on the gateway (no auth) and parses the JSON answer.
pub async fn get_json(gw: &GatewayHandle, path: &str) -> Value {
    json_of(client().get(format!("{}{path}", gw.base_url()))).await
}

/// Mints over HTTP with the API key; returns the full JSON answer.
pub async fn mint_json(gw: &GatewayHandle, body: Value) -> Value {
    let r = client()
        .post(format!("{}/v1/auth/mint", gw.base_url()))
        .bearer_auth(gw.credentials().api_key.expose())
        .json(&body)
        .send()
        .await
        .expect("mint sent");
    assert_eq!(r.status(), 200, "mint failed");
    r.json().await.expect("mint json")
}

/// A token for `user` at `tier` (API-key mint over HTTP).
pub async fn token(gw: &GatewayHandle, user: &str, tier: Option<i64>) -> String {
    let mut body = json!({"user_id": user});
    if let Some(t) = tier {
        body["tier"] = json!(t);
    }
    mint_json(gw, body).await["jwt"]
        .as_str()
        .expect("jwt")
        .to_string()
}

/// The claims a local-sign client would produce, for the gateway's project.
pub fn tenant_claims(gw: &GatewayHandle, uid: &str) -> Value {
    let c = gw.credentials();
    let now = gw.now();
    json!({"tid": c.tenant_id, "pid": c.project_id, "uid": uid, "role": "user", "scp": [],
           "iss": "https://api.behest.ai", "aud": "behest", "iat": now, "nbf": now, "exp": now + 3600,
           "jti": "j-1", "sid": "sid-from-claim"})
}

/// Signs `claims` with the gateway's tenant key under `header`.
pub fn sign_tenant(gw: &GatewayHandle, header: &Value, claims: &Value) -> String {
    let pem = gw.credentials().signing_key_pem;
    let key = behest_desktop::core::keys::RsaKey::from_pem(pem.expose()).expect("tenant pem");
    key.sign_jwt(header, claims).expect("signed")
}

/// A chat body.
pub fn chat_body(text: &str, stream: bool) -> Value {
    json!({"messages": [{"role": "user", "content": text}], "stream": stream})
}

/// A chat POST to the gateway at `base` with `token` and `body`, ready to send.
pub fn chat_request(base: &str, token: &str, body: &Value) -> reqwest::RequestBuilder {
    client()
        .post(format!("{base}/v1/chat/completions"))
        .bearer_auth(token)
        .json(body)
}

/// POSTs a chat with `token`.
pub async fn chat(gw: &GatewayHandle, token: &str, body: &Value) -> reqwest::Response {
    chat_request(&gw.base_url(), token, body)
        .send()
        .await
        .expect("chat sent")
}

/// POSTs a one-message chat ("x", not streamed) with `token`; returns the status.
pub async fn chat_status(gw: &GatewayHandle, token: &str) -> u16 {
    chat(gw, token, &chat_body("x", false))
        .await
        .status()
        .as_u16()
}

/// Sends `request` and parses its JSON answer.
pub async fn json_of(request: reqwest::RequestBuilder) -> Value {
    let answer = request.send().await.expect("request sent");
    answer.json().await.expect("a JSON answer")
}

/// Asserts that `gw` still answers a chat with `token` (after something hostile).
pub async fn still_serves(gw: &GatewayHandle, token: &str) {
    let r = chat(gw, token, &chat_body("still alive", false)).await;
    assert_eq!(r.status(), 200, "the gateway still serves chats");
}

/// The `data:` payloads of an LF-framed SSE body.
pub fn sse_payloads(body: &str) -> Vec<String> {
    body.split("\n\n")
        .filter_map(|event| {
            let data: Vec<&str> = event
                .lines()
                .filter_map(|l| l.strip_prefix("data: "))
                .collect();
            (!data.is_empty()).then(|| data.join("\n"))
        })
        .collect()
}

/// The nested envelope's code.
pub fn code(body: &Value) -> Option<&str> {
    body.pointer("/error/code").and_then(Value::as_str)
}

/// Raises this process's soft `RLIMIT_NOFILE` to its hard limit (Debian's soft default is 1,024),
/// failing clearly when even the hard limit is below `needed`.
pub fn raise_fd_limit(needed: u64) {
    let (soft, hard) = rlimit::Resource::NOFILE.get().expect("getrlimit(NOFILE)");
    assert!(
        hard >= needed,
        "this test needs {needed} file descriptors but the hard RLIMIT_NOFILE is {hard}: \
         raise it (e.g. `ulimit -Hn 4096` as root, or LimitNOFILE= for the service)"
    );
    if soft < hard {
        rlimit::Resource::NOFILE
            .set(hard, hard)
            .expect("setrlimit(NOFILE) to the hard limit");
    }
    let (soft, _) = rlimit::Resource::NOFILE.get().expect("getrlimit(NOFILE)");
    assert!(soft >= needed, "soft RLIMIT_NOFILE still {soft}");
}
