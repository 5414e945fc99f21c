//! The only Tauri-aware code: app state, commands, the serialized error, Channel event types,
//! the navigation guard and the Linux startup self-check.
//!
//! [`app_builder`] is generic over the runtime so tests build the same app on
//! `tauri::test::mock_builder()`; [`run_app`] adds what needs a real desktop (single instance)
//! and opens the window.

pub mod args;
#[cfg(target_os = "linux")]
pub mod caret;
pub mod commands;
pub mod error;
pub mod events;
pub mod forward;
pub mod navigation;
pub mod save_dialog;
pub mod settings_store;
pub mod state;
#[cfg(target_os = "linux")]
pub mod web_memory;
#[cfg(target_os = "linux")]
pub mod webkit;

use std::sync::Arc;

use tauri::webview::PageLoadEvent;
use tauri::{Manager, Runtime};

pub use error::{CommandError, ErrorKind};
pub use state::AppState;

use crate::core::backend::{Backend, BackendOptions, DemoOptions};
use crate::core::config::{self, Env, Settings};
use crate::core::history::HistoryPaths;
use crate::core::secrets::{KeyringStore, SecretStore, DEFAULT_SERVICE};

/// Registers plugins, state and every command on a builder (generic so tests use the mock
/// runtime).
pub fn app_builder<R: Runtime>(builder: tauri::Builder<R>, state: AppState) -> tauri::Builder<R> {
    builder
        .plugin(tauri_plugin_store::Builder::default().build())
        .plugin(tauri_plugin_clipboard_manager::init())
        .plugin(tauri_plugin_opener::init())
        .plugin(navigation::guard())
        .plugin(tauri_plugin_dialog::init())
        .manage(state)
        .invoke_handler(tauri::generate_handler![
            commands::app::app_status,
            commands::app::mint,
            commands::app::copy_token,
            commands::chat::chat,
            commands::chat::cancel_chat,
            commands::chat::render_markdown,
            commands::app::get_settings,
            commands::app::update_settings,
            commands::app::set_secret,
            commands::app::sign_out,
            commands::app::open_external,
            commands::history::list_conversations,
            commands::history::search_conversations,
            commands::history::get_conversation,
            commands::history::create_conversation,
            commands::history::rename_conversation,
            commands::history::update_conversation,
            commands::history::delete_conversation,
            commands::history::export_conversation,
            commands::history::export_to_file,
            commands::update::check_for_update,
            commands::update::restart_app,
            commands::dev::run_check,
            commands::dev::recent_requests,
            commands::dev::current_token,
        ])
}

/// The app's generated context (config, embedded UI, ACL from `capabilities/` and `build.rs`),
/// for any runtime: tests build the real app on the mock runtime with it.
pub fn context<R: Runtime>() -> tauri::Context<R> {
    tauri::generate_context!()
}

/// How long the app waits for its page before it shows the window and starts the background
/// work anyway: a page that never loads must leave neither the window hidden nor the app
/// unconnected.
const PAGE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// The app's state from the environment: settings file, history dir, OS keyring, demo knobs.
/// The history is opened and the connection made in the background (see [`Backend::open`]),
/// once `page_loaded` turns true (or after [`PAGE_WAIT`]): in demo mode the connection generates
/// an RSA key and starts the gateway, ~150 ms of CPU that delayed the first paint by ~40 ms on
/// two cores while it ran next to the web process's start (BENCHMARKS.md, "Start").
async fn open_state(
    mut page_loaded: tokio::sync::watch::Receiver<bool>,
) -> crate::core::Result<AppState> {
    let settings_path = config::settings_path()?;
    let settings = Settings::load(&settings_path).unwrap_or_else(|error| {
        tracing::warn!(%error, "the settings file is unreadable; starting from defaults");
        Settings::default()
    });
    let secrets: Arc<dyn SecretStore> = Arc::new(KeyringStore::new(DEFAULT_SERVICE));
    let options = BackendOptions {
        env: Env::from_process(),
        history: HistoryPaths::from_env()?,
        secrets,
        demo: DemoOptions::from_process_env(),
        http: crate::core::http::shared_client()?,
    };
    let backend = Arc::new(Backend::open(options, settings).await?);
    // Both in the background, so neither a big history's check nor a slow keyring delays the
    // window; commands wait for what they need.
    let background = Arc::clone(&backend);
    tauri::async_runtime::spawn(async move {
        // A timeout or a dropped sender both mean: go on.
        let _ = tokio::time::timeout(PAGE_WAIT, page_loaded.wait_for(|loaded| *loaded)).await;
        let opening = Arc::clone(&background);
        tauri::async_runtime::spawn(async move {
            if let Err(error) = opening.history().await {
                tracing::error!(%error, "the history cannot be opened; history commands will say so");
            }
        });
        background.connect().await;
    });
    Ok(AppState::new(backend, settings_path))
}

/// Shows a window that is not shown yet (a shown one is left as it is).
fn show<R: Runtime>(window: &tauri::Window<R>) {
    if window.is_visible().unwrap_or(true) {
        return;
    }
    if let Err(error) = window.show() {
        tracing::error!(%error, "the window cannot be shown");
    }
}

/// Opens the window and runs the event loop until the app quits.
pub fn run_app() -> std::process::ExitCode {
    let started = std::time::Instant::now();
    let one_arena = crate::core::memory::limit_arenas(crate::core::memory::DESKTOP_ARENAS);
    crate::core::logging::init();
    #[cfg(target_os = "linux")]
    let web_cache = {
        webkit::self_check();
        web_memory::tune_jsc_from_env();
        web_memory::install_from_env();
        web_memory::cache_model_from_env()
    };
    tracing::debug!(capped = one_arena, "one malloc arena");
    let (page_loaded, page_loaded_rx) = tokio::sync::watch::channel(false);
    let state = match tauri::async_runtime::block_on(open_state(page_loaded_rx)) {
        Ok(state) => state,
        Err(error) => {
            tracing::error!(%error, "the app cannot start");
            return std::process::ExitCode::FAILURE;
        }
    };
    tracing::debug!(ms = started.elapsed().as_millis(), "startup: state open");
    let builder = tauri::Builder::default();
    #[cfg(desktop)]
    let builder = builder.plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
        if let Some(window) = app.get_webview_window("main") {
            // Best effort: a second launch only brings the window forward.
            let _ = window.unminimize();
            let _ = window.set_focus();
        }
    }));
    // The updater reads `plugins.updater` (endpoint, public key) from the config; it is added
    // here, not in `app_builder`, so the mock-runtime tests need no updater config.
    #[cfg(any(target_os = "linux", target_os = "macos", windows))]
    let builder = commands::update::register(builder);
    let builder = builder.on_page_load(move |webview, payload| {
        tracing::debug!(ms = started.elapsed().as_millis(), event = ?payload.event(), "startup: page");
        match payload.event() {
            PageLoadEvent::Started => {
                #[cfg(target_os = "linux")]
                if let Err(error) = webview.with_webview(move |platform| {
                    let inner = platform.inner();
                    web_memory::set_cache_model(&inner, web_cache);
                    // Once per process: a reload starts the page again, the webview stays.
                    static CARET: std::sync::Once = std::sync::Once::new();
                    CARET.call_once(|| caret::stop_blinking_when_idle(&inner));
                }) {
                    tracing::warn!(%error, "the webview cannot be set up (cache model, caret)");
                }
                // The window is created hidden (tauri.conf.json) and shown once its web process
                // is up and loading the page. Shown at once, GTK draws the webview before the web
                // process can answer, and WebKitGTK's UI process then blocks up to 500 ms waiting
                // for its first backing store (about half of all starts here; BENCHMARKS.md,
                // "Start").
                show(&webview.window())
            }
            PageLoadEvent::Finished => {
                page_loaded.send_replace(true);
            }
        }
    });
    let app = match app_builder(builder, state).build(context()) {
        Ok(app) => app,
        Err(error) => {
            tracing::error!(%error, "the app failed to start");
            return std::process::ExitCode::FAILURE;
        }
    };
    tracing::debug!(ms = started.elapsed().as_millis(), "startup: window built");
    // A page that never starts loading (a web process that cannot launch) still gets its window.
    let handle = app.handle().clone();
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(PAGE_WAIT).await;
        if let Some(window) = handle.get_webview_window("main") {
            show(&window.as_ref().window());
        }
    });
    app.run(|handle, event| {
        if let tauri::RunEvent::Exit = event {
            // Closing the app ends every stream now (their partial answers are saved).
            if let Some(state) = handle.try_state::<AppState>() {
                state.backend.cancel_all_chats();
            }
        }
    });
    std::process::ExitCode::SUCCESS
}
