//! The configuration as the CLI and the app read it: the settings file in the config dir (a
//! bare settings object or the app store's `{"settings":{…}}`), overridden by the environment,
//! with every malformed value reported as a configuration error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth_support;

use std::process::Output;

use auth_support::{gateway, mint_cli as mint, mode_pairs as pairs, Mode};
use behest_desktop::core::config::Settings;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_settings_file_configures_what_the_env_does_not() {
    let gw = gateway().await;
    let home = tempfile::tempdir().unwrap();
    let c = gw.credentials();
    // Non-secret settings in the file the app's store shares; the key in the env.
    let settings = Settings {
        base_url: Some(format!("{}/v1/", c.base_url)),
        kid: Some(c.kid.clone()),
        tenant_id: Some(c.tenant_id.clone()),
        project_id: Some(c.project_id.clone()),
        user_id: Some("from-settings".into()),
        ttl: Some(900),
        ..Settings::default()
    };
    let path = home
        .path()
        .join("config")
        .join("ai.behest.desktop")
        .join("settings.json");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(
        &path,
        serde_json::json!({ "settings": settings }).to_string(),
    )
    .unwrap();
    let key: Vec<(String, String)> = pairs(Mode::LocalSign, &gw)
        .into_iter()
        .filter(|(k, _)| k == "BEHEST_KEY")
        .collect();
    let out: Output = mint(home.path(), &key, &["--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (
            v["mode"].as_str(),
            v["claims"]["uid"].as_str(),
            v["ttl"].as_u64()
        ),
        (Some("localSign"), Some("from-settings"), Some(900))
    );
    // The environment overrides the file.
    let mut env = key.clone();
    env.push(("BEHEST_USER_ID".into(), "from-env".into()));
    let v: serde_json::Value =
        serde_json::from_slice(&mint(home.path(), &env, &["--json"]).stdout).unwrap();
    assert_eq!(v["claims"]["uid"], "from-env");
    // A malformed file is a configuration error naming the file.
    std::fs::write(&path, r#"{"ttl":"soon"}"#).unwrap();
    let out = mint(home.path(), &key, &["--json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("settings.json"));
}
