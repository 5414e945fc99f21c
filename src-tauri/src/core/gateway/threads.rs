//! Threads (§7.2, §7.3): persistent conversations in memory, keyed by `(pid, uid, thread_id)`,
//! created lazily by chat calls carrying `X-Thread-Id`, and the list/get/delete/messages routes.
//!
//! Invariant: every lookup is scoped to the verified token's `(pid, uid)`; another user's thread
//! is indistinguishable from a missing one (404). The store lock is never held across an await.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use super::envelope::ApiError;
use super::state::{iso8601, Shared};
use super::verify::{authenticate, Verified};

/// Longest accepted thread id, in bytes.
pub const MAX_THREAD_ID: usize = 256;

/// One message of a thread.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThreadMessage {
    /// `user` or `assistant`.
    pub role: String,
    /// The text.
    pub content: String,
    /// ISO 8601 time it was stored.
    pub created_at: String,
}

/// A thread as the list and get routes show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThreadSummary {
    /// The client-chosen id.
    pub id: String,
    /// The first user message, shortened.
    pub title: String,
    /// ISO 8601 creation time.
    pub created_at: String,
    /// ISO 8601 time of the last message.
    pub last_message_at: String,
    /// How many messages it holds.
    pub message_count: usize,
}

#[derive(Debug, Clone)]
struct Thread {
    summary: ThreadSummary,
    messages: Vec<ThreadMessage>,
}

type Scope = (String, String);

/// All threads of all users.
#[derive(Debug, Default)]
pub struct ThreadStore {
    threads: Mutex<HashMap<Scope, Vec<Thread>>>,
}

/// Whether a client-chosen thread id is acceptable: 1–256 bytes, no control characters.
pub fn valid_thread_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_THREAD_ID && !id.chars().any(char::is_control)
}

impl ThreadStore {
    /// Appends messages to the thread, creating it on first use.
    pub fn append(&self, pid: &str, uid: &str, id: &str, messages: &[(&str, &str)], now: i64) {
        let at = iso8601(now);
        let mut all = self.threads.lock().unwrap_or_else(|p| p.into_inner());
        let list = all.entry((pid.to_string(), uid.to_string())).or_default();
        let index = match list.iter().position(|t| t.summary.id == id) {
            Some(i) => i,
            None => {
                let title = messages
                    .iter()
                    .find(|(role, _)| *role == "user")
                    .map(|(_, text)| text.chars().take(60).collect())
                    .unwrap_or_default();
                list.push(Thread {
                    summary: ThreadSummary {
                        id: id.to_string(),
                        title,
                        created_at: at.clone(),
                        last_message_at: at.clone(),
                        message_count: 0,
                    },
                    messages: Vec::new(),
                });
                list.len() - 1
            }
        };
        if let Some(thread) = list.get_mut(index) {
            for (role, content) in messages {
                thread.messages.push(ThreadMessage {
                    role: role.to_string(),
                    content: content.to_string(),
                    created_at: at.clone(),
                });
            }
            thread.summary.message_count = thread.messages.len();
            thread.summary.last_message_at = at;
        }
    }

    /// The user's threads, most recently created last.
    pub fn list(&self, pid: &str, uid: &str) -> Vec<ThreadSummary> {
        let all = self.threads.lock().unwrap_or_else(|p| p.into_inner());
        all.get(&(pid.to_string(), uid.to_string()))
            .map(|l| l.iter().map(|t| t.summary.clone()).collect())
            .unwrap_or_default()
    }

    fn with<T>(&self, pid: &str, uid: &str, id: &str, f: impl FnOnce(&Thread) -> T) -> Option<T> {
        let all = self.threads.lock().unwrap_or_else(|p| p.into_inner());
        all.get(&(pid.to_string(), uid.to_string()))?
            .iter()
            .find(|t| t.summary.id == id)
            .map(f)
    }

    /// One of the user's threads.
    pub fn get(&self, pid: &str, uid: &str, id: &str) -> Option<ThreadSummary> {
        self.with(pid, uid, id, |t| t.summary.clone())
    }

    /// The messages of one of the user's threads.
    pub fn messages(&self, pid: &str, uid: &str, id: &str) -> Option<Vec<ThreadMessage>> {
        self.with(pid, uid, id, |t| t.messages.clone())
    }

    /// Deletes one of the user's threads; whether it existed.
    pub fn delete(&self, pid: &str, uid: &str, id: &str) -> bool {
        let mut all = self.threads.lock().unwrap_or_else(|p| p.into_inner());
        let Some(list) = all.get_mut(&(pid.to_string(), uid.to_string())) else {
            return false;
        };
        let before = list.len();
        list.retain(|t| t.summary.id != id);
        before != list.len()
    }
}

fn scope(v: &Verified) -> (&str, &str) {
    (v.claims.pid.as_str(), v.claims.uid.as_str())
}

fn missing() -> ApiError {
    ApiError::not_found("thread not found")
}

/// `GET /v1/threads`: a JSON array.
pub async fn list(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let v = match authenticate(&state, &headers) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let (pid, uid) = scope(&v);
    v.attach(Json(state.threads.list(pid, uid)).into_response())
}

/// Authenticates, reads the thread id from the path and answers with `act(pid, uid, id)` in the
/// caller's scope, the trace headers attached.
fn in_scope(
    state: &Shared,
    id: Result<Path<String>, PathRejection>,
    headers: &HeaderMap,
    act: impl FnOnce(&str, &str, &str) -> Response,
) -> Response {
    let v = match authenticate(state, headers) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let Ok(Path(id)) = id else {
        return v.attach(ApiError::validation("malformed thread id").into_response());
    };
    let (pid, uid) = scope(&v);
    let answer = act(pid, uid, &id);
    v.attach(answer)
}

/// `GET /v1/threads/{id}`.
pub async fn get(
    State(state): State<Shared>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Response {
    in_scope(&state, id, &headers, |pid, uid, id| {
        state
            .threads
            .get(pid, uid, id)
            .map(Json)
            .ok_or_else(missing)
            .into_response()
    })
}

/// `GET /v1/threads/{id}/messages`: a JSON array.
pub async fn messages(
    State(state): State<Shared>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Response {
    in_scope(&state, id, &headers, |pid, uid, id| {
        state
            .threads
            .messages(pid, uid, id)
            .map(Json)
            .ok_or_else(missing)
            .into_response()
    })
}

/// `DELETE /v1/threads/{id}`: 204.
pub async fn delete(
    State(state): State<Shared>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Response {
    in_scope(&state, id, &headers, |pid, uid, id| {
        if state.threads.delete(pid, uid, id) {
            StatusCode::NO_CONTENT.into_response()
        } else {
            missing().into_response()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_are_scoped_to_project_and_user() {
        let s = ThreadStore::default();
        s.append(
            "p",
            "alice",
            "t1",
            &[("user", "hello there"), ("assistant", "hi")],
            1_800_000_000,
        );
        s.append("p", "alice", "t1", &[("user", "again")], 1_800_000_060);
        assert_eq!(s.list("p", "alice").len(), 1);
        assert_eq!(s.get("p", "alice", "t1").map(|t| t.message_count), Some(3));
        assert_eq!(
            s.get("p", "alice", "t1").map(|t| t.title),
            Some("hello there".to_string())
        );
        assert!(s.get("p", "bob", "t1").is_none());
        assert!(s.get("q", "alice", "t1").is_none());
        assert!(!s.delete("p", "bob", "t1"));
        assert!(s.delete("p", "alice", "t1"));
        assert!(s.messages("p", "alice", "t1").is_none());
    }

    #[test]
    fn thread_ids_are_checked() {
        assert!(valid_thread_id("thread_2026_04_12_abc"));
        assert!(!valid_thread_id(""));
        assert!(!valid_thread_id("a\nb"));
        assert!(!valid_thread_id(&"x".repeat(MAX_THREAD_ID + 1)));
    }
}
