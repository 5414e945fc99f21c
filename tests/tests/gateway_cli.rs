//! `behest-desktop gateway` as a real process: one JSON line on stdout once listening, usable
//! for API-key mode, local-sign mode and token-endpoint mode; `--config` keeps keys fixed; SIGTERM
//! shuts it down cleanly with exit 0. Needs the built binary (`cargo build -p behest-desktop`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Stdio;
use std::time::Duration;

use behest_desktop::core::keys::RsaKey;
use behest_desktop::core::protocol::is_api_key;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, BufReader};
use tokio::process::{Child, ChildStdout, Command};

async fn launch(args: &[&str]) -> (Child, BufReader<ChildStdout>, Value) {
    let mut child = Command::new(behest_desktop_tests::app_binary())
        .arg("gateway")
        .args(args)
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

async fn terminate(mut child: Child, mut out: BufReader<ChildStdout>) {
    let pid = child.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("exits after SIGTERM")
        .unwrap();
    assert!(status.success(), "graceful exit, got {status:?}");
    let mut rest = String::new();
    out.read_to_string(&mut rest).await.unwrap();
    assert_eq!(rest, "", "exactly one line on stdout");
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
        c.post(format!("{base}/v1/chat/completions"))
            .bearer_auth(token)
            .json(&json!({"messages": [{"role": "user", "content": "hi"}]}))
            .send()
    };
    // API-key mode.
    let m: Value = c
        .post(format!("{base}/v1/auth/mint"))
        .bearer_auth(a["api_key"].as_str().unwrap())
        .json(&json!({"user_id": "alice"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        chat(m["jwt"].as_str().unwrap().to_string())
            .await
            .unwrap()
            .status(),
        200
    );
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
    let b: Value = c
        .post(a["token_url"].as_str().unwrap())
        .bearer_auth(a["session_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
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
