//! CORS over loopback (§16): preflight for allowed exact and glob origins, headers on actual
//! answers, nothing for refused origins (or 403 behind the flag), no effect without `Origin`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod gateway_support;

use behest_desktop::core::gateway::GatewayHandle;
use gateway_support::*;
use reqwest::Method;

const ORIGINS: [&str; 2] = ["https://app.example.com", "https://app-*.vercel.app"];

async fn preflight(base: &str, origin: &str) -> reqwest::Response {
    client()
        .request(Method::OPTIONS, format!("{base}/v1/chat/completions"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type, x-thread-id",
        )
        .send()
        .await
        .unwrap()
}

/// A gateway whose project allows `ORIGINS`.
async fn start_with_origins() -> GatewayHandle {
    start(|c| c.projects[0].allowed_origins = ORIGINS.iter().map(|s| s.to_string()).collect()).await
}

/// A chat POST from `origin`; with `token`, authorized and with a one-message body.
async fn chat_from(base: &str, origin: &str, token: Option<&str>) -> reqwest::Response {
    let mut request = client()
        .post(format!("{base}/v1/chat/completions"))
        .header("origin", origin);
    if let Some(t) = token {
        request = request.bearer_auth(t).json(&chat_body("x", false));
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn allowed_origins_get_preflight_and_response_headers() {
    let gw = start_with_origins().await;
    let base = gw.base_url();
    for origin in ["https://app.example.com", "https://app-pr-7.vercel.app"] {
        let r = preflight(&base, origin).await;
        assert_eq!(r.status(), 204, "{origin}");
        let h = r.headers();
        assert_eq!(h["access-control-allow-origin"], origin);
        assert_eq!(h["vary"], "Origin");
        assert_eq!(
            h["access-control-allow-methods"],
            "GET, POST, DELETE, OPTIONS"
        );
        assert_eq!(
            h["access-control-allow-headers"],
            "authorization, content-type, x-thread-id"
        );
        assert_eq!(h["access-control-max-age"], "600");
        assert!(h.contains_key("x-trace-id"));
    }
    let t = token(&gw, "alice", None).await;
    let r = chat_from(&base, "https://app.example.com", Some(&t)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(
        r.headers()["access-control-expose-headers"],
        "X-Trace-Id, X-Request-Id, Retry-After"
    );
    // Errors to an allowed origin are readable too.
    let r = chat_from(&base, "https://app.example.com", None).await;
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn refused_origins_get_no_cors_headers_and_native_clients_are_unaffected() {
    let gw = start_with_origins().await;
    let base = gw.base_url();
    for origin in [
        "https://evil.example",
        "https://app.example.com:8443",
        "http://app.example.com",
        "https://app-x.vercel.app.evil.com",
    ] {
        let r = preflight(&base, origin).await;
        assert!(
            !r.headers().contains_key("access-control-allow-origin"),
            "{origin}"
        );
    }
    let t = token(&gw, "alice", None).await;
    let r = chat_from(&base, "https://evil.example", Some(&t)).await;
    assert_eq!(r.status(), 200);
    assert!(!r.headers().contains_key("access-control-allow-origin"));
    let r = chat(&gw, &t, &chat_body("x", false)).await;
    assert_eq!(r.status(), 200);
    assert!(!r.headers().contains_key("access-control-allow-origin"));
    gw.shutdown().await;
    // Behind the flag a refused origin is 403 outright.
    let gw = start(|c| {
        c.projects[0].allowed_origins = vec!["https://app.example.com".into()];
        c.refuse_origin_with_403 = true;
    })
    .await;
    let t = token(&gw, "alice", None).await;
    let r = chat_from(&gw.base_url(), "https://evil.example", Some(&t)).await;
    assert_eq!(r.status(), 403);
    assert_eq!(
        preflight(&gw.base_url(), "https://evil.example")
            .await
            .status(),
        403
    );
    assert_eq!(
        preflight(&gw.base_url(), "https://app.example.com")
            .await
            .status(),
        204
    );
    gw.shutdown().await;
}
