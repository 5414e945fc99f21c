//! `chat.completion`: a one-token, non-streaming test completion with the token; shows the
//! time to first byte, the model and the trace id, and on failure says what to change.
//!
//! The request is made here rather than through `core::chat::ChatClient`: the check needs the
//! answer's `model` and must not retry (a 429 is the finding, not something to wait out).
//! Invariant: the token goes only in the sensitive `Authorization` header.

use std::time::Duration;

use serde_json::{json, Value};

use super::probe::{exchange, millis};
use super::result::CheckResult;
use crate::core::config::AuthMode;
use crate::core::protocol::errors::trace_id;
use crate::core::protocol::{paths, HEADER_SESSION_ID};
use crate::core::redact::Secret;
use crate::core::Error;

/// `chat.completion`.
pub const COMPLETION: &str = "chat.completion";

fn hint(error: &Error, mode: &AuthMode) -> String {
    let sign = matches!(mode, AuthMode::LocalSign(_) | AuthMode::Demo);
    match error {
        Error::Unauthorized(_) if sign => {
            "the gateway refused the token: see the token and verify checks above; check BEHEST_KEY, BEHEST_KID, BEHEST_ISSUER, BEHEST_AUDIENCE and this machine's clock".into()
        }
        Error::Unauthorized(_) => "the gateway refused the token: check BEHEST_BASE_URL is the project that issued it, and the verify checks above".into(),
        Error::Forbidden(_) if sign => {
            "the token is for another project: set BEHEST_TENANT_ID and BEHEST_PROJECT_ID to the ids of the project at BEHEST_BASE_URL (or the project is suspended)".into()
        }
        Error::Forbidden(_) => "the token is for another project than BEHEST_BASE_URL serves (or the project is suspended): check BEHEST_BASE_URL".into(),
        Error::QuotaExceeded(_) => {
            "the tier's daily quota is used up: raise the user's tier (BEHEST_TIER) or the project's tier limits in the dashboard, or wait for the daily reset".into()
        }
        Error::RateLimited(f) => {
            let wait = f.retry_after.map(|d| format!("wait {} s, or ", d.as_secs())).unwrap_or_default();
            format!("per-minute limit reached: {wait}raise the user's tier (BEHEST_TIER) or the project's rate limit")
        }
        Error::BadRequest(_) => "the gateway refused the test request: check the project's default model in the dashboard".into(),
        Error::NotFound(_) => "no chat route there: set BEHEST_BASE_URL to the project's origin (https://<slug>.behest.app, without /v1)".into(),
        Error::Network(_) | Error::Timeout(_) => "nothing answered: check BEHEST_BASE_URL and your network".into(),
        _ => "the gateway failed: try again later, and report the trace id if it persists".into(),
    }
}

/// What the token says it is for (`tid`, `pid`), for a 403's detail: the gateway does not say
/// whether the tenant or the project is wrong, so the detail shows both ids to compare with the
/// dashboard.
fn token_ids(claims: Option<&Value>) -> Option<String> {
    let claims = claims?;
    let id = |name: &str| claims.get(name).and_then(Value::as_str).unwrap_or("(none)");
    Some(format!(
        "the token is for tenant {} and project {}",
        id("tid"),
        id("pid")
    ))
}

/// Sends the test completion; `claims` are the token's decoded claims, when readable.
pub async fn completion(
    http: &reqwest::Client,
    base: &str,
    token: &Secret,
    claims: Option<&Value>,
    session_id: Option<&str>,
    mode: &AuthMode,
    timeout: Duration,
) -> CheckResult {
    let body = json!({"messages": [{"role": "user", "content": "ping"}], "max_tokens": 1, "stream": false});
    let mut request = http.post(format!("{base}{}", paths::CHAT)).json(&body);
    if let Some(sid) = session_id {
        request = request.header(HEADER_SESSION_ID, sid);
    }
    let answer = match exchange(request, Some(token), timeout).await {
        Ok(a) => a,
        Err(e) => return CheckResult::fail(COMPLETION, format!("no answer: {e}"), hint(&e, mode)),
    };
    let trace = trace_id(&answer.headers).unwrap_or_else(|| "none".into());
    if let Some(e) = answer.error() {
        let mut detail = format!("HTTP {}: {e}", answer.status);
        if let Some(wait) = e.retry_after() {
            detail.push_str(&format!("; retry after {} s", wait.as_secs()));
        }
        if let Some(details) = e.http().and_then(|f| f.details.as_ref()) {
            detail.push_str(&format!("; details {details}"));
        }
        if let (Error::Forbidden(_), Some(ids)) = (&e, token_ids(claims)) {
            detail.push_str(&format!("; {ids}"));
        }
        return CheckResult::fail(COMPLETION, detail, hint(&e, mode));
    }
    let parsed: Option<Value> = serde_json::from_slice(&answer.body).ok();
    let model = parsed
        .as_ref()
        .and_then(|v| v.get("model"))
        .and_then(Value::as_str);
    let Some(model) = model else {
        return CheckResult::fail(
            COMPLETION,
            format!(
                "HTTP {} but the answer is not a chat.completion (trace {trace})",
                answer.status
            ),
            "set BEHEST_BASE_URL to the project's origin (https://<slug>.behest.app, without /v1)",
        );
    };
    let usage = parsed
        .as_ref()
        .and_then(|v| v.get("usage"))
        .and_then(|u| u.get("total_tokens"))
        .and_then(Value::as_u64)
        .map(|t| format!(", {t} tokens"))
        .unwrap_or_default();
    CheckResult::pass(
        COMPLETION,
        format!(
            "first byte after {} ms, model {model}{usage}, trace {trace}",
            millis(answer.ttfb)
        ),
    )
}
