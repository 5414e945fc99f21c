//! `behest-desktop check` as a user runs it: the real binary against a gateway started in this
//! process; JSON and human output, exit codes 0/1/2, and no token, key, PEM or session
//! credential anywhere in stdout or stderr.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod check_support;

use std::path::Path;
use std::process::{Command, Output};

use check_support::*;

const ALLOWED: &str = "https://app.example.com";

/// Runs the binary with only `env` (plus a temp HOME/config dir) and `args`.
async fn run_cli(home: &Path, env: Vec<(String, String)>, args: &[&str]) -> Output {
    let bin = behest_desktop_tests::app_binary();
    let home = home.to_path_buf();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        Command::new(bin)
            .arg("check")
            .args(&args)
            .env_clear()
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env(
                "BEHEST_KEYRING_SERVICE",
                format!("behest-check-test-{}", uuid::Uuid::new_v4()),
            )
            .envs(env)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn assert_clean(out: &Output, secrets: &[String]) {
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        assert!(!all.contains(s.as_str()), "a secret leaked into the output");
    }
    assert!(!all.contains("eyJ"), "a JWT leaked into the output");
    assert!(!all.contains("PRIVATE KEY"), "a PEM leaked into the output");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_report_and_exit_codes_in_each_mode() {
    let gw = gateway(|c| c.projects[0].allowed_origins = vec![ALLOWED.into()]).await;
    let home = tempfile::tempdir().unwrap();
    let secrets = secrets_of(&gw);
    for mode in [Mode::ApiKey, Mode::LocalSign, Mode::TokenEndpoint] {
        let out = run_cli(
            home.path(),
            env_for(mode, &gw),
            &["--json", "--origin", ALLOWED],
        )
        .await;
        assert_eq!(
            out.status.code(),
            Some(0),
            "{mode:?}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["ok"], true);
        let checks = report["checks"].as_array().unwrap();
        assert!(checks
            .iter()
            .any(|c| c["name"] == "chat.completion" && c["ok"] == true));
        assert!(checks
            .iter()
            .any(|c| c["name"] == format!("cors:{ALLOWED}") && c["ok"] == true));
        assert_clean(&out, &secrets);
    }
    // A refused origin: exit 1, the failing check and its hint in the JSON.
    let out = run_cli(
        home.path(),
        env_for(Mode::LocalSign, &gw),
        &["--json", "--origin", "https://evil.example"],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (report["ok"].as_bool(), report["mode"].as_str()),
        (Some(false), Some("localSign"))
    );
    let cors = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "cors:https://evil.example")
        .unwrap();
    assert_eq!(cors["ok"], false);
    assert!(cors["hint"].as_str().unwrap().contains("Allowed Origins"));
    assert_clean(&out, &secrets);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn human_output_marks_each_check_and_indents_hints() {
    let gw = gateway(|_| {}).await;
    let home = tempfile::tempdir().unwrap();
    let out = run_cli(
        home.path(),
        env_for(Mode::ApiKey, &gw),
        &["--origin", "https://evil.example"],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(
        text.lines().any(|l| l.starts_with("✓ config.mode")),
        "{text}"
    );
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with("✗ cors:https://evil.example"))
        .unwrap();
    assert!(lines[at + 1].starts_with("    hint: ") && lines[at + 1].contains("Allowed Origins"));
    assert_clean(&out, &secrets_of(&gw));
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unresolvable_key_is_a_failing_report_and_an_unreadable_config_exits_2() {
    let gw = gateway(|_| {}).await;
    let home = tempfile::tempdir().unwrap();
    let legacy = "bh_live_0123456789abcdef0123456789abcdef";
    let env = with(env_for(Mode::ApiKey, &gw), &[("BEHEST_KEY", legacy)]);
    let out = run_cli(home.path(), env, &["--json"]).await;
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["mode"], "unknown");
    let key = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "config.key")
        .unwrap();
    assert!(key["hint"].as_str().unwrap().contains("BEHEST_KEY"));
    assert_clean(&out, &[legacy.to_string()]);

    let settings = home.path().join("config/ai.behest.desktop/settings.json");
    std::fs::create_dir_all(settings.parent().unwrap()).unwrap();
    std::fs::write(&settings, "not json").unwrap();
    let out = run_cli(home.path(), env_for(Mode::ApiKey, &gw), &["--json"]).await;
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    assert_clean(&out, &secrets_of(&gw));
    gw.shutdown().await;
}
