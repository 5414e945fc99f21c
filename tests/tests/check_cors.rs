//! The CORS check: an allowed origin (exact and glob), a refused one (with and without the
//! gateway's 403 flag) whose hint points at Allowed Origins, the exposed headers read from the
//! chat route's actual cross-origin answer, and a malformed `--origin`. (A missing
//! `X-Trace-Id` or `Retry-After` in Access-Control-Expose-Headers is unit-tested in
//! `core::check::cors`: the gateway always exposes both.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod check_support;

use check_support::*;

const ALLOWED: &str = "https://app.example.com";
const GLOB: &str = "https://app-pr-7.vercel.app";
const REFUSED: &str = "https://evil.example";

#[tokio::test]
async fn allowed_and_refused_origins() {
    for refuse_with_403 in [false, true] {
        let gw = gateway(|c| {
            c.projects[0].allowed_origins = vec![ALLOWED.into(), "https://app-*.vercel.app".into()];
            c.refuse_origin_with_403 = refuse_with_403;
        })
        .await;
        let o = options_with_origins(&[ALLOWED, GLOB, REFUSED]);
        let report = run_mode(Mode::ApiKey, &gw, &[], &o).await;
        for origin in [ALLOWED, GLOB] {
            let name = format!("cors:{origin}");
            passes(&report, &name);
            let detail = &get(&report, &name).detail;
            assert!(
                detail.contains("authorization") && detail.contains("x-trace-id"),
                "{detail}"
            );
        }
        fails_naming(&report, &format!("cors:{REFUSED}"), "Allowed Origins");
        // Only CORS failed.
        assert_eq!(
            report.checks.iter().filter(|c| !c.ok).count(),
            1,
            "{report:#?}"
        );
        let preflights = gw
            .requests()
            .into_iter()
            .filter(|r| r.method == "OPTIONS")
            .count();
        assert_eq!(preflights, 3);
        // The exposed headers are read from the chat route's actual answer to each allowed
        // origin (an unauthenticated cross-origin POST, answered 401 with CORS headers), not
        // from another route.
        let actual: Vec<_> = gw
            .requests()
            .into_iter()
            .filter(|r| r.header("origin").is_some() && r.method != "OPTIONS")
            .collect();
        assert_eq!(actual.len(), 2, "{actual:#?}");
        for r in &actual {
            assert_eq!(
                (r.method.as_str(), r.path.as_str()),
                ("POST", "/v1/chat/completions")
            );
            assert_eq!(r.status, 401);
            assert!(r.header("authorization").is_none());
        }
        for origin in [ALLOWED, GLOB] {
            let detail = &get(&report, &format!("cors:{origin}")).detail;
            assert!(
                detail.contains(
                    "the chat route exposes to the page: x-trace-id, x-request-id, retry-after"
                ),
                "{detail}"
            );
        }
        gw.shutdown().await;
    }
}

#[tokio::test]
async fn a_malformed_origin_names_the_flag() {
    let gw = gateway(|_| {}).await;
    let o = options_with_origins(&["https://app.example.com/path"]);
    let report = run_mode(Mode::ApiKey, &gw, &[], &o).await;
    fails_naming(&report, "cors:https://app.example.com/path", "--origin");
    gw.shutdown().await;
}
