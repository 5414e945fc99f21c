//! Scripted faults for tests: the next N answers of a route can be replaced by a status (with a
//! body and headers such as `Retry-After`), delayed, or (on chat streams) broken in the ways real
//! servers break SSE.
//!
//! Invariant: faults act only when the config enables them; [`Faults::push`] on a gateway
//! without them is an error, never silently ignored. The queue lock is never held across an await.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::core::protocol::paths;
use crate::core::{Error, Result};

/// A route family faults are scripted for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// `POST /v1/auth/mint` and `/auth/v1/auth/mint`.
    Mint,
    /// `POST /v1/chat/completions`.
    Chat,
    /// `GET /.well-known/jwks.json`.
    Jwks,
    /// `/v1/threads…`.
    Threads,
    /// `/v1/usage` and `/v1/billing/usage`.
    Usage,
    /// `GET /v1/models`.
    Models,
    /// `POST /api/behest/token`.
    Token,
}

impl Route {
    /// The route family of a request path, if it has one.
    pub fn of_path(path: &str) -> Option<Route> {
        match path {
            paths::MINT | paths::MINT_AUTH_SERVICE => Some(Route::Mint),
            paths::CHAT => Some(Route::Chat),
            paths::JWKS => Some(Route::Jwks),
            paths::USAGE | paths::BILLING_USAGE => Some(Route::Usage),
            paths::MODELS => Some(Route::Models),
            paths::TOKEN_ENDPOINT => Some(Route::Token),
            p if p == paths::THREADS || p.starts_with("/v1/threads/") => Some(Route::Threads),
            _ => None,
        }
    }
}

/// One scripted answer. Build with [`Fault::status`] or [`Fault::stream`] and the knobs below.
/// Stream knobs count `data:` events already sent (the role delta is event 0).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Fault {
    /// Answer with this status instead of running the handler.
    pub status: Option<u16>,
    /// Body of that answer; an envelope for the status when absent.
    pub body: Option<String>,
    /// Extra headers of that answer.
    pub headers: Vec<(String, String)>,
    /// `Retry-After` seconds on that answer.
    pub retry_after: Option<u64>,
    /// Wait this long before sending headers.
    pub delay_ms: u64,
    /// Send N events, then go silent while holding the connection open.
    pub stall_after: Option<usize>,
    /// Send N events, then reset the connection (a TCP RST: `SO_LINGER 0`, then close).
    pub reset_after: Option<usize>,
    /// Frame events with CRLF instead of LF.
    pub crlf: bool,
    /// Split every event across two writes.
    pub split_events: bool,
    /// Split one multi-byte UTF-8 character across two writes.
    pub split_utf8: bool,
    /// End without `data: [DONE]`.
    pub omit_done: bool,
    /// After N events, send a `data:` line that is not JSON, then end.
    pub malformed_after: Option<usize>,
    /// After N events, send `data: {"error":{…}}`, then end.
    pub error_after: Option<usize>,
    /// Send a `: keep-alive` comment before every event.
    pub keep_alive: bool,
}

impl Fault {
    /// Answer with `status` (and a matching envelope).
    pub fn status(status: u16) -> Self {
        Fault {
            status: Some(status),
            ..Fault::default()
        }
    }
    /// A normal stream, to be broken by the knobs below.
    pub fn stream() -> Self {
        Fault::default()
    }
    /// Use this body for the status answer.
    pub fn body(mut self, body: impl Into<String>) -> Self {
        self.body = Some(body.into());
        self
    }
    /// Add a header to the status answer.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
    /// Add `Retry-After: secs`.
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }
    /// Wait before sending headers.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self
    }
    /// Go silent after `n` events.
    pub fn stall_after(mut self, n: usize) -> Self {
        self.stall_after = Some(n);
        self
    }
    /// Reset the connection after `n` events.
    pub fn reset_after(mut self, n: usize) -> Self {
        self.reset_after = Some(n);
        self
    }
    /// CRLF framing.
    pub fn crlf(mut self) -> Self {
        self.crlf = true;
        self
    }
    /// Split every event across writes.
    pub fn split_events(mut self) -> Self {
        self.split_events = true;
        self
    }
    /// Split a multi-byte character across writes.
    pub fn split_utf8(mut self) -> Self {
        self.split_utf8 = true;
        self
    }
    /// Omit `[DONE]`.
    pub fn omit_done(mut self) -> Self {
        self.omit_done = true;
        self
    }
    /// Malformed JSON after `n` events.
    pub fn malformed_after(mut self, n: usize) -> Self {
        self.malformed_after = Some(n);
        self
    }
    /// A mid-stream error event after `n` events.
    pub fn error_after(mut self, n: usize) -> Self {
        self.error_after = Some(n);
        self
    }
    /// Keep-alive comments between events.
    pub fn keep_alive(mut self) -> Self {
        self.keep_alive = true;
        self
    }
}

/// The fault queues of a running gateway.
#[derive(Debug, Default)]
pub struct Faults {
    enabled: bool,
    queues: Mutex<HashMap<Route, VecDeque<Fault>>>,
    mint_latency_ms: AtomicU64,
}

impl Faults {
    /// Queues, active only when `enabled`.
    pub fn new(enabled: bool) -> Self {
        Faults {
            enabled,
            ..Faults::default()
        }
    }

    /// Whether faults are active.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    fn check(&self) -> Result<()> {
        if self.enabled {
            Ok(())
        } else {
            Err(Error::settings(
                "gateway.faults_enabled",
                "fault injection is off in this gateway",
            ))
        }
    }

    /// Scripts the next answer of `route`.
    pub fn push(&self, route: Route, fault: Fault) -> Result<()> {
        self.push_n(route, fault, 1)
    }

    /// Scripts the next `times` answers of `route`.
    pub fn push_n(&self, route: Route, fault: Fault, times: usize) -> Result<()> {
        self.check()?;
        let mut queues = self.queues.lock().unwrap_or_else(|p| p.into_inner());
        let queue = queues.entry(route).or_default();
        queue.extend(std::iter::repeat_n(fault, times));
        Ok(())
    }

    /// Drops every scripted fault and the mint latency.
    pub fn clear(&self) {
        self.queues
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.mint_latency_ms.store(0, Ordering::Relaxed);
    }

    /// Delays every mint answer by `latency` (simulates the 50–200 ms of a real mint).
    pub fn set_mint_latency(&self, latency: Duration) -> Result<()> {
        self.check()?;
        let ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
        self.mint_latency_ms.store(ms, Ordering::Relaxed);
        Ok(())
    }

    /// The mint latency currently set.
    pub fn mint_latency(&self) -> Duration {
        if !self.enabled {
            return Duration::ZERO;
        }
        Duration::from_millis(self.mint_latency_ms.load(Ordering::Relaxed))
    }

    /// Takes the next scripted fault of `route`.
    pub fn take(&self, route: Route) -> Option<Fault> {
        if !self.enabled {
            return None;
        }
        self.queues
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(&route)?
            .pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queues_pop_in_order_per_route() -> Result<()> {
        let f = Faults::new(true);
        f.push_n(Route::Chat, Fault::status(503), 2)?;
        f.push(Route::Mint, Fault::status(429).retry_after(2))?;
        assert_eq!(f.take(Route::Chat).and_then(|f| f.status), Some(503));
        assert_eq!(f.take(Route::Mint).and_then(|f| f.retry_after), Some(2));
        assert_eq!(f.take(Route::Chat).and_then(|f| f.status), Some(503));
        assert_eq!(f.take(Route::Chat), None);
        Ok(())
    }

    #[test]
    fn disabled_faults_refuse_scripts() {
        let f = Faults::new(false);
        assert!(matches!(
            f.push(Route::Chat, Fault::status(500)),
            Err(Error::InvalidSettings { .. })
        ));
        assert!(f.set_mint_latency(Duration::from_millis(5)).is_err());
        assert_eq!(f.take(Route::Chat), None);
    }

    #[test]
    fn routes_of_paths() {
        assert_eq!(Route::of_path("/auth/v1/auth/mint"), Some(Route::Mint));
        assert_eq!(
            Route::of_path("/v1/threads/abc/messages"),
            Some(Route::Threads)
        );
        assert_eq!(Route::of_path("/v1/billing/usage"), Some(Route::Usage));
        assert_eq!(Route::of_path("/nope"), None);
    }
}
