//! The conversation sidebar's commands, each one history call.

use tauri::State;

use crate::core::backend::{ConversationDraft, ConversationItem, ConversationView};
use crate::core::history::ExportFormat;
use crate::ipc::args::Arg;
use crate::ipc::error::CommandError;
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

/// One conversation with its messages.
#[tauri::command]
pub async fn get_conversation(
    state: State<'_, AppState>,
    id: Arg<String>,
) -> Result<ConversationView, CommandError> {
    Ok(state.backend.get_conversation(id.get("id")?).await?)
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
