//! Bodies of the API-key mint (§4) and of an integrator's token endpoint (§10).

use serde::{Deserialize, Serialize};

use super::claims::Tier;

/// `POST {base}/v1/auth/mint` body, as the SDK sends it. `session_id` is always sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MintRequest {
    /// End user the token is for (1–255 chars, not reserved).
    pub user_id: String,
    /// `user` unless the caller asks otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Lifetime in seconds (60–86400 on the server).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u64>,
    /// Session id, a fresh UUIDv4 unless the caller names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Tier, only when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<Tier>,
}

/// A mint answer. Servers send one of two field families (`jwt`+`ttl`+`session_id`, or
/// `access_token`+`token_type`+`expires_in`); the local gateway sends both. The client reads
/// `jwt` else `access_token`, `ttl` if an integer, and `session_id` if present, like the SDK.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MintResponse {
    /// The token (auth-modes guide family).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt: Option<String>,
    /// The token (api-reference family).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    /// Always `Bearer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// Lifetime in seconds; read only when it is an integer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<serde_json::Value>,
    /// Lifetime in seconds (api-reference family); the SDK ignores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<serde_json::Value>,
    /// Session id, echoed or generated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Project the token is scoped to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
}

impl MintResponse {
    /// The token, from `jwt` or else `access_token`.
    pub fn token(&self) -> Option<&str> {
        self.jwt
            .as_deref()
            .or(self.access_token.as_deref())
            .filter(|t| !t.is_empty())
    }

    /// `ttl` when it is a non-negative integer (the SDK's rule), else `expires_in` the same way.
    pub fn ttl_secs(&self) -> Option<u64> {
        self.ttl
            .as_ref()
            .and_then(serde_json::Value::as_u64)
            .or_else(|| self.expires_in.as_ref().and_then(serde_json::Value::as_u64))
    }
}

/// An integrator token endpoint's answer: `{token, ttl, sessionId, expiresAt}` (camelCase, as
/// the React SDK and quickstart define it); snake_case and the mint field names are accepted.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TokenBundle {
    /// The token.
    #[serde(alias = "jwt", alias = "access_token")]
    pub token: String,
    /// Lifetime in seconds.
    #[serde(default, alias = "expires_in", skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u64>,
    /// Session id to send as `X-Session-Id`.
    #[serde(
        default,
        rename = "sessionId",
        alias = "session_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub session_id: Option<String>,
    /// Expiry, epoch seconds.
    #[serde(
        default,
        rename = "expiresAt",
        alias = "expires_at",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires_at: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mint_response_reads_either_family() {
        let a: MintResponse =
            serde_json::from_str(r#"{"jwt":"A","ttl":900,"session_id":"s"}"#).unwrap_or_default();
        assert_eq!((a.token(), a.ttl_secs()), (Some("A"), Some(900)));
        let b: MintResponse =
            serde_json::from_str(r#"{"access_token":"B","token_type":"Bearer","expires_in":60}"#)
                .unwrap_or_default();
        assert_eq!((b.token(), b.ttl_secs()), (Some("B"), Some(60)));
        let c: MintResponse = serde_json::from_str(r#"{"ttl":"900"}"#).unwrap_or_default();
        assert_eq!((c.token(), c.ttl_secs()), (None, None));
    }

    #[test]
    fn token_bundle_accepts_camel_and_snake_case() {
        let camel: TokenBundle =
            serde_json::from_str(r#"{"token":"T","ttl":60,"sessionId":"s","expiresAt":5}"#)
                .unwrap_or_default();
        let snake: TokenBundle =
            serde_json::from_str(r#"{"token":"T","ttl":60,"session_id":"s","expires_at":5}"#)
                .unwrap_or_default();
        assert_eq!(camel, snake);
        assert_eq!(camel.session_id.as_deref(), Some("s"));
        let out = serde_json::to_string(&camel).unwrap_or_default();
        assert_eq!(
            out,
            r#"{"token":"T","ttl":60,"sessionId":"s","expiresAt":5}"#
        );
    }

    #[test]
    fn mint_request_omits_unset_fields() {
        let r = MintRequest {
            user_id: "alice".into(),
            role: Some("user".into()),
            ttl: Some(3600),
            session_id: Some("s".into()),
            tier: None,
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap_or_default(),
            r#"{"user_id":"alice","role":"user","ttl":3600,"session_id":"s"}"#
        );
    }
}
