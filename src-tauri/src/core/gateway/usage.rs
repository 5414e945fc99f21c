//! Usage (§8): every completed chat is recorded per `(pid, uid)`, and served in two shapes:
//! `GET /v1/usage` as the SDK reads it (`{totals, breakdown}`) and `GET /v1/billing/usage` as
//! the docs describe it (`{project_id, window, platform, byok}`).
//!
//! Invariant: a user sees only their own usage; `admin` and `dashboard-service` tokens may see
//! the whole project (or filter by `user_id`). The local gateway charges nothing: costs are 0.

use std::collections::BTreeMap;
use std::sync::Mutex;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::envelope::ApiError;
use super::state::{iso8601, Shared};
use super::verify::{authenticate, Verified};

/// One finished chat.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageEvent {
    /// Project id.
    pub pid: String,
    /// End user.
    pub uid: String,
    /// Model that answered.
    pub model: String,
    /// Epoch seconds.
    pub at: i64,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens (only those actually sent).
    pub completion_tokens: u64,
}

/// Every usage event.
#[derive(Debug, Default)]
pub struct UsageStore {
    events: Mutex<Vec<UsageEvent>>,
}

impl UsageStore {
    /// Records one chat.
    pub fn record(&self, event: UsageEvent) {
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(event);
    }
    /// The events matching a filter.
    pub fn select(&self, pid: &str, uid: Option<&str>, from: i64, to: i64) -> Vec<UsageEvent> {
        let events = self.events.lock().unwrap_or_else(|p| p.into_inner());
        events
            .iter()
            .filter(|e| {
                e.pid == pid && uid.is_none_or(|u| e.uid == u) && e.at >= from && e.at <= to
            })
            .cloned()
            .collect()
    }
}

/// Query of both usage routes.
#[derive(Debug, Default, Deserialize)]
pub struct UsageQuery {
    /// ISO 8601 date or date-time; the beginning of time when absent.
    pub from: Option<String>,
    /// ISO 8601 date or date-time; now when absent.
    pub to: Option<String>,
    /// Filter on one user (admins), or the caller's own id.
    pub user_id: Option<String>,
    /// `day` (default), `hour` or `minute`.
    pub granularity: Option<String>,
}

/// Parses `2026-04-01`, `2026-04-01T10:00:00Z` or `2026-04-01T10:00:00.123+00:00` (a naive
/// date-time, as Python's `isoformat()` gives, is read as UTC).
pub fn parse_time(text: &str) -> Option<i64> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = time::OffsetDateTime::parse(text, &Rfc3339) {
        return Some(t.unix_timestamp());
    }
    let with_zone = format!("{text}Z");
    if let Ok(t) = time::OffsetDateTime::parse(&with_zone, &Rfc3339) {
        return Some(t.unix_timestamp());
    }
    let date = time::Date::parse(
        text,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .ok()?;
    Some(date.midnight().assume_utc().unix_timestamp())
}

struct Window {
    from: i64,
    to: i64,
    uid: Option<String>,
    bucket: i64,
}

fn window(v: &Verified, q: &UsageQuery, now: i64) -> Result<Window, ApiError> {
    let time = |t: &Option<String>, default: i64| match t {
        None => Ok(default),
        Some(t) => {
            parse_time(t).ok_or_else(|| ApiError::validation("from/to must be ISO 8601 dates"))
        }
    };
    let bucket = match q.granularity.as_deref().unwrap_or("day") {
        "day" => 86_400,
        "hour" => 3_600,
        "minute" => 60,
        _ => {
            return Err(ApiError::validation(
                "granularity must be day, hour or minute",
            ))
        }
    };
    let privileged =
        matches!(v.claims.role.as_str(), "admin" | "dashboard-service") && !v.tenant_key;
    let uid = match (&q.user_id, privileged) {
        (filter, true) => filter.clone(),
        (Some(other), false) if *other != v.claims.uid => {
            return Err(ApiError::forbidden("a user may only read their own usage"))
        }
        (_, false) => Some(v.claims.uid.clone()),
    };
    Ok(Window {
        from: time(&q.from, 0)?,
        to: time(&q.to, now)?,
        uid,
        bucket,
    })
}

/// `GET /v1/usage`: `{totals:{tokens, cost_usd, requests}, breakdown:[{timestamp, tokens, cost_usd}]}`.
pub async fn sdk_usage(
    State(state): State<Shared>,
    q: Result<Query<UsageQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let v = match authenticate(&state, &headers) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    if state.config.usage_not_supported {
        return v.attach(ApiError::not_found("usage is not supported here").into_response());
    }
    let Ok(Query(q)) = q else {
        return v.attach(ApiError::validation("malformed query").into_response());
    };
    let w = match window(&v, &q, state.clock.now()) {
        Ok(w) => w,
        Err(e) => return v.attach(e.into_response()),
    };
    let events = state
        .usage
        .select(&v.claims.pid, w.uid.as_deref(), w.from, w.to);
    let mut buckets: BTreeMap<i64, u64> = BTreeMap::new();
    for e in &events {
        *buckets
            .entry(e.at.div_euclid(w.bucket) * w.bucket)
            .or_default() += e.prompt_tokens + e.completion_tokens;
    }
    let tokens: u64 = buckets.values().sum();
    let breakdown: Vec<_> = buckets
        .iter()
        .map(|(at, tokens)| serde_json::json!({"timestamp": iso8601(*at), "tokens": tokens, "cost_usd": 0.0}))
        .collect();
    let body = serde_json::json!({
        "totals": {"tokens": tokens, "cost_usd": 0.0, "requests": events.len()},
        "breakdown": breakdown,
    });
    v.attach(Json(body).into_response())
}

/// `GET /v1/billing/usage`: the docs' shape with platform and BYOK buckets.
pub async fn billing_usage(
    State(state): State<Shared>,
    q: Result<Query<UsageQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let v = match authenticate(&state, &headers) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let Ok(Query(q)) = q else {
        return v.attach(ApiError::validation("malformed query").into_response());
    };
    let w = match window(&v, &q, state.clock.now()) {
        Ok(w) => w,
        Err(e) => return v.attach(e.into_response()),
    };
    let events = state
        .usage
        .select(&v.claims.pid, w.uid.as_deref(), w.from, w.to);
    let mut by_model: BTreeMap<&str, u64> = BTreeMap::new();
    for e in &events {
        *by_model.entry(e.model.as_str()).or_default() += 1;
    }
    let by_model: Vec<_> = by_model
        .iter()
        .map(|(model, requests)| serde_json::json!({"model": model, "requests": requests, "cost_usd": 0.0}))
        .collect();
    let empty = serde_json::json!({"requests": 0, "input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0, "by_model": []});
    let body = serde_json::json!({
        "project_id": v.claims.pid,
        "window": {"from": iso8601(w.from), "to": iso8601(w.to)},
        "platform": {
            "requests": events.len(),
            "input_tokens": events.iter().map(|e| e.prompt_tokens).sum::<u64>(),
            "output_tokens": events.iter().map(|e| e.completion_tokens).sum::<u64>(),
            "cost_usd": 0.0,
            "by_model": by_model,
        },
        "byok": empty,
    });
    v.attach(Json(body).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_iso_forms() {
        assert_eq!(parse_time("1970-01-02"), Some(86_400));
        assert_eq!(parse_time("1970-01-01T00:01:00Z"), Some(60));
        assert_eq!(parse_time("1970-01-01T00:01:00.5+00:00"), Some(60));
        assert_eq!(parse_time("1970-01-01T00:01:00"), Some(60));
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn select_filters_by_project_user_and_time() {
        let s = UsageStore::default();
        let ev = |uid: &str, at| UsageEvent {
            pid: "p".into(),
            uid: uid.into(),
            model: "m".into(),
            at,
            prompt_tokens: 1,
            completion_tokens: 2,
        };
        s.record(ev("a", 10));
        s.record(ev("b", 20));
        s.record(ev("a", 30));
        assert_eq!(s.select("p", Some("a"), 0, 100).len(), 2);
        assert_eq!(s.select("p", None, 15, 25).len(), 1);
        assert_eq!(s.select("q", None, 0, 100).len(), 0);
    }
}
