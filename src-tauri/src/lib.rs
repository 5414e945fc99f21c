//! Behest Desktop: the desktop chat client for the Behest AI gateway.
//!
//! `core` holds all behaviour and knows nothing of Tauri; `ipc` is the only Tauri-aware code;
//! `cli` runs the same core headless (gateway, mint, chat, ...).

pub mod cli;
pub mod core;
pub mod ipc;

/// Runs the app: a headless subcommand when one is given, otherwise the window.
pub fn run() -> std::process::ExitCode {
    core::logging::install_panic_hook();
    cli::main()
}
