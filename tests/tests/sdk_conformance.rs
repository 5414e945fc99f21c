//! Conformance with the official Python SDK (`behest-ai==1.5.0b1`): `tests/sdk/conformance.py`
//! runs the SDK as a real client against `behest-desktop gateway --port 0 --faults` and prints
//! one JSON result per case; this test asserts on each. Needs the built binary
//! (`cargo build -p behest-desktop`) and the SDK venv (`behest_desktop_tests::sdk_python()`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::Command;

/// Tier 2 (pro) allows one request a minute and tier 3 (max) one a day, so the SDK meets the
/// real limiter's 429 and 402; tier 1 (free, no tier) keeps its roomy defaults.
const CONFIG: &str = r#"{"tier_limits": {
    "pro": {"rpm": 1, "requests_per_day": 1000, "tokens_per_day": 1000000},
    "max": {"rpm": 1000, "requests_per_day": 1, "tokens_per_day": 1000000}}}"#;

async fn run_sdk() -> HashMap<String, Value> {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gateway.json");
    std::fs::write(&config, CONFIG).unwrap();
    let mut gateway = Command::new(behest_desktop_tests::app_binary())
        .args(["gateway", "--port", "0", "--faults", "--config"])
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the app binary runs");
    let mut line = String::new();
    let mut out = BufReader::new(gateway.stdout.take().unwrap());
    tokio::time::timeout(Duration::from_secs(60), out.read_line(&mut line))
        .await
        .unwrap()
        .unwrap();
    let script = behest_desktop_tests::workspace_root().join("tests/sdk/conformance.py");
    let run = Command::new(behest_desktop_tests::sdk_python())
        .arg(&script)
        .env("BEHEST_GATEWAY", line.trim_end())
        .env_remove("BEHEST_KEY")
        .env_remove("BEHEST_BASE_URL")
        .output();
    let output = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("sdk run finishes")
        .unwrap();
    gateway.kill().await.unwrap();
    assert!(
        output.status.success(),
        "conformance.py failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("one JSON object per line"))
        .map(|v| (v["case"].as_str().unwrap().to_string(), v))
        .collect()
}

fn error_of(r: &Value) -> (String, Option<i64>, Option<String>) {
    (
        r["class"].as_str().unwrap_or_default().to_string(),
        r["status"].as_i64(),
        r["code"].as_str().map(str::to_string),
    )
}

#[tokio::test]
async fn the_official_sdk_works_against_the_gateway() {
    let results = run_sdk().await;
    let case = |name: &str| {
        let r = results
            .get(name)
            .unwrap_or_else(|| panic!("case {name} did not report"));
        assert_eq!(r["ok"], true, "case {name} failed: {r}");
        r.clone()
    };
    assert_eq!(case("sdk")["version"], "1.5.0b1");

    let mint = case("apikey_mint");
    assert_eq!(
        mint["claim_order"],
        json!([
            "tid", "pid", "uid", "role", "scp", "iss", "aud", "iat", "nbf", "exp", "jti", "sid",
            "tier"
        ])
    );
    let c = &mint["claims"];
    assert_eq!(
        (
            c["uid"].as_str(),
            c["aud"].as_str(),
            c["tier"].as_i64(),
            c["sid"].as_str()
        ),
        (Some("alice"), Some("behest"), Some(2), Some("sess-sdk-1"))
    );
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 900);
    assert_eq!(
        (
            mint["ttl"].as_i64(),
            mint["session_id"].as_str(),
            mint["last_session_id"].as_str()
        ),
        (Some(900), Some("sess-sdk-1"), Some("sess-sdk-1"))
    );

    let chat = case("chat_non_streaming");
    assert_eq!(
        (chat["object"].as_str(), chat["finish_reason"].as_str()),
        (Some("chat.completion"), Some("stop"))
    );
    assert!(chat["content"]
        .as_str()
        .unwrap()
        .contains("> Hello from the SDK"));
    assert!(chat["usage"]["completion_tokens"].as_i64().unwrap() > 20);

    let stream = case("chat_streaming");
    assert_eq!(
        (
            stream["first_role"].as_str(),
            stream["last_finish_reason"].as_str()
        ),
        (Some("assistant"), Some("stop"))
    );
    assert_eq!(
        stream["text"], chat["content"],
        "streamed text equals the non-streamed reply"
    );
    assert_eq!(
        stream["usage"]["completion_tokens"],
        chat["usage"]["completion_tokens"]
    );

    let raw = case("sign_mode_raw_pem");
    assert_eq!(raw["mode"], "sign");
    assert_eq!(
        (raw["claims"]["iss"].as_str(), raw["claims"]["uid"].as_str()),
        (Some("https://api.behest.ai"), Some("bob"))
    );
    assert!(raw["content"]
        .as_str()
        .unwrap()
        .contains("local demo gateway"));
    let b64 = case("sign_mode_base64_pem");
    assert_eq!(b64["mode"], "sign");
    assert!(b64["text"]
        .as_str()
        .unwrap()
        .contains("> Hello from the SDK"));

    let threads = case("threads");
    assert_eq!(threads["listed"], json!(["thread_sdk_1"]));
    assert_eq!(threads["get_id"], "thread_sdk_1");
    assert_eq!(threads["roles"], json!(["user", "assistant"]));
    assert_eq!(
        (
            threads["others"].clone(),
            threads["deleted"].clone(),
            threads["after"].clone()
        ),
        (json!([]), Value::Null, json!([]))
    );

    let usage = case("usage");
    assert!(usage["tokens"].as_i64().unwrap() > 0 && usage["breakdown"].as_i64() == Some(1));

    let expect = |name: &str, class: &str, status: i64, code: &str| {
        let r = case(name);
        assert_eq!(
            error_of(&r),
            (class.to_string(), Some(status), Some(code.to_string())),
            "case {name}"
        );
        assert_eq!(r["has_trace_id"], true, "case {name} carries X-Trace-Id");
        r
    };
    expect("error_401_bad_key", "BehestAuthError", 401, "invalid_token");
    expect(
        "error_401_bad_token",
        "BehestAuthError",
        401,
        "invalid_token",
    );
    expect(
        "error_403_wrong_project",
        "BehestAuthError",
        403,
        "forbidden",
    );
    let q = expect("error_402", "BehestQuotaError", 402, "quota_exceeded");
    assert_eq!(q["details"]["tier"], "free");
    let rl = expect("error_429", "BehestRateLimitError", 429, "rate_limited");
    assert_eq!(rl["retry_after"], 3);
    expect("error_503", "BehestServerError", 503, "server_error");
    expect(
        "error_500_streaming",
        "BehestServerError",
        500,
        "server_error",
    );
    expect("usage_not_supported", "BehestError", 404, "not_supported");
    let parse = case("mid_stream_malformed");
    assert_eq!(
        (parse["class"].as_str(), parse["code"].as_str()),
        (Some("BehestError"), Some("stream_parse_error"))
    );

    let real_quota = expect("real_quota_402", "BehestQuotaError", 402, "quota_exceeded");
    assert_eq!(real_quota["details"]["tier"], "max");
    assert_eq!(real_quota["details"]["limit"]["requests_per_day"], 1);
    let real_rate = expect(
        "real_rate_limit_429",
        "BehestRateLimitError",
        429,
        "rate_limited",
    );
    let wait = real_rate["retry_after"]
        .as_i64()
        .expect("integer Retry-After parsed by the SDK");
    assert!((1..=60).contains(&wait));
}
