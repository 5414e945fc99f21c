//! `behest-desktop gateway` as a real process: one JSON line on stdout once listening, usable
//! for API-key mode, local-sign mode and token-endpoint mode; `--config` keeps keys fixed;
//! `--host` binds that address only; `--upstream` relays chats to another OpenAI-compatible
//! server; SIGTERM and SIGINT shut it down cleanly with exit 0, ending an open stream at once
//! (cleanly, without `[DONE]`) instead of waiting for it. Needs the built binary
//! (`cargo build -p behest-desktop`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod gateway_support;

use std::process::Stdio;
use std::time::Duration;

use behest_desktop::core::keys::RsaKey;
use behest_desktop::core::protocol::is_api_key;
use futures_util::StreamExt as _;
use gateway_support::{chat_request, json_of, start};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, BufReader};
use tokio::process::{Child, ChildStdout, Command};

async fn launch(args: &[&str]) -> (Child, BufReader<ChildStdout>, Value) {
    launch_with(args, &[]).await
}

async fn launch_with(
    args: &[&str],
    env: &[(&str, &str)],
) -> (Child, BufReader<ChildStdout>, Value) {
    let mut child = Command::new(behest_desktop_tests::app_binary())
        .arg("gateway")
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the app binary runs");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(60), out.read_line(&mut line))
        .await
        .expect("announces in time")
        .unwrap();
    let announced: Value = serde_json::from_str(line.trim_end()).expect("one JSON line");
    (child, out, announced)
}

/// Sends `signal` (`TERM`, `INT`) and asserts a clean exit 0 with nothing more on stdout.
async fn stop_with(signal: &str, mut child: Child, mut out: BufReader<ChildStdout>) {
    let pid = child.id().unwrap().to_string();
    let sent = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .unwrap_or_else(|_| panic!("exits after SIG{signal}"))
        .unwrap();
    assert!(
        status.success(),
        "graceful exit on SIG{signal}, got {status:?}"
    );
    let mut rest = String::new();
    out.read_to_string(&mut rest).await.unwrap();
    assert_eq!(rest, "", "exactly one line on stdout");
}

async fn terminate(child: Child, out: BufReader<ChildStdout>) {
    stop_with("TERM", child, out).await;
}

/// Mints a token for `user` with the announced API key.
async fn mint(a: &Value, user: &str) -> String {
    let m = json_of(
        reqwest::Client::new()
            .post(format!("{}/v1/auth/mint", a["base_url"].as_str().unwrap()))
            .bearer_auth(a["api_key"].as_str().unwrap())
            .json(&json!({"user_id": user})),
    )
    .await;
    m["jwt"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn the_announced_credentials_work_in_every_mode() {
    let (child, out, a) = launch(&["--port", "0", "--allow-origin", "http://localhost:*"]).await;
    let keys: Vec<&str> = a.as_object().unwrap().keys().map(String::as_str).collect();
    for k in [
        "base_url",
        "api_key",
        "tenant_id",
        "project_id",
        "kid",
        "signing_key_pem",
        "token_url",
        "session_token",
    ] {
        assert!(keys.contains(&k), "missing {k}");
    }
    let base = a["base_url"].as_str().unwrap();
    assert!(base.starts_with("http://127.0.0.1:") && !base.ends_with(":0"));
    assert!(is_api_key(a["api_key"].as_str().unwrap()));
    assert!(a["signing_key_pem"]
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN PRIVATE KEY-----"));
    assert_eq!(
        a["token_url"].as_str().unwrap(),
        format!("{base}/api/behest/token")
    );
    let c = reqwest::Client::new();
    let chat = |token: String| {
        chat_request(
            base,
            &token,
            &json!({"messages": [{"role": "user", "content": "hi"}]}),
        )
        .send()
    };
    // API-key mode.
    assert_eq!(chat(mint(&a, "alice").await).await.unwrap().status(), 200);
    // Local-sign mode with the announced tenant key.
    let key = RsaKey::from_pem(a["signing_key_pem"].as_str().unwrap()).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let claims = json!({"tid": a["tenant_id"], "pid": a["project_id"], "uid": "alice", "role": "user", "scp": [],
        "iss": "https://api.behest.ai", "aud": "behest", "iat": now, "nbf": now, "exp": now + 600, "jti": "j", "sid": "s"});
    let signed = key
        .sign_jwt(
            &json!({"alg": "RS256", "kid": a["kid"], "typ": "JWT"}),
            &claims,
        )
        .unwrap();
    assert_eq!(chat(signed).await.unwrap().status(), 200);
    // Token-endpoint mode.
    let b = json_of(
        c.post(a["token_url"].as_str().unwrap())
            .bearer_auth(a["session_token"].as_str().unwrap()),
    )
    .await;
    assert_eq!(
        chat(b["token"].as_str().unwrap().to_string())
            .await
            .unwrap()
            .status(),
        200
    );
    // CORS from --allow-origin; faults are off without --faults.
    let r = c
        .request(
            reqwest::Method::OPTIONS,
            format!("{base}/v1/chat/completions"),
        )
        .header("origin", "http://localhost:5173")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "http://localhost:5173"
    );
    assert_eq!(
        c.post(format!("{base}/__behest/faults"))
            .body("{}")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    terminate(child, out).await;
}

#[tokio::test]
async fn config_file_fixes_keys_and_bad_config_fails_fast() {
    let dir = tempfile::tempdir().unwrap();
    let key = RsaKey::generate().unwrap();
    std::fs::write(dir.path().join("tenant.pem"), key.private_pem().expose()).unwrap();
    let cfg = dir.path().join("gw.json");
    std::fs::write(&cfg, r#"{"tenant_id":"ten_fixed","project_id":"prj_fixed","kid":"kid_fixed","signing_key_pem_file":"tenant.pem","api_key":"behest_sk_live_00112233445566778899aabbccddeeff","session_token":"sess_fixed"}"#).unwrap();
    let (child, out, a) =
        launch(&["--port", "0", "--faults", "--config", cfg.to_str().unwrap()]).await;
    assert_eq!(
        (
            a["tenant_id"].as_str(),
            a["project_id"].as_str(),
            a["kid"].as_str()
        ),
        (Some("ten_fixed"), Some("prj_fixed"), Some("kid_fixed"))
    );
    assert_eq!(
        a["api_key"],
        "behest_sk_live_00112233445566778899aabbccddeeff"
    );
    assert_eq!(a["session_token"], "sess_fixed");
    assert_eq!(
        RsaKey::from_pem(a["signing_key_pem"].as_str().unwrap())
            .unwrap()
            .fingerprint(),
        key.fingerprint()
    );
    let r = reqwest::Client::new()
        .post(format!(
            "{}/__behest/faults",
            a["base_url"].as_str().unwrap()
        ))
        .json(&json!({"mint_latency_ms": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204, "--faults enables the admin route");
    terminate(child, out).await;

    std::fs::write(&cfg, r#"{"api_key":"not-a-key"}"#).unwrap();
    let output = Command::new(behest_desktop_tests::app_binary())
        .args(["gateway", "--port", "0", "--config", cfg.to_str().unwrap()])
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    assert!(
        !String::from_utf8_lossy(&output.stderr).contains("not-a-key"),
        "no secret in the error"
    );
}

#[tokio::test]
async fn sigint_shuts_down_cleanly() {
    let (child, out, a) = launch(&["--port", "0"]).await;
    let base = a["base_url"].as_str().unwrap().to_string();
    let jwks = reqwest::get(format!("{base}/.well-known/jwks.json"))
        .await
        .unwrap();
    assert_eq!(jwks.status(), 200);
    stop_with("INT", child, out).await;
    assert!(
        reqwest::get(format!("{base}/.well-known/jwks.json"))
            .await
            .is_err(),
        "nothing listens after the exit"
    );
}

#[tokio::test]
async fn host_binds_that_address_only() {
    let (child, out, a) = launch(&["--host", "127.0.0.2", "--port", "0"]).await;
    let base = a["base_url"].as_str().unwrap().to_string();
    assert!(base.starts_with("http://127.0.0.2:"), "{base}");
    let port = base.rsplit(':').next().unwrap().to_string();
    let token = mint(&a, "alice").await;
    let r = chat_request(
        &base,
        &token,
        &json!({"messages": [{"role": "user", "content": "on .2"}]}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        a["token_url"].as_str().unwrap(),
        format!("{base}/api/behest/token")
    );
    // Bound to 127.0.0.2, not to every address: 127.0.0.1 on the same port is refused.
    let other = tokio::net::TcpStream::connect(format!("127.0.0.1:{port}")).await;
    assert_eq!(
        other.err().map(|e| e.kind()),
        Some(std::io::ErrorKind::ConnectionRefused)
    );
    terminate(child, out).await;
}

#[tokio::test]
async fn upstream_relays_chats_to_another_server() {
    // The upstream: an in-process gateway whose chat route wants its own bearer.
    let upstream = start(|_| {}).await;
    let upstream_key = upstream.mint("relay", None, 3600).unwrap();
    let url = format!("{}/v1", upstream.base_url());
    let (child, out, a) = launch_with(
        &["--port", "0", "--upstream", &url],
        &[("BEHEST_UPSTREAM_API_KEY", upstream_key.expose())],
    )
    .await;
    let token = mint(&a, "alice").await;
    let c = json_of(chat_request(
        a["base_url"].as_str().unwrap(),
        &token,
        &json!({"messages": [{"role": "user", "content": "through the binary"}]}),
    ))
    .await;
    let text = c["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(text.contains("> through the binary"), "{text}");
    // The upstream answered it: one chat, under the relay's bearer (never the user's token).
    let relayed: Vec<_> = upstream
        .requests()
        .into_iter()
        .filter(|r| r.path == "/v1/chat/completions")
        .collect();
    assert_eq!(relayed.len(), 1);
    assert_eq!(relayed[0].status, 200);
    assert_eq!(
        relayed[0].claims.as_ref().map(|c| c.uid.as_str()),
        Some("relay")
    );
    assert!(relayed[0].body.contains("through the binary"));
    terminate(child, out).await;
    upstream.shutdown().await;
}

/// What graceful shutdown does to a stream in flight: the gateway stops accepting, ends the
/// open stream at once after its last whole event (a clean end of the body, without `[DONE]`,
/// which a client reports as an interrupted reply, never a hang or a transport error), and the
/// process exits 0 without waiting for the reply to finish.
#[tokio::test]
async fn sigterm_ends_a_stream_in_flight_cleanly_and_exits() {
    // 5 chunks per second: the whole reply would take well over ten seconds.
    let (child, out, a) = launch(&["--port", "0", "--rate", "5"]).await;
    let base = a["base_url"].as_str().unwrap().to_string();
    let token = mint(&a, "alice").await;
    let r = chat_request(
        &base,
        &token,
        &json!({"messages": [{"role": "user", "content": "slow"}], "stream": true}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let mut body = r.bytes_stream();
    let mut seen = String::new();
    while seen.matches("\n\n").count() < 2 {
        let chunk = body.next().await.expect("more events").expect("no error");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    let pid = child.id().unwrap().to_string();
    let stopping = tokio::spawn(stop_with("TERM", child, out));
    let rest = tokio::time::timeout(Duration::from_secs(10), async {
        let mut rest = String::new();
        while let Some(chunk) = body.next().await {
            rest.push_str(&String::from_utf8_lossy(
                &chunk.expect("a clean end, not an error"),
            ));
        }
        rest
    })
    .await
    .expect("the open stream ends promptly at shutdown");
    let all = format!("{seen}{rest}");
    assert!(
        !all.contains("[DONE]"),
        "the reply was cut short, not finished"
    );
    assert!(all.ends_with("\n\n"), "it ends after a whole event");
    stopping.await.unwrap();
    assert!(
        reqwest::get(format!("{base}/.well-known/jwks.json"))
            .await
            .is_err(),
        "process {pid} no longer listens"
    );
}
