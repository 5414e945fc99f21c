//! The developer panel's commands on the mock runtime (issue 6, item 2): `run_check` streams
//! every check and resolves with a passing demo report that holds no secret; an origin the
//! project does not allow is a failing CORS check; malformed origins are typed errors;
//! `recent_requests` lists the app's exchanges (chat with its trace id, token signings, API-key
//! mints and token-endpoint calls with their HTTP status, check runs) without any secret; both
//! commands are refused to a foreign page.

mod ipc_support;

use behest_desktop::core::backend::ChatRequestInput;
use behest_desktop::core::check::CheckResult;
use behest_desktop::core::config::Env;
use behest_desktop::core::gateway::{
    Fault, Gateway, GatewayConfig, GatewayHandle, Route as GatewayRoute,
};
use behest_desktop::core::protocol::claims::inspect;
use behest_desktop::ipc::args::{Arg, ChannelArg};
use behest_desktop::ipc::commands::chat::chat as chat_command;
use behest_desktop::ipc::commands::dev::run_check;
use behest_desktop::ipc::events::StreamEvent;
use ipc_support::{chat_request, invoke_from, kind, recording_channel, Harness};
use serde_json::{json, Value};

/// Runs `run_check` directly with a recording Channel: (answer, streamed results).
fn check(h: &Harness, origins: Option<Vec<String>>) -> (Result<Value, Value>, Vec<Value>) {
    let (channel, seen) = recording_channel::<CheckResult>();
    let answer = tauri::async_runtime::block_on(run_check(
        h.state(),
        Arg::of(origins),
        ChannelArg::of(channel),
    ))
    .map(|r| serde_json::to_value(r).unwrap_or(Value::Null))
    .map_err(|e| serde_json::to_value(e).unwrap_or(Value::Null));
    let events = seen.lock().map(|s| s.clone()).unwrap_or_default();
    (answer, events)
}

fn chat_once(h: &Harness, text: &str) {
    let (channel, _) = recording_channel::<StreamEvent>();
    let request: ChatRequestInput =
        serde_json::from_value(chat_request(text)).unwrap_or_else(|e| panic!("{e}"));
    let summary = tauri::async_runtime::block_on(chat_command(
        h.state(),
        Arg::of(format!("dev-{text}")),
        Arg::of(None),
        Arg::of(request),
        Arg::of(None),
        ChannelArg::of(channel),
    ));
    assert!(summary.is_ok(), "the chat ran");
}

/// The current chat token and its signature, to search answers for.
fn token_needles(h: &Harness) -> (String, String) {
    let token = tauri::async_runtime::block_on(h.backend.raw_token())
        .unwrap_or_else(|e| panic!("token: {e}"));
    let token = token.expose().to_string();
    let signature = token.rsplit('.').next().unwrap_or_default().to_string();
    assert!(signature.len() > 40, "a real token was minted");
    (token, signature)
}

/// The first JWT-shaped run in `text`: three dot-separated base64url parts of 8+ characters
/// (any token: the session's, or one the check signed for itself).
fn jwt_shaped(text: &str) -> Option<String> {
    let b64url = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    text.split(|c: char| !(b64url(c) || c == '.'))
        .flat_map(|run| {
            let parts: Vec<&str> = run.split('.').collect();
            parts
                .windows(3)
                .find(|w| w.iter().all(|p| p.len() >= 8))
                .map(|w| w.join("."))
        })
        .next()
}

fn assert_no_secret(text: &str, token: &str, signature: &str) {
    for needle in [
        token,
        signature,
        "BEGIN PRIVATE KEY",
        "PRIVATE KEY",
        "behest_sk_live_",
        "eyJhbGci",
    ] {
        assert!(
            !text.contains(needle),
            "{needle:.20}… leaked in {text:.300}"
        );
    }
    if let Some(jwt) = jwt_shaped(text) {
        panic!("a JWT-shaped string ({:.12}…) leaked in {text:.300}", jwt);
    }
    // A bearer is only ever shown redacted.
    for (at, _) in text.match_indices("Bearer ") {
        assert!(
            text[at..].starts_with("Bearer [redacted]"),
            "an unredacted bearer in {text:.300}"
        );
    }
}

#[test]
fn the_jwt_scanner_finds_any_token() {
    assert!(jwt_shaped("x eyJhbGciOi.eyJzdWIiOiJ4.c2lnbmF0dXJl y").is_some());
    assert!(jwt_shaped("{\"t\":\"aaaaaaaa.bbbbbbbb.cccccccc\"}").is_some());
    assert!(jwt_shaped("api.behest.app and 1.2.3 and v1.0.0").is_none());
    assert!(jwt_shaped("http://127.0.0.1:4554/v1/chat/completions").is_none());
}

#[test]
fn run_check_in_demo_mode_streams_every_check_and_all_pass() {
    let h = Harness::demo();
    let (answer, events) = check(&h, None);
    let report = answer.unwrap_or_else(|e| panic!("run_check failed: {e}"));
    assert_eq!(report["mode"], "demo");
    let checks = report["checks"].as_array().cloned().unwrap_or_default();
    let failed: Vec<&Value> = checks.iter().filter(|c| c["ok"] != true).collect();
    assert!(failed.is_empty(), "failing checks: {failed:?}");
    assert_eq!(report["ok"], true);
    // Every check was streamed, in order, before the report resolved.
    assert_eq!(events, checks);
    let names: Vec<&str> = checks.iter().filter_map(|c| c["name"].as_str()).collect();
    for name in [
        "config.mode",
        "config.reachable",
        "token.mint",
        "token.claims",
        "verify.signature",
        "verify.publicKey",
        "chat.completion",
        "limits.usage",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    // The run is in the request log, with the signing of its token.
    let recent = h
        .invoke("recent_requests", json!({}))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(recent[0]["kind"], "check");
    assert_eq!(recent[0]["ok"], true);
    let all = checks.len();
    assert_eq!(
        recent[0]["path"],
        format!("{all} of {all} checks passed"),
        "{recent}"
    );
    assert!(recent
        .as_array()
        .is_some_and(|r| r.iter().any(|x| x["kind"] == "sign")));
}

#[test]
fn the_check_report_and_its_events_hold_no_token_key_or_pem() {
    let h = Harness::demo();
    let origins = vec!["https://app.example.com".to_string()];
    let (answer, events) = check(&h, Some(origins));
    let (token, signature) = token_needles(&h);
    let mut transcript: Vec<String> = events.iter().map(Value::to_string).collect();
    transcript.push(format!("{answer:?}"));
    for text in &transcript {
        assert_no_secret(text, &token, &signature);
    }
    // The claims are shown (decoded), the token is not; nor is the token the check signed for
    // itself (caught by the JWT-shaped scan, whatever its value).
    assert!(transcript.iter().any(|t| t.contains("token.claims")));
    let recent = h
        .invoke("recent_requests", json!({}))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_no_secret(&recent.to_string(), &token, &signature);
}

#[test]
fn an_origin_the_project_does_not_allow_is_a_failing_cors_check_with_a_hint() {
    let h = Harness::demo();
    let (answer, events) = check(&h, Some(vec!["https://evil.example".into()]));
    let report = answer.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report["ok"], false);
    let cors = report["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == "cors:https://evil.example"))
        .cloned()
        .unwrap_or_else(|| panic!("no cors check in {report}"));
    assert_eq!(cors["ok"], false);
    assert!(cors["hint"]
        .as_str()
        .is_some_and(|h| h.to_ascii_lowercase().contains("allowed origins")));
    assert_eq!(
        events.last(),
        Some(&cors),
        "the CORS check was streamed last"
    );
    // Everything else still passes; the failed run is logged as failed.
    let others_ok = report["checks"]
        .as_array()
        .is_some_and(|c| c.iter().filter(|c| c != &&cors).all(|c| c["ok"] == true));
    assert!(others_ok, "{report}");
    let recent = h
        .invoke("recent_requests", json!({"limit": 1}))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(recent.as_array().map(Vec::len), Some(1));
    assert_eq!(recent[0]["kind"], "check");
    assert_eq!(recent[0]["ok"], false);
}

#[test]
fn malformed_origins_are_typed_errors_and_nothing_is_sent() {
    let h = Harness::demo();
    let (answer, events) = check(&h, Some(vec!["https://app.example.com/path".into()]));
    assert_eq!(kind(&answer), "invalidSettings");
    assert!(events.is_empty(), "no check ran: {events:?}");
    // A wrong type never reaches the handler's logic.
    assert_eq!(
        kind(&h.invoke("recent_requests", json!({"limit": "many"}))),
        "invalidArgument"
    );
    assert_eq!(
        kind(&h.invoke(
            "run_check",
            json!({"origins": 7, "onEvent": "__CHANNEL__:1"})
        )),
        "invalidArgument"
    );
    let recent = h
        .invoke("recent_requests", json!({}))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        recent
            .as_array()
            .is_some_and(|r| r.iter().all(|x| x["kind"] != "check")),
        "a refused run is not logged: {recent}"
    );
}

#[test]
fn recent_requests_lists_the_chat_with_its_trace_id_and_no_secret() {
    let h = Harness::demo();
    chat_once(&h, "hello");
    assert!(h.invoke("mint", json!({})).is_ok());
    let recent = h
        .invoke("recent_requests", json!({}))
        .unwrap_or_else(|e| panic!("{e}"));
    let rows = recent.as_array().cloned().unwrap_or_default();
    // Newest first: the panel's mint, then the chat, then the chat's token.
    let kinds: Vec<&str> = rows.iter().filter_map(|r| r["kind"].as_str()).collect();
    assert_eq!(kinds, ["sign", "chat", "sign"], "{recent}");
    let chat = &rows[1];
    assert_eq!(chat["method"], "POST");
    assert_eq!(chat["path"], "/v1/chat/completions");
    assert_eq!(chat["origin"].as_str(), Some(h.gateway_url().as_str()));
    assert_eq!(chat["ok"], true);
    // A success keeps its real HTTP status and the request headers, the bearer redacted.
    assert_eq!(chat["status"], 200, "{chat}");
    let header = |row: &Value, name: &str| {
        row["requestHeaders"]
            .as_array()
            .and_then(|hs| hs.iter().find(|h| h["name"] == name))
            .and_then(|h| h["value"].as_str())
            .map(str::to_string)
    };
    assert_eq!(
        header(chat, "authorization").as_deref(),
        Some("Bearer [redacted]")
    );
    assert_eq!(
        header(chat, "content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(header(chat, "accept").as_deref(), Some("text/event-stream"));
    // A local signing is no HTTP request: no status, no headers.
    assert_eq!(rows[0]["status"], Value::Null);
    assert_eq!(rows[0]["requestHeaders"], json!([]));
    assert!(
        chat["traceId"].as_str().is_some_and(|t| !t.is_empty()),
        "{chat}"
    );
    assert!(chat["durationMs"].is_u64());
    assert!(rows[0]["id"].as_u64() > rows[1]["id"].as_u64());
    let (token, signature) = token_needles(&h);
    assert_no_secret(&recent.to_string(), &token, &signature);
    let one = h
        .invoke("recent_requests", json!({"limit": 1}))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(one.as_array().map(Vec::len), Some(1));
}

#[test]
fn current_token_describes_the_session_token_and_mints_nothing_while_it_is_valid() {
    let h = Harness::demo();
    chat_once(&h, "first");
    let signings = |h: &Harness| {
        h.invoke("recent_requests", json!({}))
            .unwrap_or_else(|e| panic!("{e}"))
            .as_array()
            .map_or(0, |r| r.iter().filter(|x| x["kind"] == "sign").count())
    };
    let before = signings(&h);
    assert_eq!(before, 1, "the chat's token");
    let first = h
        .invoke("current_token", json!({}))
        .unwrap_or_else(|e| panic!("current_token: {e}"));
    let again = h
        .invoke("current_token", json!({}))
        .unwrap_or_else(|e| panic!("current_token: {e}"));
    assert_eq!(first, again);
    assert_eq!(signings(&h), before, "no token was minted for the panel");
    // It is the token chats send and copy_token copies: same claims (jti included).
    let (token, signature) = token_needles(&h);
    let claims = inspect(&token).map_or(Value::Null, |i| i.claims);
    assert!(claims["jti"].is_string(), "a readable token");
    assert_eq!(first["claims"], claims);
    assert_eq!(first["expiresAt"], claims["exp"]);
    assert_eq!(first["mode"], "demo");
    assert_eq!(first["header"]["alg"], "RS256");
    assert!(first["header"]["kid"].is_string());
    assert_no_secret(&first.to_string(), &token, &signature);
    // `mint` makes a new token; the current one is still the session's.
    let minted = h
        .invoke("mint", json!({}))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(minted["claims"]["jti"], claims["jti"]);
    let now = h
        .invoke("current_token", json!({}))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(now["claims"]["jti"], claims["jti"]);
    // Refused to a foreign page before the handler.
    match invoke_from(
        &h.window,
        "https://evil.example",
        "current_token",
        json!({}),
    ) {
        Ok(value) => panic!("current_token from a foreign page was allowed: {value}"),
        Err(error) => assert!(error.get("kind").is_none(), "{error}"),
    }
}

#[test]
fn a_failed_chat_is_logged_with_its_status_and_trace_id() {
    let h = Harness::demo();
    h.fault(json!({"status": 402}), 1);
    let (channel, _) = recording_channel::<StreamEvent>();
    let request: ChatRequestInput =
        serde_json::from_value(chat_request("limited")).unwrap_or_else(|e| panic!("{e}"));
    let answer = tauri::async_runtime::block_on(chat_command(
        h.state(),
        Arg::of("limited".into()),
        Arg::of(None),
        Arg::of(request),
        Arg::of(None),
        ChannelArg::of(channel),
    ));
    assert!(answer.is_err(), "the chat failed");
    let recent = h
        .invoke("recent_requests", json!({}))
        .unwrap_or_else(|e| panic!("{e}"));
    let chat = recent
        .as_array()
        .and_then(|r| r.iter().find(|x| x["kind"] == "chat"))
        .cloned()
        .unwrap_or_else(|| panic!("no chat in {recent}"));
    assert_eq!(chat["ok"], false);
    assert_eq!(chat["status"], 402);
    assert!(chat["traceId"].is_string(), "{chat}");
    assert!(chat["error"].is_string());
}

/// A gateway on loopback (faults on) and the app configured against it: API-key mode, or
/// token-endpoint mode with `token_endpoint`.
fn against_a_gateway(token_endpoint: bool) -> (GatewayHandle, Harness) {
    let gateway = tauri::async_runtime::block_on(async {
        let mut config = GatewayConfig::demo()?;
        config.faults_enabled = true;
        Gateway::spawn(config, std::net::SocketAddr::from(([127, 0, 0, 1], 0))).await
    })
    .unwrap_or_else(|e| panic!("gateway: {e}"));
    let c = gateway.credentials();
    let pairs = if token_endpoint {
        vec![
            ("BEHEST_BASE_URL", c.base_url),
            ("BEHEST_TOKEN_URL", c.token_url),
            ("BEHEST_SESSION_TOKEN", c.session_token.expose().to_string()),
        ]
    } else {
        vec![
            ("BEHEST_BASE_URL", c.base_url),
            ("BEHEST_KEY", c.api_key.expose().to_string()),
        ]
    };
    (gateway, Harness::with_env(Env::from_pairs(pairs)))
}

/// A mint through the panel, then the newest record.
fn mint_and_record(h: &Harness) -> (bool, Value) {
    let minted = h.invoke("mint", json!({})).is_ok();
    let recent = h
        .invoke("recent_requests", json!({"limit": 1}))
        .unwrap_or_else(|e| panic!("{e}"));
    (minted, recent[0].clone())
}

#[test]
fn http_mints_are_logged_with_their_real_status_and_a_refused_one_with_its_error() {
    for (token_endpoint, kind, path, failing) in [
        (false, "mint", "/v1/auth/mint", GatewayRoute::Mint),
        (true, "token", "/api/behest/token", GatewayRoute::Token),
    ] {
        let (gateway, h) = against_a_gateway(token_endpoint);
        let (minted, row) = mint_and_record(&h);
        assert!(minted, "{kind}: the mint succeeded: {row}");
        assert_eq!(row["kind"], kind, "{row}");
        assert_eq!(row["method"], "POST");
        assert_eq!(row["path"], path, "{row}");
        assert_eq!(row["ok"], true);
        // The gateway answers a mint and a token bundle with 200.
        assert_eq!(row["status"], 200, "{kind}: {row}");
        // Every gateway answer carries X-Trace-Id, a successful mint's too.
        assert!(
            row["traceId"].as_str().is_some_and(|t| !t.is_empty()),
            "{kind}: the trace id is kept: {row}"
        );
        // The headers the log shows for it are the ones the gateway received (the log writes
        // them out by hand, to match auth's `post_json`: this catches the two drifting apart).
        let received: Vec<String> = gateway
            .requests()
            .iter()
            .rfind(|r| r.path == path)
            .map(|r| r.headers.iter().map(|(n, _)| n.clone()).collect())
            .unwrap_or_default();
        let shown = row["requestHeaders"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(shown.len() >= 3, "{kind}: {row}");
        for line in &shown {
            let name = line["name"].as_str().unwrap_or_default();
            assert!(
                received.iter().any(|r| r == name),
                "{kind}: the log shows {name}, never sent ({received:?})"
            );
        }
        let first_id = row["id"].as_u64();
        // A refused mint (403 is final: no retry) keeps its status, trace id and error.
        gateway
            .faults()
            .push(failing, Fault::status(403))
            .unwrap_or_else(|e| panic!("faults: {e}"));
        let (minted, row) = mint_and_record(&h);
        assert!(!minted, "{kind}: the scripted 403 failed the mint");
        assert!(row["id"].as_u64() > first_id, "a new record: {row}");
        assert_eq!(row["kind"], kind);
        assert_eq!(row["ok"], false);
        assert_eq!(row["status"], 403, "{kind}: {row}");
        assert!(row["error"].is_string(), "{row}");
        // Nothing secret in the log: no key, no session credential, no token.
        let recent = h
            .invoke("recent_requests", json!({}))
            .unwrap_or_else(|e| panic!("{e}"))
            .to_string();
        let c = gateway.credentials();
        for secret in [c.api_key.expose(), c.session_token.expose()] {
            assert!(!recent.contains(secret), "{kind}: a credential leaked");
        }
        assert!(jwt_shaped(&recent).is_none(), "{kind}: a token leaked");
        tauri::async_runtime::block_on(gateway.shutdown());
    }
}

#[test]
fn both_commands_are_refused_to_a_foreign_page() {
    let h = Harness::demo();
    chat_once(&h, "before");
    for origin in ["https://evil.example", "http://tauri.localhost"] {
        for (command, args) in [
            (
                "run_check",
                json!({"origins": [], "onEvent": "__CHANNEL__:1"}),
            ),
            ("recent_requests", json!({})),
        ] {
            match invoke_from(&h.window, origin, command, args) {
                Ok(value) => panic!("{command} from {origin} was allowed: {value}"),
                Err(error) => assert!(
                    error.get("kind").is_none(),
                    "{command} from {origin} reached the handler: {error}"
                ),
            }
        }
    }
    // No check ran.
    let recent = h
        .invoke("recent_requests", json!({}))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(recent
        .as_array()
        .is_some_and(|r| r.iter().all(|x| x["kind"] != "check")));
}
