//! `chat` (streams over a Channel), `cancel_chat` and `render_markdown`.

use serde::Serialize;
use tauri::ipc::Channel;
use tauri::State;

use crate::core::backend::conversations::ChatRejection;
use crate::core::backend::{ChatInput, ChatRequestInput, ChatSummary};
use crate::core::chat::SinkClosed;
use crate::ipc::args::{Arg, ChannelArg};
use crate::ipc::error::{CommandError, ErrorKind};
use crate::ipc::events::StreamEvent;
use crate::ipc::forward;
use crate::ipc::state::AppState;

/// Longest text `render_markdown` accepts, in bytes.
pub const MAX_MARKDOWN: usize = 8 << 20;

/// What `chat` resolves with: the outcome, and how many Channel messages preceded it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChatAnswer {
    /// How the chat ended.
    #[serde(flatten)]
    pub summary: ChatSummary,
    /// Channel messages sent before this answer. Tauri does not order Channel messages against
    /// a command's answer, so the page waits until it has this many before it settles the view
    /// (a failure carries the same count in `CommandError::events`).
    pub events: u32,
}

/// Streams one answer into `on_event`; resolves with the outcome, rejects with the error.
#[tauri::command]
pub async fn chat(
    state: State<'_, AppState>,
    request_id: Arg<String>,
    conversation_id: Arg<Option<String>>,
    request: Arg<ChatRequestInput>,
    replace_from: Arg<Option<String>>,
    on_event: ChannelArg<StreamEvent>,
) -> Result<ChatAnswer, CommandError> {
    let on_event: Channel<StreamEvent> = on_event.get("onEvent")?;
    let input = ChatInput {
        request_id: request_id.get("requestId")?,
        conversation_id: conversation_id.get("conversationId")?,
        request: request.get("request")?,
        replace_from: replace_from.get("replaceFrom")?,
    };
    // Events go to the page through the forwarder, which merges deltas that pile up (see
    // `ipc::forward`); the sink is dropped when the chat ends, which ends the forwarder.
    let (events_tx, events_rx) = tokio::sync::mpsc::unbounded_channel();
    let deliver = move |event| on_event.send(StreamEvent::from(event)).map_err(|_| ());
    let forwarder =
        tauri::async_runtime::spawn(forward::forward(events_rx, deliver, forward::MIN_GAP));
    let sink = move |event| events_tx.send(event).map_err(|_| SinkClosed);
    let result = state.backend.chat(input, sink).await;
    let events = forwarder.await.unwrap_or(0);
    result
        .map(|summary| ChatAnswer { summary, events })
        .map_err(|rejection| {
            let mut error = match rejection {
                ChatRejection::Busy => CommandError::new(
                    ErrorKind::Busy,
                    "a chat with this request id is already running",
                ),
                ChatRejection::Invalid(detail) => CommandError::invalid_argument("request", detail),
                ChatRejection::Failed(failure) => CommandError::from(failure),
            };
            error.events = Some(events);
            error
        })
}

/// Stops a running chat; `false` when it was not running (stopping is idempotent).
#[tauri::command]
pub fn cancel_chat(
    state: State<'_, AppState>,
    request_id: Arg<String>,
) -> Result<bool, CommandError> {
    Ok(state.backend.cancel_chat(&request_id.get("requestId")?))
}

/// Markdown → sanitized HTML.
#[tauri::command]
pub async fn render_markdown(
    state: State<'_, AppState>,
    text: Arg<String>,
) -> Result<String, CommandError> {
    let text = text.get("text")?;
    if text.len() > MAX_MARKDOWN {
        return Err(CommandError::invalid_argument(
            "text",
            format!("over {MAX_MARKDOWN} bytes"),
        ));
    }
    Ok(state.backend.render_markdown(text).await?)
}
