//! The CORS check of one browser origin (`cors:<origin>`): an `OPTIONS` preflight to the chat
//! path as a browser would send it before a chat, interpreted: allowed (the answer echoes the
//! origin in `Access-Control-Allow-Origin`), refused (no such header: the hint points at the
//! project's Allowed Origins setting), which request headers are allowed; then the chat route's
//! actual answer to a cross-origin `POST` without a token (§16: an allowed origin gets CORS
//! headers on every answer, the 401 included): it must carry `Access-Control-Allow-Origin` and
//! expose `X-Trace-Id` and `Retry-After`, or the check fails naming the missing ones.

use std::time::Duration;

use http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD,
    CONTENT_TYPE, ORIGIN,
};

use super::probe::exchange;
use super::result::CheckResult;
use crate::core::protocol::paths;

/// The request headers a browser chat sends, as the preflight asks for them.
pub const REQUEST_HEADERS: [&str; 3] = ["authorization", "content-type", "x-session-id"];

/// The check's name for `origin`.
pub fn name(origin: &str) -> String {
    format!("cors:{origin}")
}

fn allowed_hint(origin: &str) -> String {
    format!("add {origin} to the project's Allowed Origins setting in the Behest dashboard (exact scheme, host and port)")
}

/// An origin as a browser sends it: `scheme://host[:port]`, nothing else.
fn well_formed(origin: &str) -> bool {
    url::Url::parse(origin).is_ok_and(|u| {
        matches!(u.scheme(), "http" | "https")
            && u.host().is_some()
            && u.path() == "/"
            && !origin.ends_with('/')
            && u.query().is_none()
            && u.fragment().is_none()
            && u.username().is_empty()
    })
}

/// Whether an `Access-Control-Allow-Origin` value lets `origin` read the answer.
fn allows(allow_origin: Option<&str>, origin: &str) -> bool {
    allow_origin.is_some_and(|a| a.eq_ignore_ascii_case(origin) || a == "*")
}

fn list(value: Option<&str>) -> Vec<String> {
    value
        .unwrap_or_default()
        .split(',')
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect()
}

/// Runs the preflight for `origin` against the chat path of `base`.
pub async fn check(
    http: &reqwest::Client,
    base: &str,
    origin: &str,
    timeout: Duration,
) -> CheckResult {
    let name = name(origin);
    if !well_formed(origin) {
        return CheckResult::fail(
            name,
            format!("{origin} is not an origin"),
            "give --origin as scheme://host[:port], e.g. https://app.example.com",
        );
    }
    let preflight = http
        .request(reqwest::Method::OPTIONS, format!("{base}{}", paths::CHAT))
        .header(ORIGIN, origin)
        .header(ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(ACCESS_CONTROL_REQUEST_HEADERS, REQUEST_HEADERS.join(","));
    let answer = match exchange(preflight, None, timeout).await {
        Ok(a) => a,
        Err(e) => {
            return CheckResult::fail(
                name,
                format!("preflight failed: {e}"),
                "nothing answered: check BEHEST_BASE_URL and your network",
            )
        }
    };
    let acao = answer
        .header(ACCESS_CONTROL_ALLOW_ORIGIN.as_str())
        .map(str::to_string);
    if !allows(acao.as_deref(), origin) {
        let got = acao
            .map(|a| format!("Access-Control-Allow-Origin {a}"))
            .unwrap_or_else(|| "no Access-Control-Allow-Origin".into());
        return CheckResult::fail(
            name,
            format!(
                "not allowed: the preflight answered HTTP {} with {got}",
                answer.status
            ),
            allowed_hint(origin),
        );
    }
    let methods = list(answer.header(ACCESS_CONTROL_ALLOW_METHODS.as_str()));
    if !methods.is_empty() && !methods.iter().any(|m| m == "post" || m == "*") {
        return CheckResult::fail(
            name,
            format!(
                "allowed, but POST is not among the allowed methods ({})",
                methods.join(", ")
            ),
            allowed_hint(origin),
        );
    }
    let allowed = list(answer.header(ACCESS_CONTROL_ALLOW_HEADERS.as_str()));
    let missing: Vec<&str> = REQUEST_HEADERS
        .into_iter()
        // `*` covers every header but Authorization.
        .filter(|h| {
            !allowed
                .iter()
                .any(|a| a == h || (a == "*" && *h != "authorization"))
        })
        .collect();
    if !missing.is_empty() {
        return CheckResult::fail(
            name,
            format!("allowed, but the request headers {} are not allowed (allowed: {})", missing.join(", "), allowed.join(", ")),
            format!("the project's CORS configuration must allow {}; check {origin} in the project's Allowed Origins setting", missing.join(", ")),
        );
    }
    // Exposed headers come on actual answers: the chat route's own answer to a cross-origin
    // POST without a token (a 401 that an allowed origin still gets CORS headers on, §16).
    let actual = exchange(
        http.post(format!("{base}{}", paths::CHAT))
            .header(ORIGIN, origin)
            .header(CONTENT_TYPE, "application/json")
            .body("{}"),
        None,
        timeout,
    )
    .await;
    let actual = match actual {
        Ok(a) => ActualAnswer {
            status: a.status,
            allow_origin: a
                .header(ACCESS_CONTROL_ALLOW_ORIGIN.as_str())
                .map(str::to_string),
            exposed: list(a.header(ACCESS_CONTROL_EXPOSE_HEADERS.as_str())),
        },
        Err(e) => {
            return CheckResult::fail(
                name,
                format!("allowed by the preflight, but the chat route did not answer a cross-origin POST: {e}"),
                "nothing answered: check BEHEST_BASE_URL and your network",
            )
        }
    };
    let wildcard = if acao.as_deref() == Some("*") {
        " (wildcard *)"
    } else {
        ""
    };
    let summary = format!(
        "allowed{wildcard}; request headers allowed: {}",
        allowed.join(", ")
    );
    interpret_actual(name, origin, &summary, &actual)
}

/// What the chat route's actual answer to a cross-origin request carried.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ActualAnswer {
    status: u16,
    allow_origin: Option<String>,
    /// `Access-Control-Expose-Headers`, lowercased.
    exposed: Vec<String>,
}

/// Passes when the actual answer lets the page read it and exposes [`MUST_EXPOSE`]. A missing
/// exposed header fails: the page still gets its answers, but a browser client then cannot
/// read the trace id to report a failure, nor `Retry-After` to wait out a 429 (the SDK falls
/// back to guessing), which is exactly what this check exists to catch before users do.
fn interpret_actual(
    name: String,
    origin: &str,
    summary: &str,
    actual: &ActualAnswer,
) -> CheckResult {
    if !allows(actual.allow_origin.as_deref(), origin) {
        return CheckResult::fail(
            name,
            format!(
                "{summary}; but the chat route's actual answer (HTTP {}) has no Access-Control-Allow-Origin for it, so the browser hides every answer from the page",
                actual.status
            ),
            format!("the preflight and the actual answers disagree: check {origin} in the project's Allowed Origins setting, and any proxy in front of BEHEST_BASE_URL (it must pass the CORS headers through)"),
        );
    }
    let exposed = if actual.exposed.is_empty() {
        "none".to_string()
    } else {
        actual.exposed.join(", ")
    };
    let missing: Vec<&str> = MUST_EXPOSE
        .into_iter()
        .filter(|h| !actual.exposed.iter().any(|e| e == h || e == "*"))
        .collect();
    if !missing.is_empty() {
        return CheckResult::fail(
            name,
            format!(
                "{summary}; the chat route exposes to the page: {exposed}; missing {}",
                missing.join(", ")
            ),
            format!(
                "the page cannot read {}: Access-Control-Expose-Headers on the answers of BEHEST_BASE_URL must list X-Trace-Id and Retry-After (Behest sends them; a proxy in front of it must pass them through)",
                missing.join(" and ")
            ),
        );
    }
    CheckResult::pass(
        name,
        format!("{summary}; the chat route exposes to the page: {exposed}"),
    )
}

/// Response headers a browser client must be able to read (lowercase).
pub const MUST_EXPOSE: [&str; 2] = ["x-trace-id", "retry-after"];

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGIN_A: &str = "https://app.example.com";

    fn actual(allow: Option<&str>, exposed: &[&str]) -> ActualAnswer {
        ActualAnswer {
            status: 401,
            allow_origin: allow.map(str::to_string),
            exposed: exposed.iter().map(|h| h.to_string()).collect(),
        }
    }

    fn verdict(a: &ActualAnswer) -> CheckResult {
        interpret_actual(name(ORIGIN_A), ORIGIN_A, "allowed", a)
    }

    #[test]
    fn the_actual_answer_must_expose_the_trace_id_and_retry_after() {
        let ok = verdict(&actual(
            Some(ORIGIN_A),
            &["x-trace-id", "x-request-id", "retry-after"],
        ));
        assert!(
            ok.ok && ok.detail.contains("x-trace-id, x-request-id, retry-after"),
            "{ok:?}"
        );
        assert!(verdict(&actual(Some("*"), &["*"])).ok);
        // The detail names exactly the missing ones (the hint always names both, as the fix).
        for (exposed, missing) in [
            (vec!["x-request-id"], "x-trace-id, retry-after"),
            (vec!["x-trace-id"], "retry-after"),
            (vec!["retry-after"], "x-trace-id"),
        ] {
            let r = verdict(&actual(Some(ORIGIN_A), &exposed));
            assert!(!r.ok, "{r:?}");
            assert!(
                r.detail.ends_with(&format!("; missing {missing}")),
                "{}",
                r.detail
            );
            assert!(r
                .hint
                .unwrap_or_default()
                .contains("Access-Control-Expose-Headers"));
        }
        let none = verdict(&actual(Some(ORIGIN_A), &[]));
        assert!(!none.ok && none.detail.contains("exposes to the page: none"));
    }

    #[test]
    fn an_actual_answer_without_allow_origin_fails_even_after_a_good_preflight() {
        let r = verdict(&actual(None, &["x-trace-id", "retry-after"]));
        assert!(!r.ok);
        assert!(r.hint.unwrap_or_default().contains("Allowed Origins"));
        assert!(!verdict(&actual(Some("https://other.example"), &[])).ok);
    }

    #[test]
    fn origins_must_be_bare() {
        assert!(well_formed("https://app.example.com"));
        assert!(well_formed("http://localhost:5173"));
        assert!(!well_formed("https://app.example.com/"));
        assert!(!well_formed("https://app.example.com/path"));
        assert!(!well_formed("app.example.com"));
        assert!(!well_formed("ftp://x.example"));
    }
}
