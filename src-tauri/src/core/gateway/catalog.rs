//! Read-only public routes: `GET /.well-known/jwks.json` (global and tenant keys, minus removed
//! kids) and `GET /v1/models` (the project's models in the OpenAI list shape; token required).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::state::Shared;
use super::verify::authenticate;

/// `GET /.well-known/jwks.json`.
pub async fn jwks(State(state): State<Shared>) -> Response {
    Json(state.keys.jwks()).into_response()
}

/// `GET /v1/models`.
pub async fn models(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let v = match authenticate(&state, &headers) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let p = &v.project;
    let data: Vec<_> = std::iter::once(&p.default_model)
        .chain(p.models.iter().filter(|m| **m != p.default_model))
        .map(|id| serde_json::json!({"id": id, "object": "model", "created": 0, "owned_by": "behest-local"}))
        .collect();
    v.attach(Json(serde_json::json!({"object": "list", "data": data})).into_response())
}
