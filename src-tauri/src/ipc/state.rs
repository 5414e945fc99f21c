//! What every command gets: the [`Backend`] and where the settings store lives.

use std::path::PathBuf;
use std::sync::Arc;

use crate::core::backend::Backend;

/// The app's managed state.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The core facade.
    pub backend: Arc<Backend>,
    /// The settings file (a tauri-plugin-store file, also read by the CLI).
    pub settings_path: PathBuf,
}

impl AppState {
    /// State over `backend`, persisting settings at `settings_path`.
    pub fn new(backend: Arc<Backend>, settings_path: PathBuf) -> Self {
        AppState {
            backend,
            settings_path,
        }
    }
}
