//! What the `chat` command streams over its Channel: `{event, data}` messages in camelCase.
//!
//! Invariant: these carry text, counts, timings and trace ids only; never a token or a header.

use serde::Serialize;

use crate::core::chat::{ChatEvent, InterruptReason};

/// One message on the chat Channel.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", content = "data", rename_all = "camelCase")]
pub enum StreamEvent {
    /// The gateway accepted the request.
    #[serde(rename_all = "camelCase")]
    Started {
        /// `X-Trace-Id` of the answer.
        trace_id: Option<String>,
    },
    /// A request failed before any answer; it is sent again after `waitMs` (the UI says so
    /// instead of only showing that it waits).
    #[serde(rename_all = "camelCase")]
    Retrying {
        /// The request about to be sent (2 for the first retry).
        attempt: u32,
        /// Milliseconds until it is sent.
        wait_ms: u64,
        /// The HTTP status that failed (`null`: the connection failed).
        status: Option<u16>,
    },
    /// Text to append.
    Delta {
        /// The new text.
        text: String,
    },
    /// Token counts.
    #[serde(rename_all = "camelCase")]
    Usage {
        /// Prompt tokens.
        prompt_tokens: u64,
        /// Completion tokens.
        completion_tokens: u64,
        /// Their sum.
        total_tokens: u64,
    },
    /// The answer is complete.
    #[serde(rename_all = "camelCase")]
    Done {
        /// Why generation stopped.
        finish_reason: Option<String>,
        /// Time to first token, in milliseconds.
        ttft_ms: Option<u64>,
        /// Output tokens per second.
        tokens_per_second: Option<f64>,
        /// `X-Trace-Id` of the answer.
        trace_id: Option<String>,
    },
    /// The stream broke; the text so far is kept and nothing is re-sent.
    Interrupted {
        /// `connectionLost`, `earlyClose` or `idleTimeout`.
        reason: &'static str,
    },
}

impl From<ChatEvent> for StreamEvent {
    fn from(event: ChatEvent) -> Self {
        match event {
            ChatEvent::Started { trace_id } => StreamEvent::Started { trace_id },
            ChatEvent::Retrying {
                attempt,
                wait,
                status,
            } => StreamEvent::Retrying {
                attempt,
                wait_ms: u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                status,
            },
            ChatEvent::Delta { text } => StreamEvent::Delta { text },
            ChatEvent::Usage(u) => StreamEvent::Usage {
                prompt_tokens: u.prompt_tokens,
                completion_tokens: u.completion_tokens,
                total_tokens: u.total_tokens,
            },
            ChatEvent::Done {
                finish_reason,
                ttft,
                tokens_per_second,
                trace_id,
            } => StreamEvent::Done {
                finish_reason,
                ttft_ms: ttft.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
                tokens_per_second,
                trace_id,
            },
            ChatEvent::Interrupted { reason, .. } => StreamEvent::Interrupted {
                reason: reason_name(reason),
            },
        }
    }
}

/// The camelCase name of an interruption.
pub fn reason_name(reason: InterruptReason) -> &'static str {
    match reason {
        InterruptReason::ConnectionLost => "connectionLost",
        InterruptReason::EarlyClose => "earlyClose",
        InterruptReason::IdleTimeout => "idleTimeout",
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn events_serialize_as_tagged_camel_case() {
        let done = StreamEvent::from(ChatEvent::Done {
            finish_reason: Some("stop".into()),
            ttft: Some(Duration::from_millis(42)),
            tokens_per_second: Some(12.5),
            trace_id: Some("tr".into()),
        });
        let json = serde_json::to_value(&done).unwrap_or_default();
        assert_eq!(json["event"], "done");
        assert_eq!(json["data"]["finishReason"], "stop");
        assert_eq!(json["data"]["ttftMs"], 42);
        assert_eq!(json["data"]["tokensPerSecond"], 12.5);
        let delta = serde_json::to_value(StreamEvent::from(ChatEvent::Delta { text: "hi".into() }))
            .unwrap_or_default();
        assert_eq!(
            delta,
            serde_json::json!({"event": "delta", "data": {"text": "hi"}})
        );
        let cut = StreamEvent::from(ChatEvent::Interrupted {
            reason: InterruptReason::EarlyClose,
            partial_text_len: 3,
        });
        assert_eq!(
            serde_json::to_value(cut).unwrap_or_default()["data"]["reason"],
            "earlyClose"
        );
    }
}
