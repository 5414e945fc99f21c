//! Declares the app's own commands to Tauri's ACL, so only they (granted by
//! `capabilities/default.json`) can be invoked, and only by the app's own pages. This list
//! and `ipc::commands::NAMES` are the same file, `src/ipc/commands/names.rs`.

const COMMANDS: &[&str] = &include!("src/ipc/commands/names.rs");

fn main() {
    // tauri-build narrows the rerun triggers to its own files; the command list is ours.
    println!("cargo:rerun-if-changed=src/ipc/commands/names.rs");
    let attributes = tauri_build::Attributes::new()
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    if let Err(error) = tauri_build::try_build(attributes) {
        println!("cargo:warning=tauri build failed: {error:#}");
        std::process::exit(1);
    }
}
