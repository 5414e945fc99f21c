//! `behest-desktop chat` as a process against the local gateway: the reply on stdout, the
//! report on stderr, every documented exit code (0, 2, 3, 4, 5, 6, 7, 130), and no key, PEM,
//! session credential or token in its output at `BEHEST_LOG=trace`.
//!
//! Needs the app binary: `cargo build -p behest-desktop` first.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod chat_support;

use std::process::Stdio;
use std::time::Duration;

use behest_desktop::core::gateway::responder::demo_text;
use behest_desktop::core::gateway::{Fault, GatewayHandle, Route};
use behest_desktop::core::protocol::chat::ChatMessage;
use behest_desktop::core::redact::Secret;
use behest_desktop_tests::app_binary;
use chat_support::{
    chat_requests, first_chat, gateway, gateway_with, read_request, run, token_bundle_answer,
    write, Run, TcpDouble,
};
use tokio::io::AsyncReadExt;
use tokio::process::Command;

/// A `chat` command configured for `gw` in API-key mode, in an empty environment.
fn command(gw: Option<&GatewayHandle>, home: &std::path::Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(app_binary());
    cmd.env_clear()
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env(
            "BEHEST_KEYRING_SERVICE",
            format!("behest-test-{}", uuid::Uuid::new_v4()),
        )
        .arg("chat")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(gw) = gw {
        let creds = gw.credentials();
        cmd.env("BEHEST_BASE_URL", gw.base_url())
            .env("BEHEST_KEY", creds.api_key.expose());
    }
    cmd
}

fn expected(prompt: &str) -> String {
    demo_text(&[ChatMessage::new("user", prompt)])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_the_reply_to_stdout_and_the_report_to_stderr() {
    let gw = gateway().await;
    let home = tempfile::tempdir().unwrap();
    let r = run(
        command(Some(&gw), home.path(), &["--thread", "t-cli", "hello cli"]),
        "",
    )
    .await;
    assert_eq!(r.code, 0, "stderr: {}", r.stderr);
    assert_eq!(r.stdout.trim_end(), expected("hello cli").trim_end());
    assert!(r.stderr.contains("trace "), "{}", r.stderr);
    assert!(r.stderr.contains("ttft "), "{}", r.stderr);
    let key = gw.credentials().api_key.expose().to_string();
    assert!(!r.stdout.contains(&key) && !r.stderr.contains(&key));
    let chat = first_chat(&gw);
    assert_eq!(chat.header("x-thread-id"), Some("t-cli"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_the_prompt_from_stdin_and_waits_for_the_whole_answer_with_no_stream() {
    let gw = gateway().await;
    let home = tempfile::tempdir().unwrap();
    let r = run(
        command(
            Some(&gw),
            home.path(),
            &["--no-stream", "--system", "be brief"],
        ),
        "from stdin\n",
    )
    .await;
    assert_eq!(r.code, 0, "stderr: {}", r.stderr);
    let want = demo_text(&[
        ChatMessage::new("system", "be brief"),
        ChatMessage::new("user", "from stdin\n"),
    ]);
    assert_eq!(r.stdout.trim_end(), want.trim_end());
    let chat = first_chat(&gw);
    let body: serde_json::Value = serde_json::from_str(&chat.body).unwrap();
    assert_eq!(body["stream"], false);
    assert_eq!(body["messages"][0]["role"], "system");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_mode_needs_no_configuration() {
    let home = tempfile::tempdir().unwrap();
    let r = run(command(None, home.path(), &["hi demo"]), "").await;
    assert_eq!(r.code, 0, "stderr: {}", r.stderr);
    assert_eq!(r.stdout.trim_end(), expected("hi demo").trim_end());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_follow_the_failure() {
    let home = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Vec<Fault>, i32)> = vec![
        (
            "unauthorized",
            vec![Fault::status(401), Fault::status(401)],
            3,
        ),
        ("forbidden", vec![Fault::status(403)], 3),
        ("quota", vec![Fault::status(402)], 4),
        ("rate limited", vec![Fault::status(429).retry_after(120)], 5),
        (
            "server",
            vec![Fault::status(503), Fault::status(503), Fault::status(503)],
            6,
        ),
        ("stream error", vec![Fault::stream().error_after(3)], 6),
        ("bad request", vec![Fault::status(422)], 2),
        ("interrupted", vec![Fault::stream().reset_after(4)], 7),
    ];
    for (name, faults, code) in cases {
        let gw = gateway().await;
        for f in faults {
            gw.faults().push(Route::Chat, f).unwrap();
        }
        let r = run(command(Some(&gw), home.path(), &["hi"]), "").await;
        assert_eq!(r.code, code, "{name}: stderr {}", r.stderr);
        assert!(
            r.stderr.contains("behest-desktop chat"),
            "{name}: {}",
            r.stderr
        );
        if name == "interrupted" {
            assert!(
                !r.stdout.is_empty() && expected("hi").starts_with(r.stdout.trim_end()),
                "{}",
                r.stdout
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_three_times_exits_5_after_the_retries() {
    let gw = gateway().await;
    // A short Retry-After each time: honoured twice, then the retries are used up.
    gw.faults()
        .push_n(
            Route::Chat,
            Fault::status(429).header("retry-after-ms", "50"),
            3,
        )
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let r = run(command(Some(&gw), home.path(), &["hi"]), "").await;
    assert_eq!(r.code, 5, "stderr: {}", r.stderr);
    assert_eq!(chat_requests(&gw), 3, "the first request and two retries");
    assert!(r.stdout.is_empty(), "{}", r.stdout);
}

/// A token endpoint on a raw socket that hands out `tokens` in turn (the last one again when
/// they run out) and records each request's head.
async fn token_endpoint(
    tokens: Vec<Secret>,
) -> (TcpDouble, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let heads = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = std::sync::Arc::clone(&heads);
    let double = TcpDouble::spawn(move |index, mut stream| {
        let token = tokens[index.min(tokens.len() - 1)].clone();
        let seen = std::sync::Arc::clone(&seen);
        async move {
            let head = read_request(&mut stream).await;
            seen.lock().unwrap().push(head);
            let answer = token_bundle_answer(&token, "sess-cli-sentinel");
            write(&mut stream, answer.as_bytes()).await;
        }
    })
    .await;
    (double, heads)
}

/// Fails when any of `secrets`, or anything shaped like a JWT, is in `r`'s stdout or stderr.
fn assert_no_secret(name: &str, r: &Run, secrets: &[String]) {
    let all = format!("{}\n{}", r.stdout, r.stderr);
    for s in secrets {
        assert!(!s.is_empty());
        assert!(
            !all.contains(s.as_str()),
            "{name}: a secret in the output: {}…",
            &s[..8.min(s.len())]
        );
    }
    assert!(!all.contains("eyJ"), "{name}: a JWT in the output");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_pem_or_credential_in_the_output_at_trace() {
    let gw = gateway().await;
    let creds = gw.credentials();
    let home = tempfile::tempdir().unwrap();
    let tokens: Vec<Secret> = (0..2)
        .map(|_| gw.mint("cli-sentinel", None, 3600).unwrap())
        .collect();
    let session_credential = "sess_SENTINEL_TOK_cli_credential";
    let pem = creds.signing_key_pem.expose().to_string();
    let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &pem);
    let mut secrets: Vec<String> = vec![
        creds.api_key.expose().to_string(),
        session_credential.to_string(),
        pem.clone(),
        b64.clone(),
    ];
    secrets.extend(tokens.iter().map(|t| t.expose().to_string()));
    secrets.extend(
        pem.lines()
            .filter(|l| !l.starts_with("-----") && l.len() > 16)
            .map(str::to_string),
    );

    // Token endpoint: the first token is refused with a body echoing it and the credential,
    // the session fetches the second and retries; then a stream error echoing the token.
    let (endpoint, heads) = token_endpoint(tokens.clone()).await;
    let echo = format!(
        r#"{{"error":{{"code":"invalid_token","message":"refused {} from {}"}}}}"#,
        tokens[0].expose(),
        session_credential
    );
    gw.faults()
        .push(Route::Chat, Fault::status(401).body(echo))
        .unwrap();
    let mut cmd = command(None, home.path(), &["hello sentinel"]);
    cmd.env("BEHEST_LOG", "trace")
        .env("BEHEST_BASE_URL", gw.base_url())
        .env("BEHEST_TOKEN_URL", format!("{}/token", endpoint.base_url()))
        .env("BEHEST_SESSION_TOKEN", session_credential);
    let r = run(cmd, "").await;
    assert_eq!(r.code, 0, "stderr: {}", r.stderr);
    assert!(
        r.stderr.contains("TRACE") || r.stderr.contains("DEBUG"),
        "logs at trace"
    );
    assert_eq!(endpoint.accepted(), 2, "one refresh after the 401");
    assert!(heads
        .lock()
        .unwrap()
        .iter()
        .all(|h| h.contains(session_credential)));
    assert_no_secret("token endpoint, 401 then retry", &r, &secrets);

    // API key, with a 503 and a retry, then a stream that ends with an error event.
    gw.faults().push(Route::Chat, Fault::status(503)).unwrap();
    gw.faults()
        .push(Route::Chat, Fault::stream().error_after(2))
        .unwrap();
    let mut cmd = command(Some(&gw), home.path(), &["hello key"]);
    cmd.env("BEHEST_LOG", "trace");
    let r = run(cmd, "").await;
    assert_eq!(r.code, 6, "stderr: {}", r.stderr);
    assert_no_secret("api key, 503 then a stream error", &r, &secrets);

    // Local signing: the PEM is in the environment, the token is signed in the process.
    let mut cmd = command(None, home.path(), &["hello pem"]);
    cmd.env("BEHEST_LOG", "trace")
        .env("BEHEST_BASE_URL", gw.base_url())
        .env("BEHEST_KEY", format!("behest_pk_{b64}"))
        .env("BEHEST_KID", &creds.kid)
        .env("BEHEST_TENANT_ID", &creds.tenant_id)
        .env("BEHEST_PROJECT_ID", &creds.project_id);
    let r = run(cmd, "").await;
    assert_eq!(r.code, 0, "stderr: {}", r.stderr);
    assert_no_secret("local signing", &r, &secrets);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_configuration_exits_2_naming_the_variable() {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = command(None, home.path(), &["hi"]);
    cmd.env("BEHEST_BASE_URL", "http://example.com").env(
        "BEHEST_KEY",
        "behest_sk_live_0123456789abcdef0123456789abcdef",
    );
    let r = run(cmd, "").await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("BEHEST_BASE_URL"), "{}", r.stderr);
    let r = run(command(None, home.path(), &[]), "   ").await;
    assert_eq!(r.code, 2, "empty prompt: {}", r.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_cancels_with_130_after_printing_the_partial_text() {
    let gw = gateway_with(Fault::stream().stall_after(4)).await;
    let home = tempfile::tempdir().unwrap();
    let mut child = command(Some(&gw), home.path(), &["interrupt me"])
        .spawn()
        .expect("spawn");
    let mut stdout = child.stdout.take().expect("stdout");
    // Wait until some text has been printed, then send SIGINT.
    let mut first = vec![0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(30), stdout.read(&mut first))
        .await
        .expect("text")
        .expect("read");
    assert!(n > 0);
    let pid = child.id().expect("pid").to_string();
    let killed = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill(1) is needed");
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(5), child.wait())
        .await
        .expect("exited")
        .expect("status");
    assert_eq!(status.code(), Some(130));
}
