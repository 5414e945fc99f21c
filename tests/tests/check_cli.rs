//! `behest-desktop check` as a user runs it: the real binary against a gateway started in this
//! process; JSON and human output, exit codes (0 all pass, 1 anything failed, an unreadable
//! settings file included; 2 only for a malformed command line), where the mode and base URL
//! came from (environment, settings file, OS keyring), the control plane from the flag or
//! `BEHEST_CONTROL_PLANE_URL`, and no token, key, PEM or session credential anywhere in stdout
//! or stderr.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod check_support;

use std::path::Path;
use std::process::{Command, Output};

use behest_desktop::core::gateway::GatewayHandle;
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

/// Asserts the run exited with `code`, showing `case` and the output otherwise.
fn exits(out: &Output, code: i32, case: &str) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{case}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The JSON report the run printed.
fn json_of(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not a JSON report ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
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
        exits(&out, 0, &format!("{mode:?}"));
        let report = json_of(&out);
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
    exits(&out, 1, "a refused origin");
    let report = json_of(&out);
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
    exits(&out, 1, "human output with a refused origin");
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
async fn an_unresolvable_key_or_an_unreadable_settings_file_is_a_failing_report_exit_1() {
    let gw = gateway(|_| {}).await;
    let home = tempfile::tempdir().unwrap();
    let legacy = "bh_live_0123456789abcdef0123456789abcdef";
    let env = with(env_for(Mode::ApiKey, &gw), &[("BEHEST_KEY", legacy)]);
    let out = run_cli(home.path(), env, &["--json"]).await;
    exits(&out, 1, "a legacy key");
    let report = json_of(&out);
    assert_eq!(report["mode"], "unknown");
    let key = check_named(&report, "config.key");
    assert!(key["hint"].as_str().unwrap().contains("BEHEST_KEY"));
    assert_clean(&out, &[legacy.to_string()]);

    // A settings file that is not JSON: still a report (exit 1, JSON printed), its first check
    // naming the file; every later check skipped.
    let settings = settings_file(home.path());
    std::fs::write(&settings, "not json").unwrap();
    for args in [&["--json", "--origin", ALLOWED][..], &[][..]] {
        let out = run_cli(home.path(), env_for(Mode::ApiKey, &gw), args).await;
        exits(&out, 1, "an unreadable settings file");
        assert_clean(&out, &secrets_of(&gw));
        if args.is_empty() {
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(text.starts_with("✗ config.settings"), "{text}");
            continue;
        }
        let report = json_of(&out);
        assert_eq!(
            (report["ok"].as_bool(), report["mode"].as_str()),
            (Some(false), Some("unknown"))
        );
        let checks = report["checks"].as_array().unwrap();
        assert_eq!(checks[0]["name"], "config.settings");
        assert_eq!(checks[0]["ok"], false);
        let hint = checks[0]["hint"].as_str().unwrap();
        assert!(hint.contains(&settings.display().to_string()), "{hint}");
        assert!(
            checks[1..]
                .iter()
                .all(|c| c["ok"] == false
                    && c["detail"].as_str().unwrap().contains("config.settings"))
        );
        assert!(checks
            .iter()
            .any(|c| c["name"] == format!("cors:{ALLOWED}")));
    }
    // A directory where the file should be: unreadable, same report.
    std::fs::remove_file(&settings).unwrap();
    std::fs::create_dir(&settings).unwrap();
    let out = run_cli(home.path(), env_for(Mode::ApiKey, &gw), &["--json"]).await;
    exits(&out, 1, "a settings path that is a directory");
    let report = json_of(&out);
    assert_eq!(report["checks"][0]["name"], "config.settings");
    // Only a malformed command line is a usage error (2), as for every command.
    let out = run_cli(home.path(), vec![], &["--no-such-flag"]).await;
    exits(&out, 2, "an unknown flag");
    gw.shutdown().await;
}

fn settings_file(home: &Path) -> std::path::PathBuf {
    let settings = home.join("config/ai.behest.desktop/settings.json");
    std::fs::create_dir_all(settings.parent().unwrap()).unwrap();
    settings
}

fn check_named<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {report}"))
}

fn detail<'a>(report: &'a serde_json::Value, name: &str) -> &'a str {
    check_named(report, name)["detail"].as_str().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mode_and_base_url_name_their_source_env_or_settings_file() {
    let gw = gateway(|_| {}).await;
    let home = tempfile::tempdir().unwrap();
    // Environment.
    let out = run_cli(home.path(), env_for(Mode::ApiKey, &gw), &["--json"]).await;
    exits(&out, 0, "the key from the environment");
    let report = json_of(&out);
    assert_eq!(
        detail(&report, "config.mode"),
        "apiKey, from BEHEST_KEY (environment)"
    );
    assert_eq!(
        detail(&report, "config.baseUrl"),
        format!(
            "{}, from BEHEST_BASE_URL (environment) (plain http, loopback only)",
            gw.base_url()
        )
    );
    // The settings file: its token endpoint and base URL decide; only the session credential
    // comes from the environment.
    let c = gw.credentials();
    std::fs::write(
        settings_file(home.path()),
        serde_json::json!({"baseUrl": c.base_url, "tokenUrl": c.token_url}).to_string(),
    )
    .unwrap();
    let env = vec![(
        "BEHEST_SESSION_TOKEN".to_string(),
        c.session_token.expose().to_string(),
    )];
    let out = run_cli(home.path(), env, &["--json"]).await;
    let report = passes_with_sources(
        &out,
        &gw,
        "the token endpoint from the settings file",
        "tokenEndpoint, from settings.tokenUrl (settings file)",
    );
    assert_eq!(report["mode"], "tokenEndpoint");
    gw.shutdown().await;
}

/// Asserts the run passed, `config.mode` reads `mode` and `config.baseUrl` names the settings
/// file, with no secret printed; returns the report.
fn passes_with_sources(
    out: &Output,
    gw: &GatewayHandle,
    case: &str,
    mode: &str,
) -> serde_json::Value {
    exits(out, 0, case);
    let report = json_of(out);
    assert_eq!(detail(&report, "config.mode"), mode);
    assert!(detail(&report, "config.baseUrl").contains("from settings.baseUrl (settings file)"));
    assert_clean(out, &secrets_of(gw));
    report
}

/// The keyring source through the real binary: needs a D-Bus session with an unlocked
/// gnome-keyring, as `.ci/run` provides (see keyring_secret_service.rs); it fails without one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_stored_in_the_os_keyring_is_named_as_the_source() {
    use behest_desktop::core::secrets::{KeyringState, KeyringStore, SecretStore, KEY};
    let bus = std::env::var("DBUS_SESSION_BUS_ADDRESS").unwrap_or_else(|_| {
        panic!("no D-Bus session bus: run under dbus-run-session with an unlocked gnome-keyring (see keyring_secret_service.rs)")
    });
    let service = format!("behest-check-test-{}", uuid::Uuid::new_v4());
    let store = KeyringStore::new(service.clone());
    assert!(
        matches!(store.probe().await, KeyringState::Persisted),
        "Secret Service not reachable: unlock a gnome-keyring (see keyring_secret_service.rs)"
    );
    let gw = gateway(|_| {}).await;
    let c = gw.credentials();
    store.set(KEY, &c.api_key).await.unwrap();
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        settings_file(home.path()),
        serde_json::json!({"baseUrl": c.base_url}).to_string(),
    )
    .unwrap();
    let mut env = vec![
        ("BEHEST_KEYRING_SERVICE".to_string(), service.clone()),
        ("DBUS_SESSION_BUS_ADDRESS".to_string(), bus),
    ];
    if let Ok(dir) = std::env::var("XDG_RUNTIME_DIR") {
        env.push(("XDG_RUNTIME_DIR".to_string(), dir));
    }
    let out = run_cli(home.path(), env, &["--json"]).await;
    // Best effort: the service name is random, a leftover entry harms nothing.
    let _cleanup = store.delete(KEY).await;
    passes_with_sources(
        &out,
        &gw,
        "the key from the OS keyring",
        "apiKey, from the key stored in the OS keyring",
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_plane_comes_from_the_flag_or_behest_control_plane_url() {
    let gw = gateway(|_| {}).await;
    let other = gateway(|_| {}).await;
    let home = tempfile::tempdir().unwrap();
    // The flag: the same gateway as control plane, whose global kid verifies.
    let out = run_cli(
        home.path(),
        env_for(Mode::ApiKey, &gw),
        &["--json", "--control-plane", &gw.base_url()],
    )
    .await;
    exits(&out, 0, "the control plane from the flag");
    let report = json_of(&out);
    assert_eq!(check_named(&report, "verify.controlPlane")["ok"], true);
    assert!(detail(&report, "verify.controlPlane").contains(&gw.base_url()));
    // The variable: another gateway publishes a different key under that kid.
    let other_url = other.base_url();
    let env = with(
        env_for(Mode::ApiKey, &gw),
        &[("BEHEST_CONTROL_PLANE_URL", other_url.as_str())],
    );
    let out = run_cli(home.path(), env.clone(), &["--json"]).await;
    exits(&out, 1, "the control plane from BEHEST_CONTROL_PLANE_URL");
    let report = json_of(&out);
    let cp = check_named(&report, "verify.controlPlane");
    assert_eq!(cp["ok"], false);
    assert!(cp["hint"]
        .as_str()
        .unwrap()
        .contains("BEHEST_CONTROL_PLANE_URL"));
    // The flag wins over the variable.
    let out = run_cli(
        home.path(),
        env,
        &["--json", "--control-plane", &gw.base_url()],
    )
    .await;
    exits(&out, 0, "the flag over the variable");
    // Neither: not run.
    let out = run_cli(home.path(), env_for(Mode::ApiKey, &gw), &["--json"]).await;
    let report = json_of(&out);
    assert!(report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["name"] != "verify.controlPlane"));
    other.shutdown().await;
    gw.shutdown().await;
}
