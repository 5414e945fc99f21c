//! Server-sent events framing for chat streams (§6.2).
//!
//! The encoder (used by the gateway) writes `data: <compact JSON>\n\n` with LF only.
//! The decoder used by the client is [`SseDecoder`] in `decoder.rs`: pure and synchronous
//! (bytes in, [`SseEvent`]s out), with bounded buffers.

mod decoder;

pub use decoder::{SseDecoder, SseError, SseEvent, MAX_EVENT_BYTES, MAX_LINE_BYTES};

/// The payload that ends a stream.
pub const DONE: &str = "[DONE]";

/// One SSE event carrying `data` (which must not contain a newline: compact JSON never does).
pub fn encode_data(data: &str) -> String {
    format!("data: {data}\n\n")
}

/// A comment line, used as a keep-alive.
pub fn encode_comment(text: &str) -> String {
    format!(": {text}\n\n")
}

#[cfg(test)]
mod tests;
