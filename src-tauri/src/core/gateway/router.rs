//! The routes and the one middleware every request passes (the "edge"): trace ids, CORS,
//! body limit, scripted faults and recording.
//!
//! Order at the edge: preflight/CORS decision → body read (413 past the limit, after draining
//! a bounded amount so the client reads the answer) → scripted fault (delay, status, or a stream
//! fault handed to the chat handler) → handler → CORS headers → `X-Trace-Id`/`X-Request-Id` →
//! record.

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{ACCESS_CONTROL_REQUEST_METHOD, CONTENT_TYPE, ORIGIN};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use futures_util::StreamExt as _;

use super::conn::ResetSwitch;
use super::envelope::{code_for_status, ApiError};
use super::faults::{Fault, Route};
use super::record::{redact_body, redact_headers, RecordedRequest, SessionUse};
use super::state::Shared;
use super::{admin, catalog, chat, cors, mint, threads, token_endpoint, usage};
use crate::core::protocol::claims::Claims;
use crate::core::protocol::{paths, HEADER_REQUEST_ID, HEADER_TRACE_ID};

/// How much of an oversized body is read and discarded before answering 413.
const DRAIN_CAP: usize = 64 * 1024 * 1024;

/// Every route of the gateway, with the edge middleware.
pub fn router(state: Shared) -> Router {
    let mut router = Router::new()
        .route(paths::MINT, post(mint::mint_v1))
        .route(paths::MINT_AUTH_SERVICE, post(mint::mint_auth_service))
        .route(paths::JWKS, get(catalog::jwks))
        .route(paths::MODELS, get(catalog::models))
        .route(paths::CHAT, post(chat::completions))
        .route(paths::THREADS, get(threads::list))
        .route(
            "/v1/threads/{id}",
            get(threads::get).delete(threads::delete),
        )
        .route("/v1/threads/{id}/messages", get(threads::messages))
        .route(paths::USAGE, get(usage::sdk_usage))
        .route(paths::BILLING_USAGE, get(usage::billing_usage))
        .route(paths::TOKEN_ENDPOINT, post(token_endpoint::token));
    if state.faults.enabled() {
        router = router
            .route(admin::FAULTS_PATH, post(admin::script).delete(admin::clear))
            .route(admin::REQUESTS_PATH, get(admin::requests));
    }
    router
        .fallback(|| async { ApiError::not_found("no such route").into_response() })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "method not allowed",
            )
            .into_response()
        })
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn_with_state(state.clone(), edge))
        .with_state(state)
}

async fn edge(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let trace = uuid::Uuid::new_v4().simple().to_string();
    let (parts, body) = request.into_parts();
    let origin = parts.headers.get(ORIGIN).cloned();
    let allowed_origins = state
        .project_for(&parts.headers)
        .map(|p| p.allowed_origins.clone())
        .unwrap_or_default();
    let origin_ok = origin
        .as_ref()
        .map(|o| o.to_str().is_ok_and(|o| cors::allowed(&allowed_origins, o)));
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let method = parts.method.clone();
    let headers = redact_headers(&parts.headers);
    let preflight = method == Method::OPTIONS;

    let (mut response, body_bytes) = if preflight {
        let answer = match (&origin, origin_ok) {
            (Some(o), Some(true)) if parts.headers.contains_key(ACCESS_CONTROL_REQUEST_METHOD) => {
                cors::preflight(o, &parts.headers)
            }
            (_, Some(false)) if state.config.refuse_origin_with_403 => {
                ApiError::forbidden("origin not allowed").into_response()
            }
            _ => StatusCode::NO_CONTENT.into_response(),
        };
        (answer, Bytes::new())
    } else if origin_ok == Some(false) && state.config.refuse_origin_with_403 {
        (
            ApiError::forbidden("origin not allowed").into_response(),
            Bytes::new(),
        )
    } else {
        match read_body(body, state.config.max_body_bytes).await {
            Err(e) => (e.into_response(), Bytes::new()),
            Ok(bytes) => {
                let mut request = Request::from_parts(parts, Body::from(bytes.clone()));
                (dispatch(&state, &mut request, next).await, bytes)
            }
        }
    };

    if let (Some(o), Some(true), false) = (&origin, origin_ok, preflight) {
        cors::decorate(&mut response, o);
    }
    if let Ok(value) = HeaderValue::from_str(&trace) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(HEADER_TRACE_ID), value.clone());
        response
            .headers_mut()
            .insert(HeaderName::from_static(HEADER_REQUEST_ID), value);
    }
    state.recorder.push(RecordedRequest {
        method: method.to_string(),
        path,
        headers,
        body: redact_body(&body_bytes),
        status: response.status().as_u16(),
        trace_id: trace,
        claims: response.extensions().get::<Claims>().cloned(),
        session: response.extensions().get::<SessionUse>().cloned(),
    });
    response
}

/// Applies a scripted fault of the route, else runs the handler.
async fn dispatch(state: &Shared, request: &mut Request, next: Next) -> Response {
    let fault = Route::of_path(request.uri().path()).and_then(|r| state.faults.take(r));
    let Some(fault) = fault else {
        return next.run(std::mem::take(request)).await;
    };
    if fault.delay_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(fault.delay_ms)).await;
    }
    if let Some(status) = fault.status {
        return scripted(&fault, status);
    }
    // The connection's reset switch, for a real TCP reset (absent when served without one).
    let reset = request
        .extensions()
        .get::<ConnectInfo<ResetSwitch>>()
        .map(|c| c.0.clone());
    request
        .extensions_mut()
        .insert(chat::StreamFault { fault, reset });
    next.run(std::mem::take(request)).await
}

fn scripted(fault: &Fault, status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = fault.body.clone().unwrap_or_else(|| {
        ApiError::new(status, code_for_status(status.as_u16()), "injected fault")
            .body()
            .to_string()
    });
    let mut response = (status, body).into_response();
    let h = response.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(secs) = fault.retry_after {
        h.insert("retry-after", HeaderValue::from(secs));
    }
    for (name, value) in &fault.headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::from_str(value),
        ) {
            h.insert(n, v);
        }
    }
    response
}

/// Reads the body up to `max` bytes; past that, drains up to [`DRAIN_CAP`] and answers 413.
async fn read_body(body: Body, max: usize) -> Result<Bytes, ApiError> {
    let mut stream = body.into_data_stream();
    let mut buf: Vec<u8> = Vec::new();
    let mut seen = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| ApiError::validation("could not read the request body"))?;
        seen = seen.saturating_add(chunk.len());
        if seen <= max {
            buf.extend_from_slice(&chunk);
        } else if seen > DRAIN_CAP {
            break;
        }
    }
    if seen > max {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "request body too large",
        ));
    }
    Ok(Bytes::from(buf))
}
