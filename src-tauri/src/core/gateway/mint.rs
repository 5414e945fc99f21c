//! API-key mint (§4, §16): `POST /v1/auth/mint` (nested envelope) and its auth-service alias
//! `POST /auth/v1/auth/mint` (flat envelope by default). Validates `user_id`, `ttl`, `role`,
//! `tier`, `session_id`, and answers both field families with an RS256 token signed by the global
//! key, carrying the claims of §5.1 in the SDK's order.
//!
//! Invariant: the API key is compared and dropped; it never reaches a message or the record.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::config::{EnvelopeStyle, ProjectConfig};
use super::envelope::ApiError;
use super::state::{GatewayState, Shared};
use super::verify::bearer;
use crate::core::protocol::claims::{Claims, Tier, TokenHeader, DEFAULT_TTL_SECS};
use crate::core::protocol::mint::MintResponse;

/// Shortest and longest ttl accepted, in seconds.
pub const TTL_RANGE: std::ops::RangeInclusive<u64> = 60..=86_400;

/// A validated mint request.
#[derive(Debug, Clone, PartialEq)]
pub struct MintParams {
    /// End user.
    pub user_id: String,
    /// `user`, `admin` or `dashboard-service`.
    pub role: String,
    /// Lifetime in seconds.
    pub ttl: u64,
    /// Session id to echo, or none to generate one.
    pub session_id: Option<String>,
    /// Tier, when set.
    pub tier: Option<Tier>,
}

/// Whether a user id is reserved: `admin`, `dashboard-service`, or anything starting `sys`.
pub fn reserved_user_id(id: &str) -> bool {
    let lower = id.to_ascii_lowercase();
    lower == "admin" || lower == "dashboard-service" || lower.starts_with("sys")
}

/// Parses and validates a mint body (400 with `validation_error` on any problem).
pub fn parse(body: &[u8], lenient_roles: bool) -> Result<MintParams, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|_| ApiError::validation("body must be a json object"))?;
    let obj = value
        .as_object()
        .ok_or_else(|| ApiError::validation("body must be a json object"))?;
    let user_id = obj
        .get("user_id")
        .and_then(|u| u.as_str())
        .ok_or_else(|| ApiError::validation("user_id is required"))?;
    let len = user_id.chars().count();
    if len == 0 || len > 255 || user_id.trim().is_empty() {
        return Err(ApiError::validation("user_id must be 1-255 characters"));
    }
    if reserved_user_id(user_id) {
        return Err(ApiError::validation("user_id is reserved"));
    }
    let ttl = match obj.get("ttl") {
        None | Some(serde_json::Value::Null) => DEFAULT_TTL_SECS,
        Some(t) => t
            .as_u64()
            .filter(|t| TTL_RANGE.contains(t))
            .ok_or_else(|| ApiError::validation("ttl must be an integer from 60 to 86400"))?,
    };
    let role = match obj.get("role") {
        None | Some(serde_json::Value::Null) => "user",
        Some(serde_json::Value::String(r)) => match r.as_str() {
            "user" | "admin" | "dashboard-service" => r.as_str(),
            "regular" if lenient_roles => "user",
            _ => {
                return Err(ApiError::validation(
                    "role must be user, admin or dashboard-service",
                ))
            }
        },
        Some(_) => return Err(ApiError::validation("role must be a string")),
    };
    let tier = match obj.get("tier") {
        None | Some(serde_json::Value::Null) => None,
        Some(t @ (serde_json::Value::Number(_) | serde_json::Value::String(_))) => Some(
            serde_json::from_value::<Tier>(t.clone())
                .map_err(|_| ApiError::validation("tier must be an integer or a name"))?,
        ),
        Some(_) => return Err(ApiError::validation("tier must be an integer or a name")),
    };
    let session_id = match obj.get("session_id") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) if !s.is_empty() && s.len() <= 256 => Some(s.clone()),
        Some(_) => {
            return Err(ApiError::validation(
                "session_id must be a non-empty string",
            ))
        }
    };
    Ok(MintParams {
        user_id: user_id.to_string(),
        role: role.to_string(),
        ttl,
        session_id,
        tier,
    })
}

/// Signs a token for `project` with the global key.
pub fn issue(
    state: &GatewayState,
    project: &ProjectConfig,
    p: &MintParams,
) -> Result<MintResponse, ApiError> {
    let now = state.clock.now();
    let sid = p
        .session_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let ttl = i64::try_from(p.ttl).unwrap_or(i64::MAX);
    let claims = Claims {
        tid: project.tenant_id.clone(),
        pid: project.project_id.clone(),
        uid: p.user_id.clone(),
        role: p.role.clone(),
        scp: vec![],
        iss: state.config.mint_issuer.clone(),
        aud: state.config.audience.clone(),
        iat: now,
        nbf: now,
        exp: now.saturating_add(ttl),
        jti: uuid::Uuid::new_v4().to_string(),
        sid: Some(sid.clone()),
        tier: p.tier.clone(),
    };
    let header = TokenHeader {
        alg: "RS256".into(),
        kid: Some(state.config.global_kid.clone()),
        typ: Some("JWT".into()),
    };
    let token = state
        .config
        .global_key
        .sign_jwt(&header, &claims)
        .map_err(|_| ApiError::server("signing failed"))?;
    Ok(MintResponse {
        jwt: Some(token.clone()),
        access_token: Some(token),
        token_type: Some("Bearer".into()),
        ttl: Some(p.ttl.into()),
        expires_in: Some(p.ttl.into()),
        session_id: Some(sid),
        project_id: Some(project.project_id.clone()),
    })
}

/// The project an API key mints for (401 for a missing, malformed, unknown key or a suspended
/// project).
pub fn project_of_key<'a>(
    state: &'a GatewayState,
    headers: &HeaderMap,
) -> Result<&'a ProjectConfig, ApiError> {
    let key = bearer(headers).map_err(|_| ApiError::unauthorized("missing api key"))?;
    if !crate::core::protocol::is_api_key(key) {
        return Err(ApiError::unauthorized("malformed api key"));
    }
    let slug = state
        .config
        .api_keys
        .iter()
        .find(|k| k.key.expose() == key)
        .map(|k| k.project.as_str())
        .ok_or_else(|| ApiError::unauthorized("invalid api key"))?;
    let project = state
        .config
        .project(slug)
        .ok_or_else(|| ApiError::unauthorized("invalid api key"))?;
    if project.suspended {
        return Err(ApiError::unauthorized("project is suspended"));
    }
    Ok(project)
}

async fn mint(state: Shared, headers: HeaderMap, body: Bytes, style: EnvelopeStyle) -> Response {
    let latency = state.faults.mint_latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let answer = project_of_key(&state, &headers)
        .and_then(|project| Ok((project, parse(&body, state.config.lenient_roles)?)))
        .and_then(|(project, params)| issue(&state, project, &params));
    match answer {
        Ok(minted) => Json(minted).into_response(),
        Err(e) => e.styled(style).into_response(),
    }
}

/// `POST /v1/auth/mint`.
pub async fn mint_v1(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    mint(state, headers, body, EnvelopeStyle::Nested).await
}

/// `POST /auth/v1/auth/mint`.
pub async fn mint_auth_service(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let style = state.config.auth_service_envelope;
    mint(state, headers, body, style).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_table() {
        let ok = |b: &str| parse(b.as_bytes(), true);
        let p = ok(
            r#"{"user_id": "alice", "role": "user", "ttl": 3600, "session_id": "s", "tier": 2}"#,
        );
        assert_eq!(
            p.as_ref().map(|p| p.tier.clone()).ok().flatten(),
            Some(Tier::Id(2))
        );
        assert_eq!(
            ok(r#"{"user_id":"a"}"#).map(|p| (p.ttl, p.role)).ok(),
            Some((3600, "user".to_string()))
        );
        assert_eq!(
            ok(r#"{"user_id":"a","role":"regular"}"#)
                .map(|p| p.role)
                .ok()
                .as_deref(),
            Some("user")
        );
        assert_eq!(
            ok(r#"{"user_id":"a","tier":"pro"}"#)
                .map(|p| p.tier)
                .ok()
                .flatten(),
            Some(Tier::Name("pro".into()))
        );
        let long = format!(r#"{{"user_id":"{}"}}"#, "x".repeat(256));
        for bad in [
            "",
            "[]",
            "{}",
            r#"{"user_id":""}"#,
            r#"{"user_id":5}"#,
            long.as_str(),
            r#"{"user_id":"admin"}"#,
            r#"{"user_id":"dashboard-service"}"#,
            r#"{"user_id":"system"}"#,
            r#"{"user_id":"a","ttl":59}"#,
            r#"{"user_id":"a","ttl":86401}"#,
            r#"{"user_id":"a","ttl":"60"}"#,
            r#"{"user_id":"a","ttl":-5}"#,
            r#"{"user_id":"a","role":"root"}"#,
            r#"{"user_id":"a","tier":[1]}"#,
            r#"{"user_id":"a","session_id":7}"#,
        ] {
            let e = ok(bad).err();
            assert_eq!(e.map(|e| e.status.as_u16()), Some(400), "body {bad}");
        }
        assert!(parse(br#"{"user_id":"a","role":"regular"}"#, false).is_err());
    }

    fn with_bearer(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Ok(v) = axum::http::HeaderValue::from_str(&format!("Bearer {value}")) {
            headers.insert("authorization", v);
        }
        headers
    }

    #[test]
    fn a_suspended_project_cannot_mint() -> crate::core::Result<()> {
        let mut config = super::super::GatewayConfig::demo()?;
        let key = config.api_keys[0].key.expose().to_string();
        let live = GatewayState::new(config.clone())?;
        assert_eq!(
            project_of_key(&live, &with_bearer(&key)).map(|p| p.slug.clone()),
            Ok("demo".to_string())
        );
        config.projects[0].suspended = true;
        let suspended = GatewayState::new(config)?;
        let e = project_of_key(&suspended, &with_bearer(&key)).err();
        // §16: a suspended project answers 401 on mint (403 is for data routes).
        assert_eq!(
            e.as_ref().map(|e| (e.status.as_u16(), e.code)),
            Some((401, "invalid_token"))
        );
        assert!(e.is_some_and(|e| e.message.contains("suspended")));
        // An unknown key is 401 too, whatever the project's state.
        let other = format!(
            "{}{}",
            crate::core::protocol::API_KEY_PREFIX,
            "0".repeat(32)
        );
        assert_eq!(
            project_of_key(&suspended, &with_bearer(&other))
                .err()
                .map(|e| e.status.as_u16()),
            Some(401)
        );
        Ok(())
    }
}
