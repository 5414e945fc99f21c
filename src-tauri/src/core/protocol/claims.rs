//! The JWT claim set and header of Behest tokens (SDK §5.1), in the SDK's claim order.

use serde::{Deserialize, Serialize};

/// Default `iss` of the v1.5 SDK.
pub const DEFAULT_ISSUER: &str = "https://api.behest.ai";
/// Default and only `aud`.
pub const DEFAULT_AUDIENCE: &str = "behest";
/// Default role.
pub const DEFAULT_ROLE: &str = "user";
/// Default token lifetime in seconds.
pub const DEFAULT_TTL_SECS: u64 = 3600;
/// Default end-user id when none is configured.
pub const DEFAULT_USER_ID: &str = "default";
/// Issuers the gateway accepts unless pinned: every documented variant.
pub const ACCEPTED_ISSUERS: [&str; 3] =
    ["https://api.behest.app", "https://api.behest.ai", "behest"];

/// A tier: an integer id (SDK, tiers guide) or a name (api-reference). Both are accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Tier {
    /// 1 = free, 2 = pro, 3 = max.
    Id(i64),
    /// `free`, `pro`, `max`, or a custom name.
    Name(String),
}

impl Tier {
    /// The tier's canonical name where it is one of the documented three.
    pub fn name(&self) -> String {
        match self {
            Tier::Id(1) => "free".into(),
            Tier::Id(2) => "pro".into(),
            Tier::Id(3) => "max".into(),
            Tier::Id(n) => n.to_string(),
            Tier::Name(s) => s.to_ascii_lowercase(),
        }
    }
}

impl std::fmt::Display for Tier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Tier::Id(n) => write!(f, "{n}"),
            Tier::Name(s) => f.write_str(s),
        }
    }
}

/// The claims of a v1.5 Behest token, serialized in the SDK's order:
/// `tid, pid, uid, role, scp, iss, aud, iat, nbf, exp, jti, sid[, tier]`. There is no `sub`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// Tenant id.
    pub tid: String,
    /// Project id.
    pub pid: String,
    /// End-user id.
    pub uid: String,
    /// Role, `user` by default.
    #[serde(default = "default_role")]
    pub role: String,
    /// Scopes, empty by default.
    #[serde(default)]
    pub scp: Vec<String>,
    /// Issuer.
    pub iss: String,
    /// Audience, a plain string.
    pub aud: String,
    /// Issued at, epoch seconds.
    pub iat: i64,
    /// Not before, epoch seconds (equals `iat`).
    pub nbf: i64,
    /// Expiry, epoch seconds.
    pub exp: i64,
    /// Unique token id (UUIDv4).
    #[serde(default)]
    pub jti: String,
    /// Session id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Tier, only when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<Tier>,
}

fn default_role() -> String {
    DEFAULT_ROLE.to_string()
}

/// The JOSE header Behest tokens carry: `{"alg":"RS256","kid":…,"typ":"JWT"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenHeader {
    /// Always `RS256`.
    pub alg: String,
    /// Key id, looked up in the JWKS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Always `JWT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
}

/// A token's header and claims decoded *without* verifying the signature, for display and for
/// reading `exp`. Never use the result to make a trust decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Inspected {
    /// The header as sent.
    pub header: serde_json::Value,
    /// The claims as sent.
    pub claims: serde_json::Value,
}

impl Inspected {
    /// `exp` as epoch seconds, when it is a number.
    pub fn exp(&self) -> Option<i64> {
        self.claims.get("exp").and_then(serde_json::Value::as_i64)
    }
    /// `sid`, when present.
    pub fn sid(&self) -> Option<&str> {
        self.claims.get("sid").and_then(serde_json::Value::as_str)
    }
}

/// Decodes a compact JWT's header and payload without checking the signature.
pub fn inspect(token: &str) -> Option<Inspected> {
    use base64::Engine as _;
    let mut parts = token.split('.');
    let (h, p, _s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = serde_json::from_slice(&engine.decode(h).ok()?).ok()?;
    let claims = serde_json::from_slice(&engine.decode(p).ok()?).ok()?;
    Some(Inspected { header, claims })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_serialize_in_sdk_order_without_sub() {
        let c = Claims {
            tid: "t".into(),
            pid: "p".into(),
            uid: "alice".into(),
            role: "user".into(),
            scp: vec![],
            iss: DEFAULT_ISSUER.into(),
            aud: DEFAULT_AUDIENCE.into(),
            iat: 1,
            nbf: 1,
            exp: 3601,
            jti: "j".into(),
            sid: Some("s".into()),
            tier: Some(Tier::Id(2)),
        };
        let json = serde_json::to_string(&c).unwrap_or_default();
        assert_eq!(
            json,
            r#"{"tid":"t","pid":"p","uid":"alice","role":"user","scp":[],"iss":"https://api.behest.ai","aud":"behest","iat":1,"nbf":1,"exp":3601,"jti":"j","sid":"s","tier":2}"#
        );
    }

    #[test]
    fn tier_accepts_ids_and_names() {
        let t: Tier = serde_json::from_str("3").unwrap_or(Tier::Id(0));
        assert_eq!(t.name(), "max");
        let t: Tier = serde_json::from_str("\"Pro\"").unwrap_or(Tier::Id(0));
        assert_eq!(t.name(), "pro");
    }

    #[test]
    fn inspect_reads_unverified_parts() {
        let t = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ.eyJleHAiOjEwLCJzaWQiOiJzIn0.x";
        let i = inspect(t);
        assert_eq!(i.as_ref().and_then(Inspected::exp), Some(10));
        assert_eq!(i.as_ref().and_then(Inspected::sid), Some("s"));
        assert!(inspect("a.b").is_none());
        assert!(inspect("a.b.c.d").is_none());
    }
}
