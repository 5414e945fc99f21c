//! Declares the app's own commands to Tauri's ACL, so only they (granted by
//! `capabilities/default.json`) can be invoked, and only by the app's own pages. Keep this list
//! equal to `ipc::commands::NAMES` (a test checks it).

const COMMANDS: &[&str] = &[
    "app_status",
    "mint",
    "copy_token",
    "chat",
    "cancel_chat",
    "render_markdown",
    "get_settings",
    "update_settings",
    "set_secret",
    "sign_out",
    "open_external",
    "list_conversations",
    "search_conversations",
    "get_conversation",
    "create_conversation",
    "rename_conversation",
    "update_conversation",
    "delete_conversation",
    "export_conversation",
    "check_for_update",
    "run_check",
    "recent_requests",
];

fn main() {
    let attributes = tauri_build::Attributes::new()
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    if let Err(error) = tauri_build::try_build(attributes) {
        println!("cargo:warning=tauri build failed: {error:#}");
        std::process::exit(1);
    }
}
