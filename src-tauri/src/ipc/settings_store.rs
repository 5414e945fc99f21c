//! The settings file through tauri-plugin-store: the connection settings under
//! [`STORE_KEY`] (the shape `core::config::Settings::load` reads, so the CLI shares them) and
//! the UI preferences under [`UI_KEY`]. Secrets are never written here.

use std::path::Path;

use tauri::{Manager, Runtime};
use tauri_plugin_store::StoreExt;

use crate::core::backend::UiPrefs;
use crate::core::config::settings::STORE_KEY;
use crate::core::config::Settings;
use crate::core::Error;

/// Key of the UI preferences in the store.
pub const UI_KEY: &str = "ui";

fn store_error(e: tauri_plugin_store::Error) -> Error {
    Error::Storage(format!("settings store: {e}"))
}

/// The UI preferences (defaults when absent or malformed).
pub fn read_ui<R: Runtime>(app: &impl Manager<R>, path: &Path) -> Result<UiPrefs, Error> {
    let store = app.store(path).map_err(store_error)?;
    Ok(store
        .get(UI_KEY)
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default())
}

/// Persists both parts and writes the file now.
pub fn write<R: Runtime>(
    app: &impl Manager<R>,
    path: &Path,
    settings: &Settings,
    ui: &UiPrefs,
) -> Result<(), Error> {
    let store = app.store(path).map_err(store_error)?;
    let encode = |e: serde_json::Error| Error::Storage(format!("cannot encode settings: {e}"));
    store.set(STORE_KEY, serde_json::to_value(settings).map_err(encode)?);
    store.set(UI_KEY, serde_json::to_value(ui).map_err(encode)?);
    store.save().map_err(store_error)
}
