//! The retry policy of a request to Behest (a chat send, a mint, a token-endpoint call), as a
//! pure function of what went wrong and what was tried. Shared by `chat` and `auth`, so that
//! neither reaches into the other.
//!
//! Rules (reliability bar D1–D5, protocol §9):
//! - Retries happen only before the first byte of a body reached the user: the caller asks only
//!   about connect errors and error statuses, never about a broken 200 stream.
//! - 401: the caller invalidates the token and retries once with a fresh one; a second 401 is
//!   final. A caller with no token to refresh (a mint) starts with [`Attempts::refreshed`] set,
//!   so a 401 is final at once.
//! - Connect errors and resets before the headers, 408, 409, 429 and 5xx: at most
//!   [`RetryPolicy::max_retries`] retries. `Retry-After` (already parsed by
//!   [`crate::core::protocol::errors::retry_after`]) is honoured up to [`RetryPolicy::max_retry_after`];
//!   above it there is no automatic retry and the error (with its `retry_after`) is surfaced.
//!   Without it (or with `0`), exponential backoff: `initial_backoff × 2^n`, capped at
//!   `max_backoff`, times a jitter factor in [0.75, 1].
//! - Never on 400, 402, 403, 404, 422 or any other status.
//! - At most [`RetryPolicy::max_attempts`] requests per send, whatever the mix.
//!
//! [`drive`] applies the policy: the one loop behind a chat send and a token request, each of
//! which says only how to send once, refresh its token and wait (a [`Retried`]).

use std::ops::ControlFlow;
use std::time::Duration;

use crate::core::{Error, Result};

/// Limits of the retry policy.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Retries after connect errors, 408, 409, 429 and 5xx (not counting the 401 retry).
    pub max_retries: u32,
    /// Requests per send, all causes together.
    pub max_attempts: u32,
    /// The first backoff delay.
    pub initial_backoff: Duration,
    /// The longest backoff delay (before jitter).
    pub max_backoff: Duration,
    /// The longest `Retry-After` waited for automatically.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 2,
            max_attempts: 4,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

/// What went wrong with one request, as far as the policy cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The connection failed or broke before any response headers arrived.
    Connect,
    /// The server answered with an error status (and maybe a `Retry-After`).
    Status {
        /// The HTTP status.
        status: u16,
        /// The parsed, uncapped `Retry-After` / `retry-after-ms`.
        retry_after: Option<Duration>,
    },
}

impl Failure {
    /// The HTTP status that failed (`None`: the connection failed).
    pub fn status(self) -> Option<u16> {
        match self {
            Failure::Status { status, .. } => Some(status),
            Failure::Connect => None,
        }
    }
}

/// What has been tried so far in one send.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Attempts {
    /// Requests made, including the one that just failed.
    pub requests: u32,
    /// Backoff retries already taken (connect errors, 408, 409, 429, 5xx).
    pub retries: u32,
    /// Whether the one 401 retry was already used.
    pub refreshed: bool,
}

/// What to do next.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision {
    /// Wait this long, then send again.
    RetryAfter(Duration),
    /// Invalidate the token, get a fresh one and send again at once.
    RefreshAndRetry,
    /// Stop and surface the error.
    GiveUp,
}

/// Whether a status may be retried with backoff.
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 409 | 429 | 500..=599)
}

impl RetryPolicy {
    /// Decides what to do after `failure`, given what was `tried`. `jitter` is a number in
    /// [0, 1) (random in production, fixed in tests); it scales the backoff by 1 − jitter/4.
    pub fn decide(&self, failure: Failure, tried: Attempts, jitter: f64) -> Decision {
        if tried.requests >= self.max_attempts {
            return Decision::GiveUp;
        }
        let retry_after = match failure {
            Failure::Status { status: 401, .. } if !tried.refreshed => {
                return Decision::RefreshAndRetry;
            }
            Failure::Status {
                status,
                retry_after,
            } if is_retryable_status(status) => retry_after,
            Failure::Status { .. } => return Decision::GiveUp,
            Failure::Connect => None,
        };
        if tried.retries >= self.max_retries {
            return Decision::GiveUp;
        }
        match retry_after {
            Some(wait) if wait > self.max_retry_after => Decision::GiveUp,
            Some(wait) if !wait.is_zero() => Decision::RetryAfter(wait),
            _ => Decision::RetryAfter(self.backoff(tried.retries, jitter)),
        }
    }

    /// The backoff before retry number `retry` (0-based): `initial × 2^retry` capped at
    /// `max_backoff`, times `1 − jitter/4` (so within ×0.75–1).
    pub fn backoff(&self, retry: u32, jitter: f64) -> Duration {
        let base = self
            .initial_backoff
            .saturating_mul(1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX))
            .min(self.max_backoff);
        let jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        base.mul_f64(1.0 - jitter / 4.0)
    }
}

/// How one request of a [`Retried`] went, short of a final error.
pub(crate) enum Sent<T> {
    /// It finished (an answer, or an outcome such as a cancel): returned as it is.
    Done(T),
    /// It failed in a way the policy judges: sent again, or this error is surfaced.
    Failed(Failure, Error),
}

/// A request [`drive`] sends again per a [`RetryPolicy`]: what a chat send and a token request
/// do differently.
pub(crate) trait Retried {
    /// What a finished request gives.
    type Output;
    /// Names the request in the retry log line (`"chat"`, `"token"`).
    const WHAT: &'static str;
    /// Whether a 401 is retried once with a fresh token; without a token to refresh (a mint) a
    /// 401 is final at once.
    const REFRESHES: bool;

    /// Sends the request once; an error is final (never retried).
    async fn send(&mut self) -> Result<Sent<Self::Output>>;

    /// Drops the token a 401 came back for, before the one retry with a fresh one. `Break`
    /// ends the request with that output.
    async fn refresh(&mut self) -> ControlFlow<Self::Output> {
        ControlFlow::Continue(())
    }

    /// Waits `wait` before request number `attempt` (`status`: what failed, `None` for the
    /// connection). Sleeps by default; `Break` ends the request with that output.
    async fn pause(
        &mut self,
        attempt: u32,
        wait: Duration,
        status: Option<u16>,
    ) -> ControlFlow<Self::Output> {
        let _ = (attempt, status); // only the wait matters to a plain sleep
        tokio::time::sleep(wait).await;
        ControlFlow::Continue(())
    }
}

/// Sends `request` until it finishes, fails for good, or `policy` gives up (then with the last
/// error), with random jitter on the backoff.
pub(crate) async fn drive<R: Retried>(policy: &RetryPolicy, mut request: R) -> Result<R::Output> {
    let mut tried = Attempts {
        refreshed: !R::REFRESHES,
        ..Attempts::default()
    };
    loop {
        tried.requests += 1;
        let (failure, error) = match request.send().await? {
            Sent::Done(output) => return Ok(output),
            Sent::Failed(failure, error) => (failure, error),
        };
        let next = match policy.decide(failure, tried, rand::random::<f64>()) {
            Decision::GiveUp => return Err(error),
            Decision::RefreshAndRetry => {
                tried.refreshed = true;
                request.refresh().await
            }
            Decision::RetryAfter(wait) => {
                tried.retries += 1;
                let status = failure.status();
                tracing::debug!(
                    ?wait,
                    ?status,
                    attempt = tried.requests,
                    "{} request failed, retrying",
                    R::WHAT
                );
                request.pause(tried.requests + 1, wait, status).await
            }
        };
        if let ControlFlow::Break(output) = next {
            return Ok(output);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u16) -> Failure {
        Failure::Status {
            status,
            retry_after: None,
        }
    }

    fn after(status: u16, secs: u64) -> Failure {
        Failure::Status {
            status,
            retry_after: Some(Duration::from_secs(secs)),
        }
    }

    fn tried(requests: u32, retries: u32, refreshed: bool) -> Attempts {
        Attempts {
            requests,
            retries,
            refreshed,
        }
    }

    #[test]
    fn decision_table() {
        let p = RetryPolicy::default();
        let ms = |m: u64| Decision::RetryAfter(Duration::from_millis(m));
        let first = tried(1, 0, false);
        let table: Vec<(Failure, Attempts, Decision)> = vec![
            // Never retried.
            (status(400), first, Decision::GiveUp),
            (status(402), first, Decision::GiveUp),
            (status(403), first, Decision::GiveUp),
            (status(404), first, Decision::GiveUp),
            (status(422), first, Decision::GiveUp),
            (status(410), first, Decision::GiveUp),
            (status(451), first, Decision::GiveUp),
            (after(402, 1), first, Decision::GiveUp),
            // 401: one refresh, then final.
            (status(401), first, Decision::RefreshAndRetry),
            (status(401), tried(2, 0, true), Decision::GiveUp),
            (status(401), tried(3, 2, false), Decision::RefreshAndRetry),
            // Backoff 0.5 s, 1 s, then give up after 2 retries.
            (status(503), first, ms(500)),
            (status(503), tried(2, 1, false), ms(1000)),
            (status(503), tried(3, 2, false), Decision::GiveUp),
            (Failure::Connect, first, ms(500)),
            (Failure::Connect, tried(3, 2, false), Decision::GiveUp),
            (status(408), first, ms(500)),
            (status(409), first, ms(500)),
            (status(500), first, ms(500)),
            (status(502), first, ms(500)),
            (status(504), first, ms(500)),
            (status(429), first, ms(500)),
            // Retry-After honoured up to the cap, zero means backoff, over the cap is final.
            (after(429, 1), first, ms(1000)),
            (after(503, 7), first, ms(7000)),
            (after(429, 60), first, ms(60_000)),
            (after(429, 0), first, ms(500)),
            (after(429, 61), first, Decision::GiveUp),
            (after(429, u64::MAX), first, Decision::GiveUp),
            (after(429, 1), tried(3, 2, false), Decision::GiveUp),
            // The attempt budget: 401 + refresh + 2 retries = 4 requests, then stop.
            (status(503), tried(4, 1, true), Decision::GiveUp),
            (status(401), tried(4, 2, false), Decision::GiveUp),
        ];
        for (failure, tried, want) in table {
            assert_eq!(
                p.decide(failure, tried, 0.0),
                want,
                "{failure:?} after {tried:?}"
            );
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = RetryPolicy::default();
        let secs: Vec<f64> = (0..8).map(|n| p.backoff(n, 0.0).as_secs_f64()).collect();
        assert_eq!(secs, vec![0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0, 8.0]);
        assert_eq!(p.backoff(u32::MAX, 0.0), Duration::from_secs(8));
    }

    #[test]
    fn jitter_stays_within_three_quarters_and_one() {
        let p = RetryPolicy::default();
        for n in 0..6 {
            let base = p.backoff(n, 0.0);
            for j in [
                0.0,
                0.1,
                0.5,
                0.999_999,
                1.0,
                -3.0,
                7.0,
                f64::NAN,
                f64::INFINITY,
            ] {
                let d = p.backoff(n, j);
                assert!(d <= base, "retry {n} jitter {j}: {d:?} > {base:?}");
                assert!(
                    d >= base.mul_f64(0.75),
                    "retry {n} jitter {j}: {d:?} < 0.75 × {base:?}"
                );
            }
        }
        assert_eq!(p.backoff(0, 1.0), Duration::from_millis(375));
        // Random jitter as production draws it.
        for _ in 0..1000 {
            let d = p.backoff(1, rand::random::<f64>());
            assert!(
                d >= Duration::from_millis(750) && d <= Duration::from_secs(1),
                "{d:?}"
            );
        }
    }

    /// A request answered by `script` in turn (`None`: success), recording what the driver did.
    struct Scripted<const REFRESHING: bool> {
        script: Vec<Option<u16>>,
        log: Vec<String>,
    }

    impl<const REFRESHING: bool> Retried for Scripted<REFRESHING> {
        type Output = Vec<String>;
        const WHAT: &'static str = "scripted";
        const REFRESHES: bool = REFRESHING;

        async fn send(&mut self) -> Result<Sent<Vec<String>>> {
            let next = self.script.remove(0);
            self.log.push(format!("send {next:?}"));
            Ok(match next {
                None => Sent::Done(std::mem::take(&mut self.log)),
                Some(status) => Sent::Failed(
                    Failure::Status {
                        status,
                        retry_after: None,
                    },
                    Error::Protocol(format!("status {status}")),
                ),
            })
        }

        async fn refresh(&mut self) -> ControlFlow<Vec<String>> {
            self.log.push("refresh".into());
            ControlFlow::Continue(())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_driver_refreshes_retries_and_gives_up_per_the_policy() {
        let p = RetryPolicy::default();
        let chat = Scripted::<true> {
            script: vec![Some(401), Some(503), None],
            log: Vec::new(),
        };
        let log = drive(&p, chat).await.ok();
        let want = ["send Some(401)", "refresh", "send Some(503)", "send None"];
        assert_eq!(log, Some(want.map(String::from).to_vec()));
        // Without a token to refresh a 401 is final; 503s stop after two retries.
        for script in [vec![Some(401), None], vec![Some(503); 4]] {
            let mint = Scripted::<false> {
                script: script.clone(),
                log: Vec::new(),
            };
            assert!(
                matches!(drive(&p, mint).await, Err(Error::Protocol(_))),
                "{script:?}"
            );
        }
    }

    #[test]
    fn at_most_four_requests_per_send_whatever_the_mix() {
        let p = RetryPolicy::default();
        // Simulate a server that always fails, cycling 401, 429 and 503.
        let failures = [
            status(401),
            after(429, 1),
            status(503),
            status(401),
            status(500),
        ];
        let mut t = Attempts::default();
        for f in failures.iter().cycle().take(20) {
            t.requests += 1;
            match p.decide(*f, t, 0.5) {
                Decision::GiveUp => break,
                Decision::RefreshAndRetry => t.refreshed = true,
                Decision::RetryAfter(_) => t.retries += 1,
            }
        }
        assert_eq!(t.requests, 4);
    }
}
