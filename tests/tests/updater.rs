//! Installers and updates (issue 7): the shipped bundle metadata and updater config are complete
//! and safe (https endpoint, a real minisign public key, updater artifacts signed in the release
//! pipeline only), and `check_for_update` without the updater plugin (the mock runtime) answers
//! a typed error instead of panicking.

mod ipc_support;

use base64::Engine as _;
use behest_desktop_tests::workspace_root;
use ipc_support::{kind, Harness};
use serde_json::{json, Value};

fn config() -> Value {
    let path = workspace_root().join("src-tauri/tauri.conf.json");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn check_for_update_without_the_updater_plugin_is_a_typed_error() {
    let h = Harness::demo();
    let answer = h.invoke("check_for_update", json!({}));
    assert_eq!(kind(&answer), "internal");
    let answer = h.invoke("check_for_update", json!({"install": 7}));
    assert_eq!(kind(&answer), "invalidArgument");
}

#[test]
fn updater_checks_the_release_endpoint_with_a_minisign_key() {
    let config = config();
    let updater = &config["plugins"]["updater"];
    let endpoints: Vec<&str> = updater["endpoints"]
        .as_array()
        .map(|e| e.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert_eq!(
        endpoints,
        ["https://github.com/behest-desktop/behest-desktop/releases/latest/download/latest.json"]
    );
    // The pubkey is base64 of minisign's two-line public key file; its key line decodes to
    // "Ed" + an 8-byte key id + a 32-byte Ed25519 key.
    let b64 = base64::engine::general_purpose::STANDARD;
    let file = b64
        .decode(updater["pubkey"].as_str().unwrap_or_default())
        .unwrap_or_default();
    let file = String::from_utf8(file).unwrap_or_default();
    let mut lines = file.lines();
    assert!(
        lines
            .next()
            .is_some_and(|l| l.starts_with("untrusted comment: minisign public key")),
        "the pubkey is not a minisign public key: {file:?}"
    );
    let key = b64
        .decode(lines.next().unwrap_or_default())
        .unwrap_or_default();
    assert_eq!(key.len(), 42, "minisign key line");
    assert_eq!(&key[..2], b"Ed");
    // Signing needs the private key, so updater artifacts are on only in the release pipeline.
    assert_eq!(config["bundle"]["createUpdaterArtifacts"], false);
    let path = workspace_root().join("src-tauri/tauri.release.conf.json");
    let release: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_default())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(release["bundle"]["createUpdaterArtifacts"], true);
    let workflow = std::fs::read_to_string(workspace_root().join(".github/workflows/release.yml"))
        .unwrap_or_default();
    assert!(
        workflow.contains("--config src-tauri/tauri.release.conf.json"),
        "release.yml must build with the release config"
    );
}

#[test]
fn bundles_carry_complete_metadata_for_every_os() {
    let config = config();
    assert_eq!(config["identifier"], "ai.behest.desktop");
    assert_eq!(config["productName"], "Behest Desktop");
    let bundle = &config["bundle"];
    assert_eq!(
        bundle["targets"], "all",
        "local builds pass --bundles deb,rpm"
    );
    for field in [
        "publisher",
        "copyright",
        "homepage",
        "license",
        "category",
        "shortDescription",
        "longDescription",
    ] {
        assert!(
            bundle[field].as_str().is_some_and(|s| !s.is_empty()),
            "bundle.{field} is missing"
        );
    }
    let icons: Vec<&str> = bundle["icon"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for ext in [".png", ".icns", ".ico"] {
        assert!(
            icons.iter().any(|i| i.ends_with(ext)),
            "no {ext} icon: {icons:?}"
        );
    }
    for icon in icons {
        let path = workspace_root().join("src-tauri").join(icon);
        assert!(path.is_file(), "icon {} is missing", path.display());
    }
    assert!(bundle["macOS"]["minimumSystemVersion"].is_string());
    assert!(bundle["windows"]["webviewInstallMode"]["type"].is_string());
    assert!(bundle["windows"]["nsis"].is_object() && bundle["windows"]["wix"].is_object());
}
