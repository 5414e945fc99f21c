//! Usage (§8): every completed chat is recorded per `(pid, uid)`, and served in two shapes:
//! `GET /v1/usage` as the SDK reads it (`{totals, breakdown}`) and `GET /v1/billing/usage` as
//! the docs describe it (`{project_id, window, platform, byok}`).
//!
//! Invariant: a user sees only their own usage; `admin` and `dashboard-service` tokens may see
//! the whole project (or filter by `user_id`). The local gateway charges nothing: costs are 0.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

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

/// The chats of one `(project, user, model)` in one second, summed.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageRow {
    /// Project id.
    pub pid: Arc<str>,
    /// End user.
    pub uid: Arc<str>,
    /// Model that answered.
    pub model: Arc<str>,
    /// Epoch seconds.
    pub at: i64,
    /// How many chats.
    pub requests: u64,
    /// Prompt tokens of all of them.
    pub prompt_tokens: u64,
    /// Completion tokens of all of them.
    pub completion_tokens: u64,
}

/// Every chat the gateway finished, kept as small as its queries allow.
///
/// The routes filter on whole seconds (`from`/`to` are read to the second), so chats of the
/// same `(project, user, model)` in the same second are summed into one row, and the three
/// names are shared between rows instead of copied into each. In the desktop app's demo
/// gateway this store lives as long as the app: a row costs ~80 bytes instead of ~250 for
/// three owned strings per chat, and a burst of chats (a benchmark, a script) costs one row
/// a second.
#[derive(Debug, Default)]
pub struct UsageStore {
    inner: Mutex<Rows>,
}

#[derive(Debug, Default)]
struct Rows {
    rows: Vec<UsageRow>,
    names: HashSet<Arc<str>>,
}

impl Rows {
    fn name(&mut self, text: &str) -> Arc<str> {
        if let Some(name) = self.names.get(text) {
            return Arc::clone(name);
        }
        let name: Arc<str> = Arc::from(text);
        self.names.insert(Arc::clone(&name));
        name
    }
}

impl UsageStore {
    /// Records one chat.
    pub fn record(&self, event: UsageEvent) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        // Chats finish in time order, so a chat of the same second is in the last few rows
        // (one per user and model finishing in that second).
        let same = inner
            .rows
            .iter_mut()
            .rev()
            .take_while(|r| r.at == event.at)
            .find(|r| *r.pid == *event.pid && *r.uid == *event.uid && *r.model == *event.model);
        if let Some(row) = same {
            row.requests += 1;
            row.prompt_tokens += event.prompt_tokens;
            row.completion_tokens += event.completion_tokens;
            return;
        }
        let row = UsageRow {
            pid: inner.name(&event.pid),
            uid: inner.name(&event.uid),
            model: inner.name(&event.model),
            at: event.at,
            requests: 1,
            prompt_tokens: event.prompt_tokens,
            completion_tokens: event.completion_tokens,
        };
        inner.rows.push(row);
    }
    /// The rows matching a filter.
    pub fn select(&self, pid: &str, uid: Option<&str>, from: i64, to: i64) -> Vec<UsageRow> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner
            .rows
            .iter()
            .filter(|r| {
                *r.pid == *pid && uid.is_none_or(|u| *r.uid == *u) && r.at >= from && r.at <= to
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
    let rows = state
        .usage
        .select(&v.claims.pid, w.uid.as_deref(), w.from, w.to);
    let requests: u64 = rows.iter().map(|r| r.requests).sum();
    let mut buckets: BTreeMap<i64, u64> = BTreeMap::new();
    for e in &rows {
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
        "totals": {"tokens": tokens, "cost_usd": 0.0, "requests": requests},
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
    let rows = state
        .usage
        .select(&v.claims.pid, w.uid.as_deref(), w.from, w.to);
    let mut by_model: BTreeMap<&str, u64> = BTreeMap::new();
    for r in &rows {
        *by_model.entry(&r.model).or_default() += r.requests;
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
            "requests": rows.iter().map(|r| r.requests).sum::<u64>(),
            "input_tokens": rows.iter().map(|r| r.prompt_tokens).sum::<u64>(),
            "output_tokens": rows.iter().map(|r| r.completion_tokens).sum::<u64>(),
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

    fn chat(uid: &str, model: &str, at: i64, prompt_tokens: u64) -> UsageEvent {
        UsageEvent {
            pid: "p".into(),
            uid: uid.into(),
            model: model.into(),
            at,
            prompt_tokens,
            completion_tokens: 10,
        }
    }

    #[test]
    fn chats_of_one_second_become_one_row_and_keep_their_sums() {
        let s = UsageStore::default();
        s.record(chat("a", "m", 10, 1));
        s.record(chat("b", "m", 10, 2));
        s.record(chat("a", "m", 10, 3));
        s.record(chat("a", "n", 10, 4));
        s.record(chat("a", "m", 11, 5));
        let rows = s.select("p", Some("a"), 0, 100);
        let summary: Vec<_> = rows
            .iter()
            .map(|r| {
                (
                    &*r.model,
                    r.at,
                    r.requests,
                    r.prompt_tokens,
                    r.completion_tokens,
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("m", 10, 2, 4, 20),
                ("n", 10, 1, 4, 10),
                ("m", 11, 1, 5, 10)
            ]
        );
        // The other user's chat in the same second stays apart.
        let b = s.select("p", Some("b"), 0, 100);
        assert_eq!((b.len(), b[0].requests, b[0].prompt_tokens), (1, 1, 2));
        // A window that ends before the second holds none of it.
        assert!(s.select("p", None, 0, 9).is_empty());
        assert_eq!(s.select("p", None, 11, 11)[0].requests, 1);
    }

    #[test]
    fn a_clock_that_goes_back_adds_a_row_instead_of_merging_into_an_older_one() {
        let s = UsageStore::default();
        s.record(chat("a", "m", 10, 1));
        s.record(chat("a", "m", 20, 1));
        s.record(chat("a", "m", 10, 1));
        let at_10: u64 = s.select("p", None, 10, 10).iter().map(|r| r.requests).sum();
        assert_eq!(at_10, 2);
        assert_eq!(s.select("p", None, 20, 20)[0].requests, 1);
    }

    #[test]
    fn rows_share_the_names_instead_of_copying_them() {
        let s = UsageStore::default();
        s.record(chat("a", "m", 10, 1));
        s.record(chat("a", "m", 11, 1));
        let rows = s.select("p", None, 0, 100);
        assert_eq!(rows.len(), 2);
        assert!(Arc::ptr_eq(&rows[0].uid, &rows[1].uid));
        assert!(Arc::ptr_eq(&rows[0].model, &rows[1].model));
    }
}
