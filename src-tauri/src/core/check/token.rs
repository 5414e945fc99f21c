//! The token checks: a token is obtained in the configured mode (`token.mint`); its header
//! (`token.header`) and every claim (`token.claims`) are shown and checked; `exp`/`nbf`/`iat`
//! are consistent with a ttl of 60 to 86,400 s and valid now by the server's clock
//! (`token.lifetime`); this machine's clock is compared with the server's `Date`
//! (`token.clock`).
//!
//! Invariant: the token itself never reaches a detail or hint; only its decoded header and
//! claims do.

use std::ops::RangeInclusive;

use serde_json::Value;
use tokio::time::Instant;

use super::result::CheckResult;
use crate::core::auth::{MintParams, Minted, Minter};
use crate::core::config::AuthMode;
use crate::core::protocol::claims::{inspect, ACCEPTED_ISSUERS, DEFAULT_AUDIENCE};
use crate::core::Error;

/// `token.mint`.
pub const MINT: &str = "token.mint";
/// `token.header`.
pub const HEADER: &str = "token.header";
/// `token.claims`.
pub const CLAIMS: &str = "token.claims";
/// `token.lifetime`.
pub const LIFETIME: &str = "token.lifetime";
/// `token.clock`.
pub const CLOCK: &str = "token.clock";
/// The checks that need a token, in order.
pub const NEEDS_TOKEN: [&str; 3] = [HEADER, CLAIMS, LIFETIME];

/// The largest clock difference with the server that passes, in seconds.
pub const SKEW_LIMIT_SECS: i64 = 60;
/// The token lifetimes Behest accepts, in seconds.
pub const TTL_RANGE: RangeInclusive<i64> = 60..=86_400;

/// A decoded token (header and claims, never verified here).
pub struct Decoded {
    /// The JOSE header.
    pub header: Value,
    /// The claims.
    pub claims: Value,
}

impl Decoded {
    /// The header's `kid`.
    pub fn kid(&self) -> Option<&str> {
        self.header.get("kid").and_then(Value::as_str)
    }
}

fn is_sign(mode: &AuthMode) -> bool {
    matches!(mode, AuthMode::LocalSign(_) | AuthMode::Demo)
}

/// The hint for a failed mint, naming what to change for the mode.
fn mint_hint(mode: &AuthMode, error: &Error) -> String {
    let endpoint = matches!(mode, AuthMode::TokenEndpoint { .. });
    match error {
        Error::InvalidSettings { name, reason } => format!("fix {name}: {reason}"),
        Error::Crypto(_) => "set BEHEST_KEY to behest_pk_ followed by a usable RSA private key PEM".into(),
        Error::Unauthorized(_) | Error::Forbidden(_) if endpoint => {
            "the token endpoint refused BEHEST_SESSION_TOKEN: sign in again (or set a current session credential)".into()
        }
        Error::Unauthorized(_) | Error::Forbidden(_) => {
            "the mint refused BEHEST_KEY: copy the API key again from the project's dashboard (it may be revoked, or the project suspended)".into()
        }
        Error::BadRequest(_) => "the mint refused the request: check BEHEST_USER_ID, BEHEST_TTL (60 to 86400) and BEHEST_TIER".into(),
        Error::NotFound(_) | Error::Protocol(_) | Error::Network(_) | Error::Timeout(_) if endpoint => {
            "check BEHEST_TOKEN_URL: it must be your backend's token endpoint, reachable from here".into()
        }
        Error::NotFound(_) | Error::Protocol(_) | Error::Network(_) | Error::Timeout(_) => {
            "check BEHEST_BASE_URL: it must be the project's origin (https://<slug>.behest.app, without /v1), reachable from here".into()
        }
        Error::QuotaExceeded(_) | Error::RateLimited(_) => {
            "the mint is rate limited or over quota: wait, or raise the tier (BEHEST_TIER) or the project's limits".into()
        }
        _ => "the token issuer failed: try again later, and report the trace id if it persists".into(),
    }
}

/// `token.mint`: obtains a token with `minter`.
pub async fn mint(minter: &dyn Minter, mode: &AuthMode) -> (CheckResult, Option<Minted>) {
    let started = Instant::now();
    match minter.mint(&MintParams::default()).await {
        Ok(minted) => {
            let how = match mode {
                AuthMode::ApiKey { .. } => "minted by the API-key mint",
                AuthMode::TokenEndpoint { .. } => "fetched from the token endpoint",
                _ => "signed locally",
            };
            let session = minted.session_id.as_deref().unwrap_or("none");
            let detail = format!(
                "{how} in {} ms (ttl {} s, session {session})",
                started.elapsed().as_millis(),
                minted.ttl
            );
            (CheckResult::pass(MINT, detail), Some(minted))
        }
        Err(e) => (
            CheckResult::fail(MINT, format!("no token: {e}"), mint_hint(mode, &e)),
            None,
        ),
    }
}

/// `token.header`, `token.claims` and `token.lifetime` of `minted`, judged at `now` (the
/// server's clock when known). `kid` is the configured one in sign modes.
pub fn inspect_token(
    minted: &Minted,
    mode: &AuthMode,
    kid: Option<&str>,
    now: i64,
    push: &mut dyn FnMut(CheckResult) -> bool,
) -> Option<Decoded> {
    let Some(parts) = inspect(minted.token.expose()) else {
        push(CheckResult::fail(
            HEADER,
            "the token is not a JWT (three base64url parts of JSON)",
            issuer_hint(mode, "issue RS256 JWTs"),
        ));
        push(CheckResult::skipped(CLAIMS, HEADER));
        push(CheckResult::skipped(LIFETIME, HEADER));
        return None;
    };
    let decoded = Decoded {
        header: parts.header,
        claims: parts.claims,
    };
    push(header_check(&decoded.header, mode, kid));
    push(claims_check(&decoded.claims, mode));
    push(lifetime_check(&decoded.claims, mode, now));
    Some(decoded)
}

fn issuer_hint(mode: &AuthMode, what: &str) -> String {
    match mode {
        AuthMode::TokenEndpoint { .. } => {
            format!("your token endpoint (BEHEST_TOKEN_URL) must {what}")
        }
        AuthMode::ApiKey { .. } => format!(
            "the mint at BEHEST_BASE_URL does not {what}: check BEHEST_BASE_URL points at Behest"
        ),
        _ => format!("local signing must {what}: check BEHEST_KEY and BEHEST_KID"),
    }
}

fn header_check(header: &Value, mode: &AuthMode, kid: Option<&str>) -> CheckResult {
    let shown = header.to_string();
    let alg = header.get("alg").and_then(Value::as_str);
    let token_kid = header
        .get("kid")
        .and_then(Value::as_str)
        .filter(|k| !k.is_empty());
    let typ = header.get("typ").and_then(Value::as_str);
    if alg != Some("RS256") {
        return CheckResult::fail(
            HEADER,
            format!("{shown}: alg must be RS256"),
            issuer_hint(mode, "sign with RS256"),
        );
    }
    let Some(token_kid) = token_kid else {
        return CheckResult::fail(
            HEADER,
            format!("{shown}: no kid"),
            issuer_hint(mode, "put the signing key's kid in the header"),
        );
    };
    if let Some(want) = kid.filter(|_| is_sign(mode)) {
        if token_kid != want {
            return CheckResult::fail(
                HEADER,
                format!("{shown}: kid is not the configured {want}"),
                "set BEHEST_KID to the kid of the signing key",
            );
        }
    }
    match typ {
        Some(t) if !t.eq_ignore_ascii_case("JWT") => CheckResult::fail(
            HEADER,
            format!("{shown}: typ must be JWT"),
            issuer_hint(mode, "set typ JWT"),
        ),
        Some(_) => CheckResult::pass(HEADER, shown),
        None => CheckResult::pass(HEADER, format!("{shown} (no typ; JWT assumed)")),
    }
}

fn claims_check(claims: &Value, mode: &AuthMode) -> CheckResult {
    let shown = claims.to_string();
    let text = |name: &str| {
        claims
            .get(name)
            .and_then(Value::as_str)
            .filter(|v| !v.trim().is_empty())
    };
    let missing: Vec<&str> = ["tid", "pid", "uid"]
        .into_iter()
        .filter(|n| text(n).is_none())
        .collect();
    if !missing.is_empty() {
        let hint = match mode {
            AuthMode::LocalSign(_) => {
                "set BEHEST_TENANT_ID, BEHEST_PROJECT_ID and BEHEST_USER_ID".to_string()
            }
            _ => issuer_hint(mode, "set tid, pid and uid"),
        };
        return CheckResult::fail(
            CLAIMS,
            format!("{shown}: missing {}", missing.join(", ")),
            hint,
        );
    }
    if claims.get("aud").and_then(Value::as_str) != Some(DEFAULT_AUDIENCE) {
        let hint = if is_sign(mode) {
            format!("set BEHEST_AUDIENCE to {DEFAULT_AUDIENCE} (or unset it)")
        } else {
            issuer_hint(mode, &format!("issue aud {DEFAULT_AUDIENCE}"))
        };
        return CheckResult::fail(
            CLAIMS,
            format!("{shown}: aud must be the string {DEFAULT_AUDIENCE}"),
            hint,
        );
    }
    let iss = claims
        .get("iss")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !ACCEPTED_ISSUERS.contains(&iss) {
        let accepted = ACCEPTED_ISSUERS.join(", ");
        let hint = if is_sign(mode) {
            format!(
                "set BEHEST_ISSUER to one of {accepted} (or unset it for https://api.behest.ai)"
            )
        } else {
            issuer_hint(mode, &format!("issue iss as one of {accepted}"))
        };
        return CheckResult::fail(
            CLAIMS,
            format!("{shown}: iss is not one Behest accepts"),
            hint,
        );
    }
    CheckResult::pass(CLAIMS, shown)
}

fn lifetime_check(claims: &Value, mode: &AuthMode, now: i64) -> CheckResult {
    let int = |name: &str| claims.get(name).and_then(Value::as_i64);
    let ttl_hint = match mode {
        AuthMode::TokenEndpoint { .. } => {
            "your token endpoint (BEHEST_TOKEN_URL) must issue tokens living 60 to 86400 s"
                .to_string()
        }
        _ => "set BEHEST_TTL (or settings.ttl) to 60 to 86400 seconds".to_string(),
    };
    let clock_hint = if is_sign(mode) {
        "tokens signed here take iat, nbf and exp from this machine's clock: synchronise it (e.g. `timedatectl set-ntp true`; see token.clock)"
    } else {
        "the issuer's clock is off: check the token issuer (BEHEST_BASE_URL or BEHEST_TOKEN_URL) and this machine's clock"
    };
    let (Some(iat), Some(exp)) = (int("iat"), int("exp")) else {
        return CheckResult::fail(
            LIFETIME,
            "iat and exp must be integer epoch seconds",
            issuer_hint(mode, "set integer iat and exp"),
        );
    };
    let nbf = int("nbf").unwrap_or(iat);
    let ttl = exp - iat;
    let times = format!("iat {iat}, nbf {nbf}, exp {exp} (ttl {ttl} s)");
    if exp <= iat || exp <= nbf {
        return CheckResult::fail(
            LIFETIME,
            format!("{times}: exp must come after iat and nbf"),
            ttl_hint,
        );
    }
    if !TTL_RANGE.contains(&ttl) {
        return CheckResult::fail(
            LIFETIME,
            format!("{times}: ttl outside 60 to 86400 s"),
            ttl_hint,
        );
    }
    if exp <= now {
        return CheckResult::fail(
            LIFETIME,
            format!("{times}: expired {} s ago by the server's clock", now - exp),
            clock_hint,
        );
    }
    if nbf > now + SKEW_LIMIT_SECS {
        return CheckResult::fail(
            LIFETIME,
            format!(
                "{times}: not valid for another {} s by the server's clock",
                nbf - now
            ),
            clock_hint,
        );
    }
    CheckResult::pass(
        LIFETIME,
        format!("{times}, valid for another {} s", exp - now),
    )
}

/// `token.clock`: this machine's clock (`local`) against the server's `Date` (`server`).
pub fn clock(local: i64, server: Option<i64>) -> CheckResult {
    let Some(server) = server else {
        return CheckResult::pass(CLOCK, "the server sent no Date header: skew not measured");
    };
    let skew = local - server;
    let direction = if skew >= 0 { "ahead of" } else { "behind" };
    let detail = format!(
        "this machine's clock is {} s {direction} the server's (limit {SKEW_LIMIT_SECS} s)",
        skew.abs()
    );
    if skew.abs() > SKEW_LIMIT_SECS {
        CheckResult::fail(
            CLOCK,
            detail,
            "synchronise this machine's clock (e.g. `timedatectl set-ntp true`): tokens signed with a skewed clock are refused as expired or not yet valid",
        )
    } else {
        CheckResult::pass(CLOCK, detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const MODE: AuthMode = AuthMode::Demo;

    #[test]
    fn lifetime_rules() {
        let c = |iat: i64, nbf: i64, exp: i64| json!({"iat": iat, "nbf": nbf, "exp": exp});
        assert!(lifetime_check(&c(1000, 1000, 4600), &MODE, 1001).ok);
        assert!(
            !lifetime_check(&c(1000, 1000, 1030), &MODE, 1001).ok,
            "ttl under 60"
        );
        assert!(
            !lifetime_check(&c(1000, 1000, 1000 + 86_401), &MODE, 1001).ok,
            "ttl over a day"
        );
        assert!(
            !lifetime_check(&c(1000, 1000, 4600), &MODE, 4600).ok,
            "expired"
        );
        assert!(
            !lifetime_check(&c(1000, 1000, 4600), &MODE, 900).ok,
            "not yet valid"
        );
        assert!(
            lifetime_check(&c(1000, 1000, 4600), &MODE, 950).ok,
            "within the skew limit"
        );
        assert!(
            !lifetime_check(&c(1000, 5000, 4600), &MODE, 1001).ok,
            "nbf after exp"
        );
        assert!(!lifetime_check(&json!({"exp": "soon"}), &MODE, 1).ok);
    }

    #[test]
    fn clock_skew_limit() {
        assert!(clock(1060, Some(1000)).ok);
        assert!(!clock(1061, Some(1000)).ok);
        assert!(!clock(900, Some(1000)).ok);
        assert!(clock(5, None).ok);
    }

    #[test]
    fn header_and_claims_rules() {
        let ok = json!({"alg": "RS256", "kid": "k1", "typ": "JWT"});
        assert!(header_check(&ok, &MODE, Some("k1")).ok);
        assert!(!header_check(&ok, &MODE, Some("k2")).ok);
        assert!(!header_check(&json!({"alg": "HS256", "kid": "k1"}), &MODE, None).ok);
        assert!(!header_check(&json!({"alg": "RS256"}), &MODE, None).ok);
        let claims = json!({"tid": "t", "pid": "p", "uid": "u", "iss": "https://api.behest.ai", "aud": "behest"});
        assert!(claims_check(&claims, &MODE).ok);
        let mut wrong = claims.clone();
        wrong["aud"] = json!(["behest"]);
        let r = claims_check(&wrong, &MODE);
        assert!(!r.ok && r.hint.unwrap_or_default().contains("BEHEST_AUDIENCE"));
    }
}
