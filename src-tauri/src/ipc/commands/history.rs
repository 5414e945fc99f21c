//! The conversation sidebar's commands, each one history call.

use tauri::{Runtime, State, WebviewWindow};

use crate::core::backend::{ConversationDraft, ConversationItem, ConversationView};
use crate::core::history::{ExportFormat, SavedExport};
use crate::ipc::args::Arg;
use crate::ipc::error::CommandError;
use crate::ipc::save_dialog;
use crate::ipc::state::AppState;

/// Every conversation, newest first.
#[tauri::command]
pub async fn list_conversations(
    state: State<'_, AppState>,
) -> Result<Vec<ConversationItem>, CommandError> {
    Ok(state.backend.list_conversations().await?)
}

/// Conversations matching a full-text query.
#[tauri::command]
pub async fn search_conversations(
    state: State<'_, AppState>,
    query: Arg<String>,
) -> Result<Vec<ConversationItem>, CommandError> {
    Ok(state
        .backend
        .search_conversations(query.get("query")?)
        .await?)
}

/// One conversation with its messages: all of them, or the latest `limit` (before the message
/// `before` when that is given) and how many come before those (`earlier`).
#[tauri::command]
pub async fn get_conversation(
    state: State<'_, AppState>,
    id: Arg<String>,
    before: Arg<Option<String>>,
    limit: Arg<Option<u32>>,
) -> Result<ConversationView, CommandError> {
    let limit = limit.get("limit")?;
    if limit == Some(0) {
        return Err(CommandError::invalid_argument(
            "limit",
            "expected at least 1",
        ));
    }
    Ok(state
        .backend
        .get_conversation(id.get("id")?, before.get("before")?, limit)
        .await?)
}

/// A new, empty conversation.
#[tauri::command]
pub async fn create_conversation(
    state: State<'_, AppState>,
    draft: Arg<Option<ConversationDraft>>,
) -> Result<ConversationView, CommandError> {
    Ok(state
        .backend
        .create_conversation(draft.get("draft")?.unwrap_or_default())
        .await?)
}

/// Renames a conversation.
#[tauri::command]
pub async fn rename_conversation(
    state: State<'_, AppState>,
    id: Arg<String>,
    title: Arg<String>,
) -> Result<ConversationView, CommandError> {
    Ok(state
        .backend
        .rename_conversation(id.get("id")?, title.get("title")?)
        .await?)
}

/// Sets a conversation's model, system prompt, temperature and max tokens.
#[tauri::command]
pub async fn update_conversation(
    state: State<'_, AppState>,
    id: Arg<String>,
    params: Arg<ConversationDraft>,
) -> Result<ConversationView, CommandError> {
    Ok(state
        .backend
        .update_conversation(id.get("id")?, params.get("params")?)
        .await?)
}

/// Deletes a conversation.
#[tauri::command]
pub async fn delete_conversation(
    state: State<'_, AppState>,
    id: Arg<String>,
) -> Result<(), CommandError> {
    Ok(state.backend.delete_conversation(id.get("id")?).await?)
}

/// One conversation as Markdown (`md`) or JSON (`json`).
#[tauri::command]
pub async fn export_conversation(
    state: State<'_, AppState>,
    id: Arg<String>,
    format: Arg<ExportFormat>,
) -> Result<String, CommandError> {
    Ok(state
        .backend
        .export_conversation(id.get("id")?, format.get("format")?)
        .await?)
}

/// Saves one conversation (`id`) or all of them (no `id`) as `md` or `json` where the user
/// picks in the native save dialog; `null` when they cancel. The export is built first, so an
/// unknown id fails before any dialog opens.
#[tauri::command]
pub async fn export_to_file<R: Runtime>(
    window: WebviewWindow<R>,
    state: State<'_, AppState>,
    id: Arg<Option<String>>,
    format: Arg<ExportFormat>,
) -> Result<Option<SavedExport>, CommandError> {
    let (id, format) = (id.get("id")?, format.get("format")?);
    let title = match id {
        Some(_) => "Export conversation",
        None => "Export all conversations",
    };
    let document = state.backend.export_document(id, format).await?;
    let picked = save_dialog::ask_save_path(&window, title, &document.file_name, format).await?;
    let Some(path) = picked else { return Ok(None) };
    Ok(Some(state.backend.save_export(path, document.text).await?))
}
