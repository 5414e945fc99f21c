//! Status, tokens, settings, secrets and external links.

use tauri::{AppHandle, Runtime, State};
use tauri_plugin_clipboard_manager::ClipboardExt;
use tauri_plugin_opener::OpenerExt;

use crate::core::backend::{AppStatus, MintInput, SecretName, SettingsView, TokenInfo};
use crate::core::redact::Secret;
use crate::ipc::args::Arg;
use crate::ipc::error::{CommandError, ErrorKind};
use crate::ipc::settings_store;
use crate::ipc::state::AppState;

/// Mode, origin, user, keyring state and token expiry.
#[tauri::command]
pub async fn app_status(state: State<'_, AppState>) -> Result<AppStatus, CommandError> {
    Ok(state.backend.status().await)
}

/// Mints a token and returns what it says, never the token.
#[tauri::command]
pub async fn mint(
    state: State<'_, AppState>,
    user: Arg<Option<String>>,
    tier: Arg<Option<String>>,
    ttl: Arg<Option<u64>>,
) -> Result<TokenInfo, CommandError> {
    let input = MintInput {
        user: user.get("user")?,
        tier: tier.get("tier")?,
        ttl: ttl.get("ttl")?,
    };
    Ok(state.backend.mint(input).await?)
}

/// Puts the current chat token on the clipboard (for developers); returns nothing.
#[tauri::command]
pub async fn copy_token<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
) -> Result<(), CommandError> {
    let token = state.backend.raw_token().await?;
    app.clipboard()
        .write_text(token.expose().to_string())
        .map_err(|e| CommandError::new(ErrorKind::Internal, format!("clipboard: {e}")))
}

/// The non-secret settings, the UI preferences and which secrets are stored.
#[tauri::command]
pub async fn get_settings<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
) -> Result<SettingsView, CommandError> {
    let ui = settings_store::read_ui(&app, &state.settings_path)?;
    Ok(state.backend.settings_view(ui).await?)
}

/// Validates and applies new settings, then persists them; returns what is now in effect.
#[tauri::command]
pub async fn update_settings<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    settings: Arg<SettingsView>,
) -> Result<SettingsView, CommandError> {
    let view = settings.get("settings")?;
    let applied = state.backend.update_settings(&view).await?;
    settings_store::write(&app, &state.settings_path, &applied, &view.ui)?;
    Ok(state.backend.settings_view(view.ui).await?)
}

/// Stores a secret in the keyring. Write-only: nothing returns it.
#[tauri::command]
pub async fn set_secret(
    state: State<'_, AppState>,
    name: Arg<SecretName>,
    value: Arg<String>,
) -> Result<(), CommandError> {
    let name = name.get("name")?;
    let value = Secret::new(value.get("value")?);
    Ok(state.backend.set_secret(name, value).await?)
}

/// Forgets every secret and cached token.
#[tauri::command]
pub async fn sign_out(state: State<'_, AppState>) -> Result<(), CommandError> {
    Ok(state.backend.sign_out().await?)
}

/// Opens an `http`, `https` or `mailto` link in the system's browser or mail app.
#[tauri::command]
pub fn open_external<R: Runtime>(app: AppHandle<R>, url: Arg<String>) -> Result<(), CommandError> {
    let url = url.get("url")?;
    let parsed = url::Url::parse(&url)
        .map_err(|_| CommandError::invalid_argument("url", "expected an absolute url"))?;
    if !matches!(parsed.scheme(), "http" | "https" | "mailto") {
        return Err(CommandError::invalid_argument(
            "url",
            "only http, https and mailto links open",
        ));
    }
    app.opener()
        .open_url(parsed.as_str(), None::<&str>)
        .map_err(|e| CommandError::new(ErrorKind::Internal, format!("cannot open the link: {e}")))
}
