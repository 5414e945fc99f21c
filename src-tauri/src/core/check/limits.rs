//! The limits checks: the tier from the token's claims (`limits.tier`) and the usage the server
//! reports for this user (`limits.usage`, from `/v1/usage` and `/v1/billing/usage`). A 404 is
//! "not reported by this server", not a failure.

use std::time::Duration;

use serde_json::Value;

use super::probe::exchange;
use super::result::CheckResult;
use crate::core::protocol::claims::Tier;
use crate::core::protocol::paths;
use crate::core::redact::Secret;
use crate::core::Error;

/// `limits.tier`.
pub const TIER: &str = "limits.tier";
/// `limits.usage`.
pub const USAGE: &str = "limits.usage";

/// `limits.tier` from the token's claims.
pub fn tier(claims: &Value) -> CheckResult {
    match claims.get("tier").cloned().and_then(|t| serde_json::from_value::<Tier>(t).ok()) {
        Some(t) => CheckResult::pass(TIER, format!("tier {t} ({}) from the token's tier claim", t.name())),
        None => CheckResult::pass(TIER, "no tier claim: the server applies its default tier (free); set BEHEST_TIER to choose one"),
    }
}

fn summary(path: &str, body: &Value) -> String {
    let num = |v: Option<&Value>| {
        v.and_then(Value::as_f64)
            .map(|n| n.to_string())
            .unwrap_or_else(|| "?".into())
    };
    if path == paths::USAGE {
        let totals = body.get("totals");
        format!(
            "{path}: {} tokens, {} USD",
            num(totals.and_then(|t| t.get("tokens"))),
            num(totals.and_then(|t| t.get("cost_usd")))
        )
    } else {
        let platform = body.get("platform");
        format!(
            "{path}: requests {}, tokens {} in + {} out, {} USD",
            num(platform.and_then(|p| p.get("requests"))),
            num(platform.and_then(|p| p.get("input_tokens"))),
            num(platform.and_then(|p| p.get("output_tokens"))),
            num(platform.and_then(|p| p.get("cost_usd"))),
        )
    }
}

/// `limits.usage`: asks both usage routes with the token.
pub async fn usage(
    http: &reqwest::Client,
    base: &str,
    token: &Secret,
    timeout: Duration,
) -> CheckResult {
    let mut found = Vec::new();
    for path in [paths::USAGE, paths::BILLING_USAGE] {
        let answer = match exchange(http.get(format!("{base}{path}")), Some(token), timeout).await {
            Ok(a) => a,
            Err(e) => {
                return CheckResult::fail(
                    USAGE,
                    format!("{path}: {e}"),
                    "nothing answered: check BEHEST_BASE_URL and your network",
                )
            }
        };
        match answer.error() {
            None => match serde_json::from_slice::<Value>(&answer.body) {
                Ok(body) => found.push(summary(path, &body)),
                Err(_) => found.push(format!("{path}: answered, but not JSON")),
            },
            Some(Error::NotFound(_)) => found.push(format!("{path}: not reported by this server")),
            Some(e @ (Error::Unauthorized(_) | Error::Forbidden(_))) => {
                return CheckResult::fail(USAGE, format!("{path}: {e}"), "the usage route refused the token: see the chat and verify checks; check BEHEST_TENANT_ID, BEHEST_PROJECT_ID and BEHEST_BASE_URL")
            }
            Some(e) => {
                return CheckResult::fail(USAGE, format!("{path}: {e}"), "the usage route failed: try again later, and report the trace id if it persists")
            }
        }
    }
    CheckResult::pass(USAGE, found.join("; "))
}
