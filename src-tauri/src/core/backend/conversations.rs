//! Chats and their history: [`Backend::chat`] records the exchange as it streams (the user's
//! message before the request, the answer's text as it arrives, the outcome at the end), and
//! the conversation methods the sidebar uses.
//!
//! Invariants: a chat's text reaches the sink and the history writer from the same event, so
//! what was shown is what is saved; a failure keeps the partial answer (saved with status
//! `error`); cancellation is an outcome (`interrupted`), not an error.

use std::path::PathBuf;

use rusqlite::params;

use super::requests::Exchange;
use super::types::{
    ChatInput, ChatSummary, ConversationDraft, ConversationItem, ConversationView, InputMessage,
    MessageView,
};
use super::Backend;
use crate::core::chat::{ChatEvent, ChatFailure, ChatSend, ChatStatus, SinkClosed};
use crate::core::history::{self, ChatParams, ExportFormat, Outcome};
use crate::core::protocol::chat::ChatMessage;
use crate::core::{Error, Result};

/// Why a chat did not run to an outcome.
#[derive(Debug)]
pub enum ChatRejection {
    /// Another chat already uses this request id.
    Busy,
    /// The request was malformed (named by the string).
    Invalid(String),
    /// It failed; the text shown so far is in the failure.
    Failed(ChatFailure),
}

impl From<Error> for ChatRejection {
    fn from(error: Error) -> Self {
        ChatRejection::Failed(ChatFailure::before_text(error))
    }
}

/// The largest request the app sends, in bytes of message text.
pub const MAX_REQUEST_TEXT: usize = 4 << 20;

impl Backend {
    /// Runs one chat, pushing its events into `sink` and recording it in the history.
    pub async fn chat<F>(
        &self,
        input: ChatInput,
        mut sink: F,
    ) -> std::result::Result<ChatSummary, ChatRejection>
    where
        F: FnMut(ChatEvent) -> std::result::Result<(), SinkClosed> + Send,
    {
        let guard = self
            .inflight
            .register(input.request_id.clone())
            .ok_or(ChatRejection::Busy)?;
        let request = input.request;
        let messages =
            match (&request.messages, &request.message) {
                (Some(_), Some(_)) => return Err(ChatRejection::Invalid(
                    "request: send messages (the whole conversation) or message (the new one), \
                     not both"
                        .into(),
                )),
                (None, None) => {
                    return Err(ChatRejection::Invalid(
                        "request: needs messages (the whole conversation) or message (the new one)"
                            .into(),
                    ))
                }
                (Some(list), None) => whole_request(list, request.system_prompt.as_deref())?,
                (None, Some(text)) if text.trim().is_empty() => {
                    return Err(ChatRejection::Invalid("request.message is empty".into()))
                }
                (None, Some(text)) => {
                    let earlier = self
                        .dialogue_before(input.conversation_id.clone(), input.replace_from.clone())
                        .await?;
                    next_request(text, request.system_prompt.as_deref(), earlier)
                }
            };
        // Both forms end with the user's new message (checked or put there above).
        let user_text = messages
            .last()
            .map(|m| m.content.clone())
            .unwrap_or_default();
        let size: usize = messages.iter().map(|m| m.content.len()).sum();
        if size > MAX_REQUEST_TEXT {
            return Err(ChatRejection::Invalid(format!(
                "request: the conversation is over {MAX_REQUEST_TEXT} bytes of text; start a \
                 new one, or edit an earlier message to continue from there"
            )));
        }
        let link = self.ready_link().await?;
        if let (Some(conversation), Some(from)) = (&input.conversation_id, &input.replace_from) {
            let (conversation, from) = (conversation.clone(), from.clone());
            self.history()
                .await?
                .call(move |h| truncate_from(h, &conversation, &from))
                .await?;
        }
        let model = request.model.clone().filter(|m| !m.trim().is_empty());
        let params = ChatParams {
            model: model.clone(),
            system_prompt: None,
            temperature: request.temperature,
            max_tokens: request.max_tokens,
        };
        let exchange = self
            .history()
            .await?
            .begin_exchange(input.conversation_id.clone(), user_text, params)
            .await?;
        let mut send = ChatSend::new(messages);
        send.request.model = model;
        send.request.temperature = request.temperature;
        send.request.max_tokens = request.max_tokens;
        send.thread_id = exchange.conversation().thread_header().map(str::to_string);

        let began = std::time::Instant::now();
        let result = link
            .chat
            .send(&send, guard.token(), |event| {
                if let ChatEvent::Delta { text } = &event {
                    if let Err(error) = exchange.append(text) {
                        tracing::warn!(%error, "history append failed; the text is still shown");
                    }
                }
                sink(event)
            })
            .await;
        // The headers as sent (the token's placeholder is redacted again when recorded); a
        // header that cannot be rebuilt only leaves the log's row without headers.
        let headers = link
            .chat
            .request_headers(&send, link.tokens.session_id().as_deref())
            .unwrap_or_default();
        self.requests.record(Exchange::chat(
            &link.base_url,
            headers,
            began.elapsed(),
            &result,
        ));
        let conversation_id = exchange.conversation().id.clone();
        let user_message_id = exchange.user_message_id().to_string();
        let assistant_message_id = exchange.message_id().to_string();
        if let Err(error) = exchange.finish(Outcome::of_chat(&result)).await {
            tracing::warn!(%error, "saving the answer's outcome failed");
        }
        // The request carried the whole conversation (and the demo gateway parsed it again).
        self.trim_when_quiet();
        match result {
            Ok(outcome) => Ok(ChatSummary {
                conversation_id,
                user_message_id,
                assistant_message_id,
                finish_reason: outcome.finish_reason,
                interrupted: outcome.status != ChatStatus::Completed,
            }),
            Err(failure) => Err(ChatRejection::Failed(failure)),
        }
    }

    /// The stored dialogue a chat that sent only its new message continues: the conversation's
    /// messages up to `replace_from` (all of them without it; none for a new conversation).
    async fn dialogue_before(
        &self,
        conversation_id: Option<String>,
        replace_from: Option<String>,
    ) -> Result<Vec<history::Message>> {
        let Some(id) = conversation_id else {
            return Ok(Vec::new());
        };
        let page = self
            .history()
            .await?
            .call(move |h| h.dialogue(&id, replace_from.as_deref(), None))
            .await
            .map_err(|error| match error {
                // The caller named it `replaceFrom`.
                Error::InvalidInput { what, reason } if what == "before" => Error::InvalidInput {
                    what: "replaceFrom".into(),
                    reason,
                },
                other => other,
            })?;
        Ok(page.messages)
    }

    /// Every conversation, newest first.
    pub async fn list_conversations(&self) -> Result<Vec<ConversationItem>> {
        let list = self
            .history()
            .await?
            .call(|h| h.list_conversations())
            .await?;
        Ok(list
            .into_iter()
            .map(|c| ConversationItem {
                id: c.id,
                title: c.title,
                model: c.model,
                updated_at: c.updated_at,
                snippet: None,
            })
            .collect())
    }

    /// Conversations with a message matching `query` (full text), best first, one per
    /// conversation with the best snippet.
    pub async fn search_conversations(&self, query: String) -> Result<Vec<ConversationItem>> {
        if query.trim().is_empty() {
            return self.list_conversations().await;
        }
        let hits = self
            .history()
            .await?
            .call(move |h| h.search(&query, history::search::DEFAULT_LIMIT))
            .await?;
        let mut items: Vec<ConversationItem> = Vec::new();
        for hit in hits {
            if items.iter().any(|i| i.id == hit.conversation_id) {
                continue;
            }
            items.push(ConversationItem {
                snippet: Some(hit.snippet_marked("", "")),
                id: hit.conversation_id,
                title: hit.conversation_title,
                model: None,
                updated_at: hit.created_at,
            });
        }
        Ok(items)
    }

    /// One conversation with the latest `limit` of its messages (all when `None`) that come
    /// before the message `before` (see [`history::History::dialogue`]), and how many come
    /// before those: the app's page opens a conversation with its latest messages and asks for
    /// earlier ones as the user scrolls up.
    pub async fn get_conversation(
        &self,
        id: String,
        before: Option<String>,
        limit: Option<u32>,
    ) -> Result<ConversationView> {
        let page = self
            .history()
            .await?
            .call(move |h| h.dialogue(&id, before.as_deref(), limit))
            .await?;
        self.trim_when_quiet();
        let mut view = ConversationView::from(page.conversation);
        view.messages = page.messages.into_iter().map(MessageView::from).collect();
        view.earlier = page.earlier;
        Ok(view)
    }

    /// Creates an empty conversation.
    pub async fn create_conversation(&self, draft: ConversationDraft) -> Result<ConversationView> {
        let title = draft
            .title
            .clone()
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty());
        let title = title.unwrap_or_else(|| "New chat".into());
        if title.chars().count() > 200 {
            return Err(Error::settings("title", "expected at most 200 characters"));
        }
        let params = draft.params();
        let created = self
            .history()
            .await?
            .call(move |h| h.create_conversation(&title, params))
            .await?;
        Ok(ConversationView::from(created))
    }

    /// Renames a conversation.
    pub async fn rename_conversation(&self, id: String, title: String) -> Result<ConversationView> {
        let title = title.trim().to_string();
        if title.is_empty() || title.chars().count() > 200 {
            return Err(Error::settings("title", "expected 1 to 200 characters"));
        }
        Ok(self
            .history()
            .await?
            .call(move |h| h.rename_conversation(&id, &title))
            .await?
            .into())
    }

    /// Sets a conversation's model, system prompt, temperature and max tokens.
    pub async fn update_conversation(
        &self,
        id: String,
        draft: ConversationDraft,
    ) -> Result<ConversationView> {
        if draft.temperature.is_some_and(|t| !(0.0..=2.0).contains(&t)) {
            return Err(Error::settings("temperature", "expected 0 to 2"));
        }
        let params = draft.params();
        Ok(self
            .history()
            .await?
            .call(move |h| h.set_params(&id, &params))
            .await?
            .into())
    }

    /// Deletes a conversation and its messages.
    pub async fn delete_conversation(&self, id: String) -> Result<()> {
        self.history()
            .await?
            .call(move |h| h.delete_conversation(&id))
            .await
    }

    /// One conversation as Markdown or JSON.
    pub async fn export_conversation(&self, id: String, format: ExportFormat) -> Result<String> {
        let text = self
            .history()
            .await?
            .call(move |h| h.export(Some(&id), format))
            .await;
        self.trim_when_quiet();
        text
    }

    /// One conversation (`Some(id)`) or all of them in `format`, with the file name to suggest.
    pub async fn export_document(
        &self,
        id: Option<String>,
        format: ExportFormat,
    ) -> Result<history::ExportDocument> {
        self.history()
            .await?
            .call(move |h| h.export_document(id.as_deref(), format))
            .await
    }

    /// Writes an export's text to `path` atomically, off the async workers.
    pub async fn save_export(&self, path: PathBuf, text: String) -> Result<history::SavedExport> {
        let saved =
            tokio::task::spawn_blocking(move || history::export_file::save_export(path, &text))
                .await
                .map_err(|e| Error::Storage(format!("the export write stopped: {e}")))?;
        self.trim_when_quiet();
        saved
    }
}

/// The request of a `chat` that sent the whole conversation (`messages`), checked to end with
/// the user's new message.
fn whole_request(
    list: &[InputMessage],
    system_prompt: Option<&str>,
) -> std::result::Result<Vec<ChatMessage>, ChatRejection> {
    if system_prompt.is_some() {
        return Err(ChatRejection::Invalid(
            "request.systemPrompt goes with message; with messages, the system prompt is one of \
             them"
                .into(),
        ));
    }
    if !list
        .last()
        .is_some_and(|m| m.role == "user" && !m.content.trim().is_empty())
    {
        return Err(ChatRejection::Invalid(
            "request.messages must end with a non-empty user message".into(),
        ));
    }
    if list
        .iter()
        .any(|m| !matches!(m.role.as_str(), "system" | "user" | "assistant"))
    {
        return Err(ChatRejection::Invalid(
            "request.messages: role must be system, user or assistant".into(),
        ));
    }
    Ok(list
        .iter()
        .map(|m| ChatMessage::new(&m.role, m.content.clone()))
        .collect())
}

/// The request of a `chat` that sent only the user's new message, `text`: the system prompt
/// unless blank, the stored dialogue before it (`earlier`; messages without text, such as an
/// answer that failed before its first word, are left out), then the new message.
fn next_request(
    text: &str,
    system_prompt: Option<&str>,
    earlier: Vec<history::Message>,
) -> Vec<ChatMessage> {
    let mut messages = Vec::with_capacity(earlier.len() + 2);
    if let Some(system) = system_prompt.filter(|s| !s.trim().is_empty()) {
        messages.push(ChatMessage::new("system", system.to_string()));
    }
    messages.extend(
        earlier
            .into_iter()
            .filter(|m| !m.content.is_empty())
            .map(|m| ChatMessage::new(m.role.as_str(), m.content)),
    );
    messages.push(ChatMessage::new("user", text.to_string()));
    messages
}

/// Deletes `message_id` and every later message of `conversation_id` (regenerate, edit and
/// resend). A message of another conversation is refused.
///
/// Stand-in until the history module offers this itself.
fn truncate_from(
    history: &history::History,
    conversation_id: &str,
    message_id: &str,
) -> Result<()> {
    let message = history.message(message_id)?;
    if message.conversation_id != conversation_id {
        return Err(Error::settings(
            "replaceFrom",
            "names a message of another conversation",
        ));
    }
    let conn = history.lock();
    conn.execute(
        "DELETE FROM messages WHERE conversation_id = ?1 AND seq >= (SELECT seq FROM messages WHERE id = ?2)",
        params![conversation_id, message_id],
    )?;
    Ok(())
}
