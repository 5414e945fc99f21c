//! The contract between whoever obtains tokens (`session`) and whoever spends them (`chat`,
//! threads, usage): a [`TokenSource`] hands out a [`Bearer`] and takes back one the server
//! refused.
//!
//! Invariant: the token inside a [`Bearer`] is a [`Secret`]; it is exposed only when building the
//! `Authorization` header.

use std::future::Future;
use std::pin::Pin;

use crate::core::redact::Secret;
use crate::core::Result;

/// A token ready to be sent, with the session it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct Bearer {
    /// The JWT.
    pub token: Secret,
    /// Sent as `X-Session-Id`.
    pub session_id: Option<String>,
    /// Expiry, epoch seconds (from the JWT's `exp` when it can be read).
    pub expires_at: Option<i64>,
}

/// A boxed future, so that [`TokenSource`] can be used as a trait object.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Hands out tokens, refreshing them as needed.
pub trait TokenSource: Send + Sync {
    /// A token valid for at least the refresh margin; obtains a new one when needed, one
    /// refresh at a time however many callers wait.
    fn bearer(&self) -> BoxFuture<'_, Result<Bearer>>;
    /// Marks `stale` as refused by the server (401), so the next [`TokenSource::bearer`]
    /// obtains a new token. A token that was already replaced is left alone.
    fn invalidate<'a>(&'a self, stale: &'a Bearer) -> BoxFuture<'a, ()>;
}

/// A fixed token (a developer's own JWT, or a test): never refreshed.
#[derive(Debug, Clone)]
pub struct StaticToken(pub Bearer);

impl TokenSource for StaticToken {
    fn bearer(&self) -> BoxFuture<'_, Result<Bearer>> {
        let bearer = self.0.clone();
        Box::pin(async move { Ok(bearer) })
    }
    fn invalidate<'a>(&'a self, _stale: &'a Bearer) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
}
