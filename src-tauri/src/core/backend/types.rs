//! The shapes the UI sends and receives (camelCase JSON): inputs of [`super::Backend`] methods
//! and their answers.
//!
//! Invariant: no answer type has a field that could hold a token, key, PEM or credential; the
//! secrets are only ever *inputs* ([`SecretName`] with a value), and settings report only
//! whether each secret is stored.

use serde::{Deserialize, Serialize};

use crate::core::config::Settings;
use crate::core::history::{self, ChatParams, Role, Status};

/// Where secrets are kept, for the status bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum KeyringStatus {
    /// In the OS keyring.
    Persisted,
    /// In memory only: gone at exit.
    MemoryOnly,
}

/// `app_status`: what the status bar shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppStatus {
    /// `demo`, `tokenEndpoint`, `apiKey`, `localSigning`, or `unconfigured` when the settings do
    /// not resolve (see `problem`).
    pub mode: String,
    /// The gateway origin chats go to.
    pub base_url: Option<String>,
    /// The configured end user.
    pub user_id: Option<String>,
    /// Whether this is the built-in demo gateway.
    pub demo: bool,
    /// Where secrets are kept.
    pub keyring: KeyringStatus,
    /// Why the keyring is not used, when it is not.
    pub keyring_detail: Option<String>,
    /// Expiry of the cached token, epoch seconds.
    pub token_expires_at: Option<i64>,
    /// Why the configuration does not resolve, when it does not.
    pub problem: Option<String>,
    /// The app version.
    pub version: String,
}

/// The UI's preferences that are not part of the connection.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct UiPrefs {
    /// `system`, `light` or `dark`.
    pub theme: Option<String>,
    /// The first-run screen was dismissed.
    pub first_run_dismissed: bool,
    /// Model for new conversations.
    pub default_model: Option<String>,
}

/// Which secrets are stored (never their values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretPresence {
    /// An API key is stored.
    pub api_key: bool,
    /// A signing key is stored.
    pub signing_key: bool,
    /// A token endpoint session credential is stored.
    pub session_token: bool,
}

/// What the UI chose to connect with; decides which settings are cleared on save.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AuthChoice {
    /// Nothing configured: the built-in gateway.
    #[default]
    Demo,
    /// The integrator's token endpoint.
    TokenEndpoint,
    /// An API key.
    ApiKey,
    /// A local signing key.
    LocalSigning,
}

/// `get_settings` / `update_settings`: the non-secret settings and UI preferences.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SettingsView {
    /// The connection settings (camelCase fields of [`Settings`]).
    #[serde(flatten)]
    pub core: Settings,
    /// UI preferences.
    #[serde(flatten)]
    pub ui: UiPrefs,
    /// How tokens are obtained (derived on read, an instruction on update).
    pub auth_mode: AuthChoice,
    /// Which secrets are stored; ignored on update.
    #[serde(skip_deserializing)]
    pub secrets: SecretPresence,
}

/// A secret the UI may write (and never read).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SecretName {
    /// `behest_sk_live_…`.
    ApiKey,
    /// A PEM private key (bare, `behest_pk_`-prefixed or base64).
    SigningKey,
    /// The token endpoint's session credential.
    SessionToken,
}

/// `mint` options.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct MintInput {
    /// End user.
    pub user: Option<String>,
    /// Tier id or name.
    pub tier: Option<String>,
    /// Lifetime in seconds.
    pub ttl: Option<u64>,
}

/// `mint`: what a token says, never the token.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenInfo {
    /// The auth mode that produced it.
    pub mode: String,
    /// The JWT header.
    pub header: serde_json::Value,
    /// The JWT claims.
    pub claims: serde_json::Value,
    /// Expiry, epoch seconds.
    pub expires_at: Option<i64>,
    /// Session id.
    pub session_id: Option<String>,
}

/// One message of a chat request.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct InputMessage {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The text.
    pub content: String,
}

/// The `request` of a `chat` call.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatRequestInput {
    /// Model; the project default when absent or empty.
    #[serde(default)]
    pub model: Option<String>,
    /// The whole request: the conversation so far, ending with the user's new message. Either
    /// this or [`ChatRequestInput::message`].
    #[serde(default)]
    pub messages: Option<Vec<InputMessage>>,
    /// Only the user's new message: the request is `system_prompt`, then the stored
    /// conversation's dialogue (up to `replaceFrom` when that is set), then this. What the
    /// app's page sends, so it never holds a long conversation's text to send it back.
    #[serde(default)]
    pub message: Option<String>,
    /// The system prompt that goes first with [`ChatRequestInput::message`] (blank: none).
    /// With `messages`, a system prompt is one of them.
    #[serde(default)]
    pub system_prompt: Option<String>,
    /// Sampling temperature.
    #[serde(default)]
    pub temperature: Option<f64>,
    /// Cap on generated tokens.
    #[serde(default)]
    pub max_tokens: Option<u32>,
}

/// A chat to run.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatInput {
    /// The id `cancel_chat` names.
    pub request_id: String,
    /// The conversation to record it in (a new one when `None`).
    pub conversation_id: Option<String>,
    /// What to send.
    pub request: ChatRequestInput,
    /// Drop this message and every later one first (regenerate, edit and resend).
    pub replace_from: Option<String>,
}

/// How a chat ended when it did not fail.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatSummary {
    /// The conversation it was recorded in.
    pub conversation_id: String,
    /// The saved user message.
    pub user_message_id: String,
    /// The saved answer.
    pub assistant_message_id: String,
    /// Why generation stopped.
    pub finish_reason: Option<String>,
    /// Cut short (stopped or broken); the partial text is saved.
    pub interrupted: bool,
}

/// A conversation in the sidebar.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationItem {
    /// Id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Model.
    pub model: Option<String>,
    /// Last change, Unix ms.
    pub updated_at: i64,
    /// A search snippet (search results only).
    pub snippet: Option<String>,
}

/// A new conversation.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ConversationDraft {
    /// Title; "New chat" when empty.
    pub title: Option<String>,
    /// Model.
    pub model: Option<String>,
    /// System prompt.
    pub system_prompt: Option<String>,
    /// Temperature.
    pub temperature: Option<f64>,
    /// Max tokens.
    pub max_tokens: Option<u32>,
}

impl ConversationDraft {
    /// The draft's chat parameters.
    pub fn params(&self) -> ChatParams {
        ChatParams {
            model: self.model.clone().filter(|m| !m.trim().is_empty()),
            system_prompt: self.system_prompt.clone().filter(|s| !s.trim().is_empty()),
            temperature: self.temperature,
            max_tokens: self.max_tokens,
        }
    }
}

/// A conversation with its parameters and messages.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationView {
    /// Id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Model.
    pub model: Option<String>,
    /// System prompt.
    pub system_prompt: Option<String>,
    /// Temperature.
    pub temperature: Option<f64>,
    /// Max tokens.
    pub max_tokens: Option<u32>,
    /// Last change, Unix ms.
    pub updated_at: i64,
    /// Messages, oldest first (empty for a bare conversation): all of them, or the latest ones
    /// asked for.
    pub messages: Vec<MessageView>,
    /// How many messages come before the first of `messages` (0 when they are all there).
    pub earlier: u64,
}

impl From<history::Conversation> for ConversationView {
    fn from(c: history::Conversation) -> Self {
        ConversationView {
            id: c.id,
            title: c.title,
            model: c.params.model,
            system_prompt: c.params.system_prompt,
            temperature: c.params.temperature,
            max_tokens: c.params.max_tokens,
            updated_at: c.updated_at,
            messages: Vec::new(),
            earlier: 0,
        }
    }
}

/// One stored message.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageView {
    /// Id.
    pub id: String,
    /// `system`, `user` or `assistant`.
    pub role: Role,
    /// Text (partial for interrupted and failed answers).
    pub content: String,
    /// `complete`, `streaming`, `interrupted` or `error`.
    pub status: Status,
    /// Error kind of a failed answer.
    pub error_kind: Option<String>,
    /// Error message of a failed answer.
    pub error_message: Option<String>,
    /// Time to first token, ms.
    pub ttft_ms: Option<u64>,
    /// Tokens per second.
    pub tokens_per_second: Option<f64>,
    /// Total tokens.
    pub total_tokens: Option<u64>,
    /// Trace id.
    pub trace_id: Option<String>,
}

impl From<history::Message> for MessageView {
    fn from(m: history::Message) -> Self {
        MessageView {
            id: m.id,
            role: m.role,
            content: m.content,
            status: m.status,
            error_kind: m.error_kind,
            error_message: m.error_message,
            ttft_ms: m.metrics.ttft_ms,
            tokens_per_second: m.metrics.tokens_per_second,
            total_tokens: m.metrics.usage.map(|u| u.total_tokens),
            trace_id: m.metrics.trace_id,
        }
    }
}
