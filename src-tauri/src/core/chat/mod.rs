//! Chat completions against a Behest gateway: request building with the retry policy
//! (`client`, over [`crate::core::retry`]), the stream driver (`stream`), and the registry of requests in flight
//! (`registry`).
//!
//! Invariants:
//! - Retries happen only before any byte of an answer body reached the caller; once a 200
//!   answer started, a broken stream is reported as [`ChatStatus::Interrupted`] with the text
//!   kept, and nothing is re-sent automatically.
//! - Every network await is raced against the request's cancellation token and a timeout;
//!   cancellation is an outcome ([`ChatStatus::Cancelled`]), not an error, and drops the
//!   connection at once.
//! - The token is exposed only in the `Authorization` header (marked sensitive); no error or
//!   event carries it. Prompts and completions are never logged.

mod client;
mod registry;
mod stream;

use std::time::Duration;

pub use crate::core::retry::RetryPolicy;
pub use client::{ChatClient, ChatConfig, ChatSend};
pub use registry::{InFlight, InFlightGuard};

use crate::core::protocol::chat::Usage;
use crate::core::Error;

/// What the stream driver tells its sink, in order: any `Retrying` (before an answer), `Started`,
/// any number of `Delta` and at most one `Usage`, then `Done` or `Interrupted` (nothing more
/// after a cancel or an error).
#[derive(Debug, Clone, PartialEq)]
pub enum ChatEvent {
    /// The gateway accepted the request (a 200 answer arrived).
    Started {
        /// `X-Trace-Id` of the answer.
        trace_id: Option<String>,
    },
    /// A request failed before any answer and will be sent again after `wait` (a `Retry-After`
    /// being honoured, or a backoff); nothing was shown yet, so nothing is repeated.
    Retrying {
        /// The request about to be sent (2 for the first retry).
        attempt: u32,
        /// How long the client waits first.
        wait: Duration,
        /// The HTTP status that failed (`None`: the connection failed).
        status: Option<u16>,
    },
    /// New text to append.
    Delta {
        /// The text.
        text: String,
    },
    /// Token counts of the completion.
    Usage(Usage),
    /// The answer is complete.
    Done {
        /// Why generation stopped (`stop`, `length`, …), when the gateway said.
        finish_reason: Option<String>,
        /// Time from the send to the first text.
        ttft: Option<Duration>,
        /// Output tokens per second after the first one (from `usage`, else counted deltas).
        tokens_per_second: Option<f64>,
        /// `X-Trace-Id` of the answer.
        trace_id: Option<String>,
    },
    /// The stream broke before it was complete; the text so far is kept, nothing is re-sent.
    Interrupted {
        /// What broke it.
        reason: InterruptReason,
        /// Bytes of text delivered before it broke.
        partial_text_len: usize,
    },
}

/// The sink is gone (the window closed, the channel dropped): the request is cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the chat event sink is closed")]
pub struct SinkClosed;

/// Why a stream ended before `[DONE]` or a finish reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InterruptReason {
    /// The connection failed mid-stream (reset, TLS or HTTP framing error).
    ConnectionLost,
    /// The server closed the stream cleanly but early.
    EarlyClose,
    /// No byte arrived within the idle timeout.
    IdleTimeout,
}

impl std::fmt::Display for InterruptReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            InterruptReason::ConnectionLost => "the connection was lost",
            InterruptReason::EarlyClose => "the server closed the stream early",
            InterruptReason::IdleTimeout => "no data arrived within the idle timeout",
        })
    }
}

/// How a send ended, when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatStatus {
    /// `[DONE]` or a finish reason arrived.
    Completed,
    /// The stream broke; `text` holds what arrived.
    Interrupted {
        /// What broke it.
        reason: InterruptReason,
    },
    /// The request was cancelled (the token tripped or the sink closed).
    Cancelled,
}

/// The result of a send that did not fail.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatOutcome {
    /// The text received (all of it, or what arrived before an interruption or a cancel).
    pub text: String,
    /// Why generation stopped, when the gateway said.
    pub finish_reason: Option<String>,
    /// Token counts, when the gateway sent them.
    pub usage: Option<Usage>,
    /// Time from the send to the first text.
    pub ttft: Option<Duration>,
    /// Output tokens per second after the first one.
    pub tokens_per_second: Option<f64>,
    /// `X-Trace-Id` of the answer.
    pub trace_id: Option<String>,
    /// Completed, interrupted or cancelled.
    pub status: ChatStatus,
    /// The HTTP status of the answer (a 2xx), when one arrived.
    pub http_status: Option<u16>,
}

impl ChatOutcome {
    /// An outcome with no text (a cancel before any answer).
    pub fn empty(status: ChatStatus) -> Self {
        ChatOutcome {
            text: String::new(),
            finish_reason: None,
            usage: None,
            ttft: None,
            tokens_per_second: None,
            trace_id: None,
            status,
            http_status: None,
        }
    }
}

/// A send that failed, with whatever text had already reached the sink (empty when the failure
/// came before the answer, e.g. a 402; the delivered text when a stream reported an error).
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct ChatFailure {
    /// What went wrong.
    pub error: Error,
    /// Text delivered to the sink before the failure.
    pub text: String,
    /// `X-Trace-Id` of the answer, when one arrived.
    pub trace_id: Option<String>,
}

impl ChatFailure {
    /// A failure before any text.
    pub fn before_text(error: Error) -> Self {
        let trace_id = error.trace_id().map(str::to_string);
        ChatFailure {
            error,
            text: String::new(),
            trace_id,
        }
    }
}

impl From<ChatFailure> for Error {
    fn from(f: ChatFailure) -> Self {
        f.error
    }
}
