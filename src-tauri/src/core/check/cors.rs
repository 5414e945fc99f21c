//! The CORS check of one browser origin (`cors:<origin>`): an `OPTIONS` preflight to the chat
//! path as a browser would send it before a chat, interpreted: allowed (the answer echoes the
//! origin in `Access-Control-Allow-Origin`), refused (no such header: the hint points at the
//! project's Allowed Origins setting), which request headers are allowed, and which response
//! headers an actual answer exposes to the page.

use std::time::Duration;

use http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD,
    ORIGIN,
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
    let echoed = acao
        .as_deref()
        .is_some_and(|a| a.eq_ignore_ascii_case(origin) || a == "*");
    if !echoed {
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
    // Exposed headers come on actual answers: a plain GET of the JWKS with the origin shows them.
    let exposed = match exchange(
        http.get(format!("{base}{}", paths::JWKS))
            .header(ORIGIN, origin),
        None,
        timeout,
    )
    .await
    {
        Ok(a) => list(a.header(ACCESS_CONTROL_EXPOSE_HEADERS.as_str())),
        Err(_) => Vec::new(),
    };
    let exposed = if exposed.is_empty() {
        "none".to_string()
    } else {
        exposed.join(", ")
    };
    let wildcard = if acao.as_deref() == Some("*") {
        " (wildcard *)"
    } else {
        ""
    };
    CheckResult::pass(
        name,
        format!(
            "allowed{wildcard}; request headers allowed: {}; exposed to the page: {exposed}",
            allowed.join(", ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
