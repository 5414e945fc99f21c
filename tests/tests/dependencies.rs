//! Dependency floor (reliability A9) and the crypto/keyring backends, read from `Cargo.lock` and
//! the workspace manifest: a downgrade or a silently missing platform store fails the build.

use behest_desktop_tests::workspace_root;

fn lock() -> toml::Table {
    let text = std::fs::read_to_string(workspace_root().join("Cargo.lock")).unwrap_or_default();
    text.parse().unwrap_or_default()
}

fn packages(lock: &toml::Table, name: &str) -> Vec<toml::Table> {
    lock.get("package")
        .and_then(|p| p.as_array())
        .map(|all| {
            all.iter()
                .filter_map(|p| p.as_table())
                .filter(|p| p.get("name").and_then(|n| n.as_str()) == Some(name))
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

fn version(p: &toml::Table) -> (u64, u64, u64) {
    let v = p.get("version").and_then(|v| v.as_str()).unwrap_or("0.0.0");
    let mut parts = v
        .split(['.', '-', '+'])
        .map(|n| n.parse::<u64>().unwrap_or(0));
    (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    )
}

fn deps(p: &toml::Table) -> Vec<String> {
    p.get("dependencies")
        .and_then(|d| d.as_array())
        .map(|d| {
            d.iter()
                .filter_map(|s| s.as_str())
                .map(|s| s.split(' ').next().unwrap_or(s).to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn security_floors_hold() {
    let lock = lock();
    let floors = [
        ("tauri", (2, 11, 1)),
        // CVE-2026-25537: string-typed exp/nbf skipped the time checks before 10.3.0.
        ("jsonwebtoken", (10, 3, 0)),
        ("keyring", (3, 0, 0)),
    ];
    for (name, floor) in floors {
        let found = packages(&lock, name);
        assert!(!found.is_empty(), "{name} is not in Cargo.lock");
        for p in found {
            assert!(
                version(&p) >= floor,
                "{name} {:?} is below the floor {floor:?}",
                version(&p)
            );
        }
    }
    for p in packages(&lock, "keyring") {
        assert_eq!(version(&p).0, 3, "keyring must stay on major 3");
    }
    for p in packages(&lock, "tauri") {
        assert_eq!(version(&p).0, 2, "tauri must stay on major 2");
    }
}

#[test]
fn jsonwebtoken_has_exactly_one_crypto_backend() {
    let lock = lock();
    for p in packages(&lock, "jsonwebtoken") {
        let d = deps(&p);
        let backends: Vec<&str> = ["aws-lc-rs", "rsa", "ring", "ed25519-dalek", "p256"]
            .into_iter()
            .filter(|b| d.iter().any(|x| x == b))
            .collect();
        assert_eq!(
            backends,
            vec!["aws-lc-rs"],
            "jsonwebtoken backends: {backends:?}"
        );
    }
}

#[test]
fn keyring_names_every_platform_store() {
    let manifest = std::fs::read_to_string(workspace_root().join("Cargo.toml")).unwrap_or_default();
    let table: toml::Table = manifest.parse().unwrap_or_default();
    let features: Vec<String> = table
        .get("workspace")
        .and_then(|w| w.get("dependencies"))
        .and_then(|d| d.get("keyring"))
        .and_then(|k| k.get("features"))
        .and_then(|f| f.as_array())
        .map(|f| {
            f.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    for needed in ["sync-secret-service", "apple-native", "windows-native"] {
        assert!(
            features.iter().any(|f| f == needed),
            "keyring lacks the {needed} feature: {features:?}"
        );
    }
}
