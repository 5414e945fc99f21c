//! The `behest-desktop` binary: everything lives in the library.

// Hide the console window that Windows would otherwise open next to the app window.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() -> std::process::ExitCode {
    behest_desktop::run()
}
