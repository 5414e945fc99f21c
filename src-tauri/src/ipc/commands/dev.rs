//! The developer panel's commands: `run_check` (streams each finished check over a Channel,
//! resolves with the report), `current_token` (the session token's header and claims) and
//! `recent_requests` (the request log).
//!
//! Invariant: no answer nor any Channel message holds a token, key, PEM or secret header value;
//! the check results are scrubbed by the check module, `current_token` returns only the decoded
//! header and claims, and the request records hold method, origin, path, status, timing, trace
//! id, the request headers with every credential redacted, and a scrubbed error.

use tauri::ipc::Channel;
use tauri::State;

use crate::core::backend::requests::{RequestRecord, DEFAULT_CAPACITY};
use crate::core::backend::TokenInfo;
use crate::core::check::{CheckReport, CheckResult};
use crate::ipc::args::{Arg, ChannelArg};
use crate::ipc::error::CommandError;
use crate::ipc::state::AppState;

/// Runs the configuration checks on the current connection, sending each result to
/// `on_event` as it finishes; resolves with the whole report (`ok` false when any failed).
#[tauri::command]
pub async fn run_check(
    state: State<'_, AppState>,
    origins: Arg<Option<Vec<String>>>,
    on_event: ChannelArg<CheckResult>,
) -> Result<CheckReport, CommandError> {
    let origins = origins.get("origins")?.unwrap_or_default();
    let on_event: Channel<CheckResult> = on_event.get("onEvent")?;
    let progress = move |result: &CheckResult| {
        // A closed panel stops listening; the run still finishes and resolves with the report.
        let _ = on_event.send(result.clone());
    };
    Ok(state.backend.run_check(&origins, progress).await?)
}

/// What the current chat token says (header, claims, expiry, session id): the token chats send
/// and `copy_token` copies, from the session's cache; never the token itself.
#[tauri::command]
pub async fn current_token(state: State<'_, AppState>) -> Result<TokenInfo, CommandError> {
    Ok(state.backend.current_token().await?)
}

/// The last exchanges the app made, newest first (at most `limit`, default and cap 50).
#[tauri::command]
pub fn recent_requests(
    state: State<'_, AppState>,
    limit: Arg<Option<u32>>,
) -> Result<Vec<RequestRecord>, CommandError> {
    let limit = limit
        .get("limit")?
        .map_or(DEFAULT_CAPACITY, |l| {
            usize::try_from(l).unwrap_or(DEFAULT_CAPACITY)
        })
        .min(DEFAULT_CAPACITY);
    Ok(state.backend.recent_requests(limit))
}
