//! The shell's security promises (reliability bar A1, A2, A4, A5, A8, A9): foreign origins and
//! unlisted windows are refused before any handler runs, the shipped config and capabilities
//! are what we reviewed, and no token or secret crosses IPC.

mod ipc_support;

use behest_desktop::core::backend::ChatRequestInput;
use behest_desktop::ipc::args::{Arg, ChannelArg};
use behest_desktop::ipc::commands::{chat::chat as chat_command, NAMES};
use behest_desktop::ipc::events::StreamEvent;
use behest_desktop_tests::workspace_root;
use ipc_support::{chat_request, invoke_from, recording_channel, Harness, APP_ORIGIN};
use serde_json::{json, Value};
use tauri::{WebviewUrl, WebviewWindowBuilder};

/// Arguments that would make each command succeed (so a refusal is the ACL's doing).
fn valid_args(command: &str) -> Value {
    match command {
        "chat" => {
            json!({"requestId": "evil", "request": chat_request("x"), "onEvent": "__CHANNEL__:1"})
        }
        "cancel_chat" => json!({"requestId": "evil"}),
        "render_markdown" => json!({"text": "x"}),
        "update_settings" => json!({"settings": {"authMode": "demo", "theme": "dark"}}),
        "set_secret" => json!({"name": "sessionToken", "value": "EVIL"}),
        "open_external" => json!({"url": "https://evil.example/"}),
        "search_conversations" => json!({"query": "x"}),
        "get_conversation" | "delete_conversation" => json!({"id": "x"}),
        "create_conversation" => json!({"draft": {"title": "evil"}}),
        "rename_conversation" => json!({"id": "x", "title": "evil"}),
        "update_conversation" => json!({"id": "x", "params": {}}),
        "export_conversation" => json!({"id": "x", "format": "md"}),
        // An unknown id: were the ACL to let it through, the handler fails before any dialog.
        "export_to_file" => json!({"id": "x", "format": "md"}),
        "run_check" => json!({"origins": [], "onEvent": "__CHANNEL__:1"}),
        "recent_requests" => json!({"limit": 5}),
        _ => json!({}),
    }
}

fn assert_refused_by_acl(answer: &Result<Value, Value>, what: &str) {
    match answer {
        Ok(value) => panic!("{what} was allowed: {value}"),
        // A CommandError would mean our handler ran; the ACL answers with a plain string.
        Err(error) => assert!(
            error.get("kind").is_none(),
            "{what} reached the handler: {error}"
        ),
    }
}

#[test]
fn every_command_from_a_foreign_origin_is_refused_before_its_handler() {
    let h = Harness::demo();
    for origin in [
        "https://evil.example",
        "http://app.evil.com",
        "http://tauri.localhost.evil.tld",
        "http://tauri.localhost",
    ] {
        for command in NAMES {
            let answer = invoke_from(&h.window, origin, command, valid_args(command));
            assert_refused_by_acl(&answer, &format!("{command} from {origin}"));
        }
    }
    // Nothing a handler would have done happened.
    let list = h
        .invoke("list_conversations", json!({}))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(list, json!([]));
    let settings = h
        .invoke("get_settings", json!({}))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(settings["secrets"]["sessionToken"], false);
    assert!(settings["theme"].is_null());
    // The same calls from the app's own origin are allowed.
    assert!(h
        .invoke("render_markdown", valid_args("render_markdown"))
        .is_ok());
}

#[test]
fn every_command_from_an_unlisted_window_is_refused() {
    let h = Harness::demo();
    let intruder = WebviewWindowBuilder::new(&h.app, "intruder", WebviewUrl::default())
        .build()
        .unwrap_or_else(|e| panic!("window: {e}"));
    for command in NAMES {
        let answer = invoke_from(&intruder, APP_ORIGIN, command, valid_args(command));
        assert_refused_by_acl(&answer, &format!("{command} from window intruder"));
    }
}

#[test]
fn no_token_or_secret_crosses_ipc() {
    let h = Harness::demo();
    let sentinel = "SENTINEL_TOK_ipc_scan";
    assert!(h
        .invoke(
            "set_secret",
            json!({"name": "sessionToken", "value": sentinel})
        )
        .is_ok());
    let created = h
        .invoke("create_conversation", json!({"draft": {"title": "scan"}}))
        .unwrap_or_else(|e| panic!("{e}"));
    let id = created["id"].as_str().unwrap_or_default().to_string();

    let (channel, seen) = recording_channel::<StreamEvent>();
    let request: ChatRequestInput =
        serde_json::from_value(chat_request("hello")).unwrap_or_else(|e| panic!("{e}"));
    let summary = tauri::async_runtime::block_on(chat_command(
        h.state(),
        Arg::of("scan".into()),
        Arg::of(Some(id.clone())),
        Arg::of(request),
        Arg::of(None),
        ChannelArg::of(channel),
    ));
    let mut transcript: Vec<String> = seen
        .lock()
        .map(|s| s.iter().map(Value::to_string).collect())
        .unwrap_or_default();
    for event in ["started", "delta", "done"] {
        let tag = format!("\"event\":\"{event}\"");
        assert!(
            transcript.iter().any(|m| m.contains(&tag)),
            "the chat streamed a {event} event: {transcript:?}"
        );
    }
    transcript.push(serde_json::to_string(&summary.map_err(|e| e.message)).unwrap_or_default());
    for (command, args) in [
        ("app_status", json!({})),
        ("get_settings", json!({})),
        ("mint", json!({})),
        ("list_conversations", json!({})),
        ("get_conversation", json!({"id": id})),
        ("export_conversation", json!({"id": id, "format": "json"})),
        ("copy_token", json!({})),
        ("current_token", json!({})),
        ("recent_requests", json!({})),
        ("set_secret", json!({"name": "apiKey", "value": sentinel})),
    ] {
        transcript.push(format!("{:?}", h.invoke(command, args)));
    }
    let token = tauri::async_runtime::block_on(h.backend.raw_token())
        .unwrap_or_else(|e| panic!("token: {e}"));
    let token = token.expose().to_string();
    let signature = token.rsplit('.').next().unwrap_or_default().to_string();
    assert!(signature.len() > 40, "a real token was minted for the chat");
    for text in &transcript {
        for needle in [
            sentinel,
            token.as_str(),
            signature.as_str(),
            "BEGIN PRIVATE KEY",
            "eyJ",
        ] {
            assert!(
                !text.contains(needle),
                "{needle:.20}… crossed IPC in {text:.200}"
            );
        }
    }
}

#[test]
fn shipped_config_is_strict() {
    let text = std::fs::read_to_string(workspace_root().join("src-tauri/tauri.conf.json"))
        .unwrap_or_default();
    let config: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("tauri.conf.json: {e}"));
    let security = &config["app"]["security"];
    let csp = security["csp"]
        .as_str()
        .unwrap_or_else(|| panic!("csp must be a string, not {}", security["csp"]));
    let directives: Vec<(&str, Vec<&str>)> = csp
        .split(';')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| {
            let mut words = d.split_whitespace();
            (words.next().unwrap_or(""), words.collect())
        })
        .collect();
    let get = |name: &str| {
        directives
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(get("default-src"), Some(vec!["'self'"]));
    assert_eq!(
        get("script-src"),
        Some(vec!["'self'"]),
        "no remote or inline scripts"
    );
    assert_eq!(
        get("connect-src"),
        Some(vec!["ipc:", "http://ipc.localhost"])
    );
    assert!(!csp.contains("unsafe-eval"), "{csp}");
    assert!(
        !csp.contains("http://*") && !csp.contains("https:"),
        "{csp}"
    );
    assert_eq!(security["freezePrototype"], true);
    assert!(
        !text.to_ascii_lowercase().contains("dangerous"),
        "no dangerous* option"
    );
    assert_eq!(config["app"]["windows"][0]["title"], "Behest Desktop");
    assert_eq!(config["app"]["windows"][0]["label"], "main");
}

#[test]
fn capabilities_grant_exactly_the_app_commands_to_the_main_window() {
    let dir = workspace_root().join("src-tauri/capabilities");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        vec!["default.json"],
        "the capability set is exactly one reviewed file"
    );
    let text = std::fs::read_to_string(dir.join("default.json")).unwrap_or_default();
    let cap: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("default.json: {e}"));
    let mut want = vec![json!("core:default")];
    want.extend(
        NAMES
            .iter()
            .map(|n| json!(format!("allow-{}", n.replace('_', "-")))),
    );
    let expected = json!({
        "$schema": "../gen/schemas/desktop-schema.json",
        "identifier": "default",
        "description": cap["description"].clone(),
        "windows": ["main"],
        "permissions": want,
    });
    assert_eq!(
        cap, expected,
        "no remote, no wildcard window, no fs/shell/http plugin permissions"
    );
}

#[test]
fn build_script_declares_exactly_the_registered_commands() {
    let root = workspace_root().join("src-tauri");
    let build = std::fs::read_to_string(root.join("build.rs")).unwrap_or_default();
    let module = std::fs::read_to_string(root.join("src/ipc/commands/mod.rs")).unwrap_or_default();
    // Both name the one list, so the ACL and the registered commands cannot drift apart.
    assert!(build.contains(r#"include!("src/ipc/commands/names.rs")"#));
    assert!(build.contains("AppManifest::new().commands(COMMANDS)"));
    assert!(module.contains(r#"include!("names.rs")"#));
    let mut unique = NAMES.to_vec();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), NAMES.len(), "a command is listed twice");
}
