//! CORS per project (§16): exact origins and `*`-globs; preflight answered 204 echoing the
//! origin (never `*`, because `Authorization` is used) with `Vary: Origin`; actual answers to an
//! allowed origin carry `Access-Control-Allow-Origin` and the exposed headers. A refused origin
//! gets no CORS header at all (or 403 when the config asks).

use axum::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_HEADERS, VARY,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// Methods allowed in a preflight.
pub const ALLOW_METHODS: &str = "GET, POST, DELETE, OPTIONS";
/// Headers allowed when the preflight names none.
pub const ALLOW_HEADERS: &str =
    "Authorization, Content-Type, X-Session-Id, X-Thread-Id, X-End-User-Id";
/// Headers a page may read.
pub const EXPOSE_HEADERS: &str = "X-Trace-Id, X-Request-Id, Retry-After";

/// Whether `origin` matches `pattern`: `*` alone matches every origin; otherwise equal (ASCII
/// case-insensitive), or a glob where each `*` matches any run of characters other than `/`.
pub fn origin_matches(pattern: &str, origin: &str) -> bool {
    let (p, o) = (pattern.to_ascii_lowercase(), origin.to_ascii_lowercase());
    if p == "*" {
        return true;
    }
    if !p.contains('*') {
        return p == o;
    }
    glob(p.as_bytes(), o.as_bytes())
}

fn glob(p: &[u8], o: &[u8]) -> bool {
    match p.split_first() {
        None => o.is_empty(),
        Some((b'*', rest)) => {
            // The star takes 0..n characters, never crossing a '/'.
            let mut i = 0;
            loop {
                if glob(rest, &o[i..]) {
                    return true;
                }
                if i >= o.len() || o[i] == b'/' {
                    return false;
                }
                i += 1;
            }
        }
        Some((c, rest)) => o.first() == Some(c) && glob(rest, &o[1..]),
    }
}

/// Whether any of `allowed` admits `origin`.
pub fn allowed(allowed: &[String], origin: &str) -> bool {
    origin.len() <= 512 && allowed.iter().any(|p| origin_matches(p, origin))
}

/// The 204 answer to an allowed preflight.
pub fn preflight(origin: &HeaderValue, request: &HeaderMap) -> Response {
    let mut r = StatusCode::NO_CONTENT.into_response();
    let h = r.headers_mut();
    h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    h.insert(VARY, HeaderValue::from_static("Origin"));
    h.insert(
        ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(ALLOW_METHODS),
    );
    let requested = request
        .get(ACCESS_CONTROL_REQUEST_HEADERS)
        .filter(|v| !v.is_empty());
    h.insert(
        ACCESS_CONTROL_ALLOW_HEADERS,
        requested
            .cloned()
            .unwrap_or(HeaderValue::from_static(ALLOW_HEADERS)),
    );
    h.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    r
}

/// Adds the headers of an actual answer to an allowed origin.
pub fn decorate(response: &mut Response, origin: &HeaderValue) {
    let h = response.headers_mut();
    h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    h.append(VARY, HeaderValue::from_static("Origin"));
    h.insert(
        ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSE_HEADERS),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_and_glob_matching() {
        let cases = [
            ("https://app.example.com", "https://app.example.com", true),
            ("https://app.example.com", "https://APP.example.com", true),
            (
                "https://app.example.com",
                "https://app.example.com:8443",
                false,
            ),
            ("https://app.example.com", "http://app.example.com", false),
            (
                "https://app-*.vercel.app",
                "https://app-pr-12.vercel.app",
                true,
            ),
            ("https://app-*.vercel.app", "https://app-.vercel.app", true),
            (
                "https://app-*.vercel.app",
                "https://evil.com/app-x.vercel.app",
                false,
            ),
            (
                "https://app-*.vercel.app",
                "https://app-x.vercel.app.evil.com",
                false,
            ),
            ("http://localhost:*", "http://localhost:5173", true),
            ("*", "https://anything.example", true),
        ];
        for (pattern, origin, want) in cases {
            assert_eq!(
                origin_matches(pattern, origin),
                want,
                "{pattern} vs {origin}"
            );
        }
        assert!(!allowed(&[], "https://app.example.com"));
    }

    #[test]
    fn preflight_echoes_origin_and_requested_headers() {
        let origin = HeaderValue::from_static("https://app.example.com");
        let mut req = HeaderMap::new();
        req.insert(
            ACCESS_CONTROL_REQUEST_HEADERS,
            HeaderValue::from_static("authorization, x-thread-id"),
        );
        let r = preflight(&origin, &req);
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        assert_eq!(r.headers().get(ACCESS_CONTROL_ALLOW_ORIGIN), Some(&origin));
        assert_eq!(
            r.headers().get(VARY).and_then(|v| v.to_str().ok()),
            Some("Origin")
        );
        assert_eq!(
            r.headers()
                .get(ACCESS_CONTROL_ALLOW_HEADERS)
                .and_then(|v| v.to_str().ok()),
            Some("authorization, x-thread-id")
        );
    }
}
