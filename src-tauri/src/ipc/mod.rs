//! The only Tauri-aware code: app state, commands, the serialized error, Channel event types.

use tauri::Runtime;

/// Registers plugins, state and every command on a builder (generic so tests use the mock runtime).
pub fn app_builder<R: Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    builder
}

/// Opens the window and runs the event loop until the app quits.
pub fn run_app() -> std::process::ExitCode {
    let result = app_builder(tauri::Builder::default()).run(tauri::generate_context!());
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "the app failed to start");
            std::process::ExitCode::FAILURE
        }
    }
}
