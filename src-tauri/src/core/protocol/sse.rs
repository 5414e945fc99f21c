//! Server-sent events framing for chat streams (§6.2).
//!
//! The encoder (used by the gateway) writes `data: <compact JSON>\n\n` with LF only.
//! The decoder used by the client sits beside it in this file.

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
mod tests {
    use super::*;

    #[test]
    fn frames_use_lf_only() {
        assert_eq!(encode_data("{}"), "data: {}\n\n");
        assert_eq!(encode_data(DONE), "data: [DONE]\n\n");
        assert_eq!(encode_comment("keep-alive"), ": keep-alive\n\n");
    }
}
