//! The admin routes, registered only when faults are enabled (so the standalone gateway run with
//! `--faults`, or the app's demo gateway under `BEHEST_DEMO_FAULTS=1`, can be scripted and
//! inspected by an out-of-process test such as the SDK conformance suite or the end-to-end
//! tests): `POST /__behest/faults` with `{"route", "fault", "times"?}` or `{"mint_latency_ms"}`,
//! `DELETE /__behest/faults` to clear; `GET /__behest/requests` lists the recorded requests
//! (method, path, status, trace id and the body, already scrubbed of secrets when recorded;
//! never headers).

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::envelope::ApiError;
use super::faults::{Fault, Route};
use super::state::Shared;

/// Path of the fault-scripting route.
pub const FAULTS_PATH: &str = "/__behest/faults";
/// Path of the recorded-requests route.
pub const REQUESTS_PATH: &str = "/__behest/requests";

/// Body of `POST /__behest/faults`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum FaultScript {
    /// Script the next `times` answers of a route.
    Route {
        /// The route family.
        route: Route,
        /// The fault.
        fault: Fault,
        /// How many answers (default 1).
        #[serde(default)]
        times: Option<usize>,
    },
    /// Delay every mint.
    MintLatency {
        /// Milliseconds.
        mint_latency_ms: u64,
    },
}

/// `POST /__behest/faults`.
pub async fn script(State(state): State<Shared>, body: Bytes) -> Response {
    let script: FaultScript = match serde_json::from_slice(&body) {
        Ok(s) => s,
        Err(_) => {
            return ApiError::validation("expected {route, fault, times?} or {mint_latency_ms}")
                .into_response()
        }
    };
    let done = match script {
        FaultScript::Route {
            route,
            fault,
            times,
        } => state
            .faults
            .push_n(route, fault, times.unwrap_or(1).min(10_000)),
        FaultScript::MintLatency { mint_latency_ms } => state
            .faults
            .set_mint_latency(Duration::from_millis(mint_latency_ms.min(60_000))),
    };
    match done {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(_) => ApiError::forbidden("fault injection is off").into_response(),
    }
}

/// `DELETE /__behest/faults`.
pub async fn clear(State(state): State<Shared>) -> Response {
    state.faults.clear();
    StatusCode::NO_CONTENT.into_response()
}

/// One entry of `GET /__behest/requests`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestView {
    /// `GET`, `POST`, …
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Status answered.
    pub status: u16,
    /// `X-Trace-Id` answered.
    pub trace_id: String,
    /// The body as recorded (scrubbed, at most 64 KiB).
    pub body: String,
}

/// `GET /__behest/requests`: the recorded requests, oldest first.
pub async fn requests(State(state): State<Shared>) -> Json<Vec<RequestView>> {
    let all = state.recorder.all().into_iter().map(|r| RequestView {
        method: r.method,
        path: r.path,
        status: r.status,
        trace_id: r.trace_id,
        body: r.body,
    });
    Json(all.collect())
}
