//! `POST /v1/chat/completions` (§6): verify the token, parse and check the body, resolve the
//! model, session and thread, admit against the tier limits, ask the responder, and answer as a
//! `chat.completion` or an SSE stream ([`super::stream`]). When the reply ends (or the client
//! leaves) the [`Finisher`] records usage, tokens and the thread exchange exactly once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use axum::Json;
use futures_util::StreamExt as _;

use super::conn::ResetSwitch;
use super::envelope::ApiError;
use super::faults::Fault;
use super::record::{SessionSource, SessionUse};
use super::responder::ReplyRequest;
use super::state::Shared;
use super::stream::sse_response;
use super::threads::valid_thread_id;
use super::usage::UsageEvent;
use super::verify::{authenticate, Verified};
use crate::core::protocol::chat::{
    ChatCompletion, ChatMessage, ChatRequest, CompletionChoice, Usage,
};
use crate::core::protocol::{HEADER_SESSION_ID, HEADER_THREAD_ID};

/// What every frame of one completion shares.
#[derive(Debug, Clone)]
pub struct Completion {
    /// `chatcmpl-…`.
    pub id: String,
    /// Epoch seconds.
    pub created: i64,
    /// Model answering.
    pub model: String,
    /// Prompt size (whitespace-separated words, at least 1).
    pub prompt_tokens: u64,
    /// Send the usage chunk.
    pub include_usage: bool,
    /// Set when `max_tokens` cut the reply short (see [`capped`](super::responder::capped)).
    pub cut: Option<Arc<AtomicBool>>,
}

impl Completion {
    /// `length` when `max_tokens` cut the reply, else `stop`.
    pub fn finish_reason(&self) -> &'static str {
        match &self.cut {
            Some(cut) if cut.load(Ordering::SeqCst) => "length",
            _ => "stop",
        }
    }
}

/// Records the outcome of one chat once it ends: usage, tier tokens, thread messages.
pub struct Finisher {
    state: Shared,
    pid: String,
    uid: String,
    tier: String,
    model: String,
    prompt_tokens: u64,
    thread: Option<(String, String)>,
}

impl Finisher {
    /// Records a reply of `text` made of `completion_tokens` deltas.
    pub fn finish(self, text: &str, completion_tokens: u64) {
        let now = self.state.clock.now();
        let total = self.prompt_tokens + completion_tokens;
        self.state
            .limits
            .add_tokens((&self.pid, &self.uid, &self.tier), total, now);
        self.state.usage.record(UsageEvent {
            pid: self.pid.clone(),
            uid: self.uid.clone(),
            model: self.model.clone(),
            at: now,
            prompt_tokens: self.prompt_tokens,
            completion_tokens,
        });
        if let Some((thread, user_text)) = &self.thread {
            self.state.threads.append(
                &self.pid,
                &self.uid,
                thread,
                &[("user", user_text), ("assistant", text)],
                now,
            );
        }
    }
}

/// Parses the body: a JSON object with a non-empty `messages` array.
pub fn parse_body(body: &[u8]) -> Result<(ChatRequest, serde_json::Value), ApiError> {
    if body.is_empty() {
        return Err(ApiError::validation("request body is required"));
    }
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| ApiError::validation("body is not valid json"))?;
    let request: ChatRequest = serde_json::from_value(value.clone()).map_err(|_| {
        ApiError::validation("body must be a chat request with messages of role and content")
    })?;
    if request.messages.is_empty() {
        return Err(ApiError::validation("messages must not be empty"));
    }
    Ok((request, value))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

fn resolve_model(v: &Verified, requested: Option<&str>) -> Result<String, ApiError> {
    let p = &v.project;
    match requested.map(str::trim).filter(|m| !m.is_empty()) {
        None => Ok(p.default_model.clone()),
        Some(m) if m == p.default_model || p.models.iter().any(|x| x == m) => Ok(m.to_string()),
        Some(_) => Err(ApiError::validation("unknown model")),
    }
}

/// Prompt size: whitespace-separated words of every message, at least 1.
pub fn prompt_tokens(messages: &[ChatMessage]) -> u64 {
    let words: usize = messages
        .iter()
        .map(|m| m.content.split_whitespace().count())
        .sum();
    u64::try_from(words.max(1)).unwrap_or(u64::MAX)
}

/// The handler.
pub async fn completions(
    State(state): State<Shared>,
    fault: Option<Extension<StreamFault>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let v = match authenticate(&state, &headers) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let session = match header(&headers, HEADER_SESSION_ID) {
        Some(id) => Some(SessionUse {
            id: id.to_string(),
            source: SessionSource::Header,
        }),
        None => v.claims.sid.clone().map(|id| SessionUse {
            id,
            source: SessionSource::Claim,
        }),
    };
    let mut response = v.attach(respond(&state, &v, &headers, &body, fault.map(|f| f.0)).await);
    if let Some(session) = session {
        response.extensions_mut().insert(session);
    }
    response
}

async fn respond(
    state: &Shared,
    v: &Verified,
    headers: &HeaderMap,
    body: &[u8],
    fault: Option<StreamFault>,
) -> Response {
    let (request, raw) = match parse_body(body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    // `max_tokens`, or `max_completion_tokens` (OpenAI's newer name); at least 1.
    let limit = request.max_tokens.map(u64::from).or_else(|| {
        request
            .extra
            .get("max_completion_tokens")
            .and_then(serde_json::Value::as_u64)
    });
    if limit == Some(0) {
        return ApiError::validation("max_tokens must be at least 1").into_response();
    }
    let model = match resolve_model(v, request.model.as_deref()) {
        Ok(m) => m,
        Err(e) => return e.into_response(),
    };
    let thread = match header(headers, HEADER_THREAD_ID) {
        Some(id) if !valid_thread_id(id) => {
            return ApiError::validation("invalid X-Thread-Id").into_response()
        }
        Some(id) => Some(id.to_string()),
        None => None,
    };
    let tier = v
        .claims
        .tier
        .as_ref()
        .map(|t| t.name())
        .unwrap_or_else(|| "free".into());
    let limits = v
        .project
        .tier_limits
        .get(&tier)
        .or_else(|| v.project.tier_limits.get("free"))
        .copied();
    let (pid, uid) = (v.claims.pid.clone(), v.claims.uid.clone());
    if let Some(limits) = limits {
        if let Err(e) = state
            .limits
            .admit((&pid, &uid, &tier), &limits, state.clock.now())
        {
            return e.into_response();
        }
    }
    let prompt = prompt_tokens(&request.messages);
    let last_user = request
        .messages
        .iter()
        .rev()
        .find(|m| m.role == "user")
        .map(|m| m.content.clone());
    let finisher = Finisher {
        state: state.clone(),
        pid,
        uid,
        tier,
        model: model.clone(),
        prompt_tokens: prompt,
        thread: thread.map(|t| (t, last_user.unwrap_or_default())),
    };
    let reply = ReplyRequest {
        model: model.clone(),
        messages: request.messages.clone(),
        body: raw,
    };
    let text = match state.config.responder.reply(reply).await {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    let (text, cut) = match limit {
        Some(max) => {
            let (text, cut) = super::responder::capped(text, max);
            (text, Some(cut))
        }
        None => (text, None),
    };
    let completion = Completion {
        id: format!("chatcmpl-{}", uuid::Uuid::new_v4().simple()),
        created: state.clock.now(),
        model,
        prompt_tokens: prompt,
        include_usage: request
            .stream_options
            .as_ref()
            .is_some_and(|o| o.include_usage),
        cut,
    };
    if request.stream == Some(true) {
        return sse_response(completion, text, fault, finisher, state.shutdown.clone());
    }
    whole(completion, text, finisher).await
}

/// The non-streaming answer: every delta collected into one `chat.completion`.
async fn whole(
    c: Completion,
    mut text: super::responder::TextStream,
    finisher: Finisher,
) -> Response {
    let mut content = String::new();
    let mut tokens = 0u64;
    while let Some(piece) = text.next().await {
        match piece {
            Ok(p) => {
                content.push_str(&p);
                tokens += 1;
            }
            Err(e) => {
                finisher.finish(&content, tokens);
                return e.into_response();
            }
        }
    }
    finisher.finish(&content, tokens);
    let finish_reason = c.finish_reason();
    let completion = ChatCompletion {
        id: c.id,
        object: "chat.completion".into(),
        created: c.created,
        model: c.model,
        choices: vec![CompletionChoice {
            index: 0,
            message: ChatMessage::new("assistant", content),
            finish_reason: Some(finish_reason.into()),
        }],
        usage: Some(Usage {
            prompt_tokens: c.prompt_tokens,
            completion_tokens: tokens,
            total_tokens: c.prompt_tokens + tokens,
        }),
    };
    Json(completion).into_response()
}

/// A stream fault handed over by the router middleware for this request.
#[derive(Debug, Clone)]
pub struct StreamFault {
    /// The scripted fault.
    pub fault: Fault,
    /// The request's connection, for a real TCP reset (none when served without one).
    pub reset: Option<ResetSwitch>,
}
