//! Per-`(project, uid, tier)` limits (§8): requests per minute (429 with `Retry-After` until the
//! minute window resets), requests and tokens per day (402 `quota_exceeded` with details).
//!
//! Windows are fixed: the minute is `now / 60`, the day `now / 86400` (UTC). Time comes from the
//! gateway clock, so tests move it instead of sleeping. The lock is never held across an await.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::http::StatusCode;

use super::config::TierLimits;
use super::envelope::ApiError;

#[derive(Debug, Default, Clone, Copy)]
struct Counters {
    minute: i64,
    minute_requests: u64,
    day: i64,
    day_requests: u64,
    day_tokens: u64,
}

/// The counters of every `(project, uid, tier)`.
#[derive(Debug, Default)]
pub struct Limiter {
    counters: Mutex<HashMap<(String, String, String), Counters>>,
}

impl Limiter {
    /// Admits one request at `now` or refuses it: 402 when a daily cap is reached, else 429 when
    /// the minute's requests are used up. An admitted request is counted.
    pub fn admit(
        &self,
        key: (&str, &str, &str),
        limits: &TierLimits,
        now: i64,
    ) -> Result<(), ApiError> {
        let mut all = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        let c = all
            .entry((key.0.to_string(), key.1.to_string(), key.2.to_string()))
            .or_default();
        roll(c, now);
        let tier = key.2;
        if c.day_requests >= limits.requests_per_day {
            return Err(quota(
                tier,
                "daily request cap reached",
                serde_json::json!({"requests_per_day": limits.requests_per_day}),
                serde_json::json!({"requests_today": c.day_requests}),
            ));
        }
        if c.day_tokens >= limits.tokens_per_day {
            return Err(quota(
                tier,
                "daily token cap reached",
                serde_json::json!({"tokens_per_day": limits.tokens_per_day}),
                serde_json::json!({"tokens_today": c.day_tokens}),
            ));
        }
        if c.minute_requests >= limits.rpm {
            let wait = u64::try_from(60 - now.rem_euclid(60)).unwrap_or(60).max(1);
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!(
                    "rate limit of {} requests per minute reached for tier {tier}",
                    limits.rpm
                ),
            )
            .with_retry_after(wait));
        }
        c.minute_requests += 1;
        c.day_requests += 1;
        Ok(())
    }

    /// Adds the tokens a finished (or interrupted) request used.
    pub fn add_tokens(&self, key: (&str, &str, &str), tokens: u64, now: i64) {
        let mut all = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        let c = all
            .entry((key.0.to_string(), key.1.to_string(), key.2.to_string()))
            .or_default();
        roll(c, now);
        c.day_tokens = c.day_tokens.saturating_add(tokens);
    }
}

fn roll(c: &mut Counters, now: i64) {
    let (minute, day) = (now.div_euclid(60), now.div_euclid(86_400));
    if c.minute != minute {
        c.minute = minute;
        c.minute_requests = 0;
    }
    if c.day != day {
        c.day = day;
        c.day_requests = 0;
        c.day_tokens = 0;
    }
}

fn quota(
    tier: &str,
    message: &str,
    limit: serde_json::Value,
    usage: serde_json::Value,
) -> ApiError {
    ApiError::new(
        StatusCode::PAYMENT_REQUIRED,
        "quota_exceeded",
        format!("{message} for tier {tier}"),
    )
    .with_details(serde_json::json!({"tier": tier, "limit": limit, "usage": usage}))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: TierLimits = TierLimits {
        rpm: 2,
        requests_per_day: 5,
        tokens_per_day: 100,
    };
    const KEY: (&str, &str, &str) = ("p", "alice", "free");

    #[test]
    fn per_minute_limit_gives_429_until_the_window_resets() {
        let l = Limiter::default();
        let t0 = 1_800_000_015; // 15 s into a minute (1_800_000_000 is a multiple of 60)
        assert!(l.admit(KEY, &LIMITS, t0).is_ok());
        assert!(l.admit(KEY, &LIMITS, t0).is_ok());
        let e = l.admit(KEY, &LIMITS, t0).err();
        assert_eq!(
            e.as_ref().map(|e| e.status),
            Some(StatusCode::TOO_MANY_REQUESTS)
        );
        assert_eq!(e.and_then(|e| e.retry_after), Some(45));
        // Another user is not affected.
        assert!(l.admit(("p", "bob", "free"), &LIMITS, t0).is_ok());
        assert!(l.admit(KEY, &LIMITS, t0 + 45).is_ok());
    }

    #[test]
    fn daily_caps_give_402_with_details() {
        let l = Limiter::default();
        let t0 = 1_800_000_000 - 1_800_000_000 % 86_400;
        for i in 0..5 {
            assert!(l.admit(KEY, &LIMITS, t0 + i * 60).is_ok());
        }
        let e = l.admit(KEY, &LIMITS, t0 + 600).err();
        assert_eq!(e.as_ref().map(|e| e.code), Some("quota_exceeded"));
        let details = e.and_then(|e| e.details).unwrap_or_default();
        assert_eq!(details["tier"], "free");
        assert_eq!(details["limit"]["requests_per_day"], 5);
        assert_eq!(details["usage"]["requests_today"], 5);
        // Next day, fresh counters.
        assert!(l.admit(KEY, &LIMITS, t0 + 86_400).is_ok());
        l.add_tokens(KEY, 100, t0 + 86_400);
        let e = l.admit(KEY, &LIMITS, t0 + 86_400 + 60).err();
        assert_eq!(
            e.and_then(|e| e.details)
                .map(|d| d["usage"]["tokens_today"].clone()),
            Some(serde_json::json!(100))
        );
    }
}
