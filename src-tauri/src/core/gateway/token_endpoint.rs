//! The example integrator backend (§10, issue 2 item 8): `POST /api/behest/token`, what an app's
//! own server exposes to its clients. The bearer is the app's session token; the server maps it
//! to a user id and tier it decides, mints with the project's key logic, and answers
//! `{token, ttl, sessionId, expiresAt}`.
//!
//! Invariant: the user id and tier come only from the configured session table, never from the
//! request body or any client-controlled header. Unknown or missing session → 401.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::envelope::ApiError;
use super::mint::{issue, MintParams};
use super::state::Shared;
use super::verify::bearer;
use crate::core::protocol::mint::TokenBundle;

/// The handler.
pub async fn token(State(state): State<Shared>, headers: HeaderMap) -> Response {
    match answer(&state, &headers) {
        Ok(bundle) => Json(bundle).into_response(),
        Err(e) => e.into_response(),
    }
}

fn answer(state: &Shared, headers: &HeaderMap) -> Result<TokenBundle, ApiError> {
    let presented = bearer(headers).map_err(|_| ApiError::unauthorized("sign in first"))?;
    let grant = state
        .config
        .sessions
        .iter()
        .find(|s| s.token.expose() == presented)
        .ok_or_else(|| ApiError::unauthorized("unknown session"))?;
    let project = state.project_for(headers)?;
    let params = MintParams {
        user_id: grant.user_id.clone(),
        role: "user".into(),
        ttl: state.config.token_endpoint_ttl,
        session_id: None,
        tier: grant.tier.clone(),
    };
    let minted = issue(state, project, &params)?;
    let token = minted
        .token()
        .map(str::to_string)
        .ok_or_else(|| ApiError::server("mint failed"))?;
    let ttl = params.ttl;
    Ok(TokenBundle {
        token,
        ttl: Some(ttl),
        session_id: minted.session_id,
        expires_at: Some(
            state
                .clock
                .now()
                .saturating_add(i64::try_from(ttl).unwrap_or(0)),
        ),
    })
}
