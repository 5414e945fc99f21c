//! The Behest wire protocol, shared by the client (`auth`, `session`, `chat`) and the local
//! gateway: claims, mint and token-endpoint bodies, error envelopes and their classification,
//! chat request and chunk types, SSE framing.
//!
//! Field names, defaults and claim order follow the official SDK (`behest-ai` 1.5.0b1); where
//! the docs disagree, every documented variant is accepted on input.

pub mod chat;
pub mod claims;
pub mod errors;
pub mod mint;
pub mod sse;

/// Default API origin of the SDK (`BEHEST_BASE_URL` unset).
pub const DEFAULT_BASE_URL: &str = "https://api.behest.ai";
/// Session header sent on every data-plane call.
pub const HEADER_SESSION_ID: &str = "x-session-id";
/// Thread header: persists the conversation server-side.
pub const HEADER_THREAD_ID: &str = "x-thread-id";
/// Trace header on every gateway answer (v1.5).
pub const HEADER_TRACE_ID: &str = "x-trace-id";
/// Legacy trace header (v1.x); read when `x-trace-id` is absent.
pub const HEADER_REQUEST_ID: &str = "x-request-id";
/// Prefix of a Behest API key.
pub const API_KEY_PREFIX: &str = "behest_sk_live_";
/// Prefix of a signing key given inline in `BEHEST_KEY`.
pub const SIGNING_KEY_PREFIX: &str = "behest_pk_";

/// Paths relative to the origin.
pub mod paths {
    /// API-key mint, as the SDK calls it.
    pub const MINT: &str = "/v1/auth/mint";
    /// Mint on the auth service, as the api-reference documents it.
    pub const MINT_AUTH_SERVICE: &str = "/auth/v1/auth/mint";
    /// Chat completions.
    pub const CHAT: &str = "/v1/chat/completions";
    /// JWKS of the global and tenant keys.
    pub const JWKS: &str = "/.well-known/jwks.json";
    /// Thread list.
    pub const THREADS: &str = "/v1/threads";
    /// Usage as the SDK reads it.
    pub const USAGE: &str = "/v1/usage";
    /// Usage as the docs describe it.
    pub const BILLING_USAGE: &str = "/v1/billing/usage";
    /// OpenAI-style model list.
    pub const MODELS: &str = "/v1/models";
    /// The example integrator backend's token endpoint.
    pub const TOKEN_ENDPOINT: &str = "/api/behest/token";
}

/// Whether `key` has the shape of a Behest API key: the prefix then 32 lowercase hex digits.
pub fn is_api_key(key: &str) -> bool {
    key.strip_prefix(API_KEY_PREFIX)
        .is_some_and(|hex| hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_key_shape() {
        assert!(is_api_key(
            "behest_sk_live_0123456789abcdef0123456789abcdef"
        ));
        assert!(!is_api_key("behest_sk_live_0123"));
        assert!(!is_api_key("bh_live_0123456789abcdef0123456789abcdef"));
        assert!(!is_api_key(
            "behest_sk_live_0123456789abcdef0123456789abcdeg"
        ));
    }
}
