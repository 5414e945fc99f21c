//! Shared helpers for Behest Desktop's integration and end-to-end tests.
//!
//! Helpers that need something outside the test binary (the app binary, the Python SDK) fail
//! loudly with what to do when it is missing: a test that cannot run never passes silently.

use std::path::PathBuf;

/// The workspace root (the folder holding the root `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// The `behest-desktop` binary built beside this test binary (`target/<profile>/behest-desktop`).
///
/// # Panics
/// When it has not been built: run `cargo build -p behest-desktop` first (`scripts/test` does).
pub fn app_binary() -> PathBuf {
    if let Ok(path) = std::env::var("BEHEST_APP_BINARY") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().unwrap_or_default();
    // target/<profile>/deps/<test-binary> → target/<profile>/behest-desktop
    let profile_dir = exe
        .parent()
        .and_then(|d| d.parent())
        .map(PathBuf::from)
        .unwrap_or_default();
    let bin = profile_dir.join(format!("behest-desktop{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "the app binary {} is missing: run `cargo build -p behest-desktop` first (scripts/test does), \
         or set BEHEST_APP_BINARY",
        bin.display()
    );
    bin
}

/// The Python interpreter of the virtual environment holding the official SDK
/// (`behest-ai==1.5.0b1` and `httpx`): `BEHEST_SDK_PYTHON`, else `<workspace>/.venv/bin/python`.
///
/// # Panics
/// When neither exists: run `scripts/test` (it creates `.venv`), or set `BEHEST_SDK_PYTHON`.
pub fn sdk_python() -> PathBuf {
    let path = std::env::var("BEHEST_SDK_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace_root().join(".venv/bin/python"));
    assert!(
        path.is_file(),
        "the official SDK's Python {} is missing: run `scripts/test` (it creates .venv with \
         behest-ai==1.5.0b1 and httpx) or set BEHEST_SDK_PYTHON",
        path.display()
    );
    path
}
