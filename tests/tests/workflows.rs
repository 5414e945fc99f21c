//! The release and CI workflows (issue 7): valid YAML, the three-OS matrix, every bundle format,
//! and every secret they read documented in README.md.

use behest_desktop_tests::workspace_root;
use yaml_rust2::{Yaml, YamlLoader};

fn load(name: &str) -> (String, Yaml) {
    let path = workspace_root().join(".github/workflows").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(!text.is_empty(), "{} is missing or empty", path.display());
    let docs = YamlLoader::load_from_str(&text);
    assert!(docs.is_ok(), "{name} is not valid YAML: {:?}", docs.err());
    let doc = docs
        .ok()
        .and_then(|d| d.into_iter().next())
        .unwrap_or(Yaml::BadValue);
    (text, doc)
}

fn matrix_values(doc: &Yaml, job: &str, key: &str) -> Vec<String> {
    doc["jobs"][job]["strategy"]["matrix"]["include"]
        .as_vec()
        .map(|rows| {
            rows.iter()
                .filter_map(|r| r[key].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Every `secrets.NAME` a workflow reads.
fn secrets_read(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in text.match_indices("secrets.") {
        let name: String = text[i + 8..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() && !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

#[test]
fn release_builds_every_bundle_on_three_oses() {
    let (text, doc) = load("release.yml");
    let tags = doc["on"]["push"]["tags"]
        .as_vec()
        .cloned()
        .unwrap_or_default();
    assert!(
        tags.iter().any(|t| t.as_str() == Some("v*")),
        "release must run on version tags"
    );
    let mut platforms = matrix_values(&doc, "build", "platform");
    platforms.sort();
    assert_eq!(platforms, ["linux", "macos", "windows"]);
    let args = matrix_values(&doc, "build", "args").join(" ");
    for bundle in [
        "deb",
        "rpm",
        "appimage",
        "msi",
        "nsis",
        "app",
        "dmg",
        "universal-apple-darwin",
    ] {
        assert!(
            args.contains(bundle),
            "the release matrix does not build {bundle}: {args}"
        );
    }
    let steps = doc["jobs"]["build"]["steps"]
        .as_vec()
        .cloned()
        .unwrap_or_default();
    let action = steps
        .iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("tauri-apps/tauri-action"))
        })
        .cloned()
        .unwrap_or(Yaml::BadValue);
    assert_eq!(
        action["with"]["releaseDraft"].as_bool(),
        Some(true),
        "releases start as drafts"
    );
    assert_eq!(
        action["with"]["includeUpdaterJson"].as_bool(),
        Some(true),
        "the updater manifest is published"
    );
    assert!(
        text.contains("TAURI_SIGNING_PRIVATE_KEY"),
        "updater artifacts must be signed"
    );
}

#[test]
fn ci_runs_the_test_command_on_three_oses() {
    let (text, doc) = load("ci.yml");
    let mut platforms = matrix_values(&doc, "test", "platform");
    platforms.sort();
    assert_eq!(platforms, ["linux", "macos", "windows"]);
    assert!(text.contains(".ci/run"), "Linux runs .ci/run");
    assert!(
        text.contains("cargo test --workspace"),
        "the other OSes run the workspace tests"
    );
}

#[test]
fn every_secret_read_is_documented_in_readme() {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap_or_default();
    for workflow in ["release.yml", "ci.yml"] {
        let (text, _) = load(workflow);
        for secret in secrets_read(&text) {
            if secret == "GITHUB_TOKEN" {
                continue; // provided by GitHub to every workflow
            }
            assert!(
                readme.contains(&format!("`{secret}`")),
                "{workflow} reads secret {secret}, which README.md does not document"
            );
        }
    }
}
