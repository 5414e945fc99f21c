//! OpenAI-compatible chat completion request, answer and stream chunk types (§6).

use serde::{Deserialize, Serialize};

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// `system`, `user`, `assistant` (or `tool`).
    pub role: String,
    /// The text.
    pub content: String,
}

impl ChatMessage {
    /// A message with the given role.
    pub fn new(role: &str, content: impl Into<String>) -> Self {
        ChatMessage {
            role: role.to_string(),
            content: content.into(),
        }
    }
}

/// `stream_options` of a streaming request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamOptions {
    /// Ask for one final chunk with `usage` and empty `choices`.
    pub include_usage: bool,
}

/// `POST /v1/chat/completions` body. Fields the client does not know pass through `extra`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ChatRequest {
    /// Model; optional (the project default is used when absent or empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The conversation so far.
    pub messages: Vec<ChatMessage>,
    /// Sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Cap on generated tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Stream the answer as SSE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Options of the stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
    /// Any other OpenAI parameter, passed through unchanged.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// Token counts of one completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens in the prompt.
    pub prompt_tokens: u64,
    /// Tokens generated.
    pub completion_tokens: u64,
    /// Their sum.
    pub total_tokens: u64,
}

/// A non-streaming answer (`object: "chat.completion"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatCompletion {
    /// Completion id.
    pub id: String,
    /// `chat.completion`.
    pub object: String,
    /// Epoch seconds.
    pub created: i64,
    /// Model that answered.
    pub model: String,
    /// The choices (one).
    pub choices: Vec<CompletionChoice>,
    /// Token counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

/// One choice of a [`ChatCompletion`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompletionChoice {
    /// Index of the choice.
    pub index: u32,
    /// The answer.
    pub message: ChatMessage,
    /// Why generation stopped.
    #[serde(default)]
    pub finish_reason: Option<String>,
}

/// One SSE chunk of a streaming answer (`object: "chat.completion.chunk"`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ChatChunk {
    /// Completion id, the same on every chunk.
    #[serde(default)]
    pub id: String,
    /// `chat.completion.chunk`.
    #[serde(default)]
    pub object: String,
    /// Epoch seconds.
    #[serde(default)]
    pub created: i64,
    /// Model that answers.
    #[serde(default)]
    pub model: String,
    /// Deltas; empty on the usage chunk.
    #[serde(default)]
    pub choices: Vec<ChunkChoice>,
    /// Token counts, on the final usage chunk only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

/// One choice of a [`ChatChunk`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ChunkChoice {
    /// Index of the choice.
    #[serde(default)]
    pub index: u32,
    /// The new text.
    #[serde(default)]
    pub delta: Delta,
    /// Set on the last content chunk.
    #[serde(default)]
    pub finish_reason: Option<String>,
}

/// The incremental part of a chunk.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Delta {
    /// `assistant` on the first chunk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Text to append.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_passes_unknown_fields_through_and_omits_unset_ones() {
        let json = r#"{"messages":[{"role":"user","content":"hi"}],"top_p":0.5,"stream":true}"#;
        let req: ChatRequest = serde_json::from_str(json).unwrap_or_default();
        assert_eq!(req.extra.get("top_p"), Some(&serde_json::json!(0.5)));
        let back = serde_json::to_value(&req).unwrap_or_default();
        assert_eq!(
            back,
            serde_json::from_str::<serde_json::Value>(json).unwrap_or_default()
        );
    }

    #[test]
    fn chunk_parses_usage_chunk_and_deltas() {
        let usage: ChatChunk = serde_json::from_str(
            r#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}"#,
        )
        .unwrap_or_default();
        assert_eq!(usage.usage.map(|u| u.total_tokens), Some(7));
        let delta: ChatChunk = serde_json::from_str(
            r#"{"choices":[{"delta":{"content":"lo"},"finish_reason":"stop"}]}"#,
        )
        .unwrap_or_default();
        assert_eq!(delta.choices[0].delta.content.as_deref(), Some("lo"));
        assert_eq!(delta.choices[0].finish_reason.as_deref(), Some("stop"));
    }
}
