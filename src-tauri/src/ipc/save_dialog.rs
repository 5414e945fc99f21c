//! The native save dialog, opened from Rust only.
//!
//! Invariants: the page is granted no `dialog:*` permission, so only our own commands open a
//! dialog, and the path the user picks never comes from the page. The dialog is shown through
//! the plugin's callback form (it runs on the main thread, the command awaits a oneshot), so no
//! thread waits on the user. The dialog plugin's init script replaces `window.alert`/`confirm`
//! with calls to its `message` command, which the page may not make: so the page never uses them
//! (it asks in its own `<dialog>`, e.g. before a delete).

use std::path::PathBuf;

use tauri::{Runtime, WebviewWindow};
use tauri_plugin_dialog::DialogExt;

use crate::core::history::ExportFormat;
use crate::ipc::error::{CommandError, ErrorKind};

/// Asks where to save a `format` export, suggesting `file_name`; `None` when the user cancels.
pub async fn ask_save_path<R: Runtime>(
    window: &WebviewWindow<R>,
    title: &str,
    file_name: &str,
    format: ExportFormat,
) -> Result<Option<PathBuf>, CommandError> {
    let (picked, answer) = tokio::sync::oneshot::channel();
    let mut dialog = window.dialog().file();
    // Start where people keep documents, not in whatever folder the app was launched from.
    if let Some(dir) = dirs::document_dir().or_else(dirs::home_dir) {
        dialog = dialog.set_directory(dir);
    }
    dialog
        .set_parent(window)
        .set_title(title)
        .set_file_name(file_name)
        .add_filter(format.label(), &[format.extension()])
        .set_can_create_directories(true)
        .save_file(move |path| {
            // The command may have been dropped (its window closed): nobody waits for the path.
            let _ = picked.send(path);
        });
    let Some(path) = answer.await.map_err(|_| {
        CommandError::new(ErrorKind::Internal, "the save dialog could not be shown")
    })?
    else {
        return Ok(None);
    };
    path.into_path().map(Some).map_err(|e| {
        CommandError::invalid_argument("path", format!("the chosen file is not a local path: {e}"))
    })
}
