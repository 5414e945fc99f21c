//! JWT verification on data-plane routes, in the order of §16; the first failure wins:
//! 1. `Authorization: Bearer <three-part JWT>` present, at most 8 KiB, not an API key → else 401;
//! 2. header `alg` is exactly `RS256`, no `jku`/`x5u`/`jwk`/`x5c`, `kid` known, signature valid → else 401;
//! 3. `exp`/`nbf`/`iat` are integers; `exp` > now and `nbf` ≤ now within the leeway; `exp - iat`
//!    within the optional maximum lifetime → else 401;
//! 4. `aud` is the configured audience (a string); `iss` is in the allow-list → else 401;
//! 5. `tid`/`pid` match the project from the Host; the project is not suspended → else 403;
//! 6. `uid` non-empty (401); tenant-key tokens (tenant kid, or a kid starting `sk_`) get role `user`.
//!
//! Invariant: the kid is only ever a key into an in-memory map (never a path or URL), and no
//! token text reaches a message.

use axum::http::HeaderMap;
use axum::response::Response;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, Validation};

use super::config::{GatewayConfig, ProjectConfig, MAX_TOKEN_BYTES};
use super::envelope::ApiError;
use super::state::{GatewayState, KeyRegistry};
use crate::core::protocol::claims::Claims;
use crate::core::protocol::is_api_key;

/// A token that passed verification, with what it resolved to.
#[derive(Debug, Clone)]
pub struct Verified {
    /// Its claims (role forced to `user` for tenant-key tokens).
    pub claims: Claims,
    /// The kid that verified it.
    pub kid: String,
    /// Whether that kid is a tenant signing key.
    pub tenant_key: bool,
    /// The project it is for.
    pub project: ProjectConfig,
}

impl Verified {
    /// Attaches the verified claims to a response, so the recorder keeps them.
    pub fn attach(&self, mut response: Response) -> Response {
        response.extensions_mut().insert(self.claims.clone());
        response
    }
}

/// Verifies the request's bearer token for the project named by its Host.
pub fn authenticate(state: &GatewayState, headers: &HeaderMap) -> Result<Verified, ApiError> {
    let project = state.project_for(headers)?;
    let token = bearer(headers)?;
    verify_token(
        &state.config,
        &state.keys,
        project,
        token,
        state.clock.now(),
    )
}

/// The bearer credential of a request (step 1, before JWT checks).
pub fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    let value = headers
        .get("authorization")
        .ok_or_else(|| ApiError::unauthorized("missing bearer token"))?;
    if value.len() > MAX_TOKEN_BYTES + 7 {
        return Err(ApiError::unauthorized("token too large"));
    }
    let text = value
        .to_str()
        .map_err(|_| ApiError::unauthorized("malformed authorization header"))?;
    let token = text
        .get(..7)
        .filter(|scheme| scheme.eq_ignore_ascii_case("bearer "))
        .map(|_| text[7..].trim())
        .ok_or_else(|| ApiError::unauthorized("expected a bearer token"))?;
    if token.is_empty() {
        return Err(ApiError::unauthorized("missing bearer token"));
    }
    Ok(token)
}

/// Runs steps 1–6 on `token` for `project` at `now`.
pub fn verify_token(
    config: &GatewayConfig,
    keys: &KeyRegistry,
    project: &ProjectConfig,
    token: &str,
    now: i64,
) -> Result<Verified, ApiError> {
    // 1. Shape.
    if token.len() > MAX_TOKEN_BYTES {
        return Err(ApiError::unauthorized("token too large"));
    }
    if is_api_key(token) || token.starts_with(crate::core::protocol::API_KEY_PREFIX) {
        return Err(ApiError::unauthorized(
            "api keys are not accepted here; mint a token",
        ));
    }
    if token.split('.').count() != 3 {
        return Err(ApiError::unauthorized("bearer is not a jwt"));
    }
    // 2. Header, kid, signature.
    let header = token
        .split('.')
        .next()
        .and_then(|h| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(h)
                .ok()
        })
        .and_then(|raw| serde_json::from_slice::<serde_json::Value>(&raw).ok())
        .filter(serde_json::Value::is_object)
        .ok_or_else(|| ApiError::unauthorized("malformed token header"))?;
    if header.get("alg").and_then(|a| a.as_str()) != Some("RS256") {
        return Err(ApiError::unauthorized("token algorithm must be RS256"));
    }
    if ["jku", "x5u", "jwk", "x5c"]
        .iter()
        .any(|k| header.get(k).is_some())
    {
        return Err(ApiError::unauthorized(
            "key references in the token header are not accepted",
        ));
    }
    let kid = header
        .get("kid")
        .and_then(|k| k.as_str())
        .ok_or_else(|| ApiError::unauthorized("token has no kid"))?;
    let key = keys
        .get(kid)
        .ok_or_else(|| ApiError::unauthorized("unknown signing key"))?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    let data = jsonwebtoken::decode::<serde_json::Value>(token, &key.decoding, &validation)
        .map_err(|_| ApiError::unauthorized("invalid token signature or claims"))?;
    let raw = data.claims;
    // 3. Times.
    let int = |name: &str, required: bool| -> Result<Option<i64>, ApiError> {
        match raw.get(name) {
            None if !required => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| ApiError::unauthorized(format!("claim {name} must be an integer"))),
            None => Err(ApiError::unauthorized(format!("claim {name} is missing"))),
        }
    };
    let exp = int("exp", true)?.unwrap_or(0);
    let nbf = int("nbf", false)?;
    let iat = int("iat", true)?.unwrap_or(0);
    let leeway = i64::try_from(config.leeway_secs).unwrap_or(0);
    // Valid while `exp` > now (within the leeway): a token is expired at `exp` itself.
    if now >= exp.saturating_add(leeway) {
        return Err(ApiError::unauthorized("token expired"));
    }
    if nbf.unwrap_or(iat) > now.saturating_add(leeway) {
        return Err(ApiError::unauthorized("token not yet valid"));
    }
    if let Some(max) = config.max_token_lifetime_secs {
        if exp.saturating_sub(iat) > i64::try_from(max).unwrap_or(i64::MAX) {
            return Err(ApiError::unauthorized("token lifetime too long"));
        }
    }
    // 4. Audience and issuer.
    // `aud` is a plain string in every Behest token (§5.1); an array is refused.
    if raw.get("aud").and_then(|a| a.as_str()) != Some(config.audience.as_str()) {
        return Err(ApiError::unauthorized("wrong audience"));
    }
    let iss = raw.get("iss").and_then(|i| i.as_str()).unwrap_or_default();
    if !config.issuers.iter().any(|allowed| allowed == iss) {
        return Err(ApiError::unauthorized("issuer not accepted"));
    }
    let mut claims: Claims =
        serde_json::from_value(raw).map_err(|_| ApiError::unauthorized("malformed claims"))?;
    // 5. Project.
    if claims.tid != project.tenant_id || claims.pid != project.project_id {
        return Err(ApiError::forbidden(
            "token is for another tenant or project",
        ));
    }
    if project.suspended {
        return Err(ApiError::forbidden("project is suspended"));
    }
    // 6. User and role.
    if claims.uid.trim().is_empty() {
        return Err(ApiError::unauthorized("token has no user"));
    }
    let tenant_key = key.tenant || kid.starts_with("sk_");
    if tenant_key {
        claims.role = "user".into();
    }
    Ok(Verified {
        claims,
        kid: kid.to_string(),
        tenant_key,
        project: project.clone(),
    })
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;
