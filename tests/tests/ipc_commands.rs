//! Every app command on the mock runtime: success, its error kinds, and malformed arguments
//! (a typed `invalidArgument`, never a panic or an untyped string).

mod ipc_support;

use behest_desktop::ipc::commands;
use ipc_support::{chat_in, kind, new_conversation, Harness};
use serde_json::{json, Value};

#[test]
fn app_status_reports_demo_mode_and_memory_keyring() {
    let h = Harness::demo();
    let status = h
        .invoke("app_status", json!({}))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status["mode"], "demo");
    assert_eq!(status["demo"], true);
    assert!(status["baseUrl"]
        .as_str()
        .unwrap_or("")
        .starts_with("http://127.0.0.1:"));
    assert_eq!(status["keyring"], "memoryOnly");
    assert_eq!(status["keyringDetail"], "in-memory store");
    assert!(status["version"].is_string());
}

#[test]
fn mint_describes_the_token_without_returning_it() {
    let h = Harness::demo();
    let info = h
        .invoke("mint", json!({"user": "alice", "ttl": 600}))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(info["mode"], "demo");
    assert_eq!(info["claims"]["uid"], "alice");
    assert_eq!(info["header"]["alg"], "RS256");
    assert!(info["expiresAt"].is_i64());
    assert!(!info.to_string().contains("eyJ"), "no JWT in {info}");
    assert_eq!(
        kind(&h.invoke("mint", json!({"ttl": 0}))),
        "invalidSettings"
    );
    assert_eq!(
        kind(&h.invoke("mint", json!({"tier": "not a tier!"}))),
        "invalidSettings"
    );
}

#[test]
fn settings_round_trip_and_invalid_settings_are_refused_unchanged() {
    let h = Harness::demo();
    let mut settings = h
        .invoke("get_settings", json!({}))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(settings["authMode"], "demo");
    settings["theme"] = json!("dark");
    settings["userId"] = json!("bob");
    let saved = h
        .invoke("update_settings", json!({"settings": settings}))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(saved["theme"], "dark");
    assert_eq!(saved["userId"], "bob");
    let file = std::fs::read_to_string(h.dir.path().join("settings.json")).unwrap_or_default();
    assert!(
        file.contains("\"userId\"") && file.contains("\"dark\""),
        "persisted: {file}"
    );
    let status = h
        .invoke("app_status", json!({}))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status["userId"], "bob");

    let mut bad = saved.clone();
    bad["authMode"] = json!("tokenEndpoint");
    bad["tokenUrl"] = json!("not a url");
    assert_eq!(
        kind(&h.invoke("update_settings", json!({"settings": bad}))),
        "invalidSettings"
    );
    let after = h
        .invoke("app_status", json!({}))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(after["mode"], "demo", "a refused update changes nothing");
}

#[test]
fn secrets_are_write_only_and_sign_out_forgets_them() {
    let h = Harness::demo();
    let sentinel = "SENTINEL_TOK_session_1";
    assert_eq!(
        h.invoke(
            "set_secret",
            json!({"name": "sessionToken", "value": sentinel})
        ),
        Ok(Value::Null)
    );
    let settings = h
        .invoke("get_settings", json!({}))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(settings["secrets"]["sessionToken"], true);
    assert!(!settings.to_string().contains("SENTINEL"), "{settings}");
    assert_eq!(
        kind(&h.invoke("set_secret", json!({"name": "apiKey", "value": "nope"}))),
        "invalidSettings"
    );
    assert_eq!(
        kind(&h.invoke(
            "set_secret",
            json!({"name": "sessionToken", "value": "x".repeat(3000)})
        )),
        "secretTooLarge"
    );
    assert_eq!(kind(&h.invoke("set_secret", json!({"name": "signingKey", "value": "-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----"}))).as_str(), "crypto");
    assert_eq!(h.invoke("sign_out", json!({})), Ok(Value::Null));
    let settings = h
        .invoke("get_settings", json!({}))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(settings["secrets"]["sessionToken"], false);
}

#[test]
fn render_markdown_sanitizes_and_bounds_its_input() {
    let h = Harness::demo();
    let html = h
        .invoke(
            "render_markdown",
            json!({"text": "**hi** <script>x</script>"}),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let html = html.as_str().unwrap_or_default();
    assert!(
        html.contains("<strong>hi</strong>") && !html.contains("<script"),
        "{html}"
    );
    let huge = "a".repeat(commands::chat::MAX_MARKDOWN + 1);
    assert_eq!(
        kind(&h.invoke("render_markdown", json!({"text": huge}))),
        "invalidArgument"
    );
}

#[test]
fn history_commands_work_and_report_unknown_ids() {
    let h = Harness::demo();
    let id = new_conversation(&h);
    let (done, _) = chat_in(&h, "h", &id, "zebra crossing");
    assert!(done.is_ok());
    let list = h
        .invoke("list_conversations", json!({}))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    let renamed = h
        .invoke("rename_conversation", json!({"id": id, "title": "Zebras"}))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(renamed["title"], "Zebras");
    let params =
        json!({"model": "m1", "systemPrompt": "be brief", "temperature": 0.5, "maxTokens": 64});
    let updated = h
        .invoke("update_conversation", json!({"id": id, "params": params}))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (updated["model"].clone(), updated["maxTokens"].clone()),
        (json!("m1"), json!(64))
    );
    let hits = h
        .invoke("search_conversations", json!({"query": "zebra"}))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(hits[0]["id"], id.as_str());
    let md = h
        .invoke("export_conversation", json!({"id": id, "format": "md"}))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(md.as_str().unwrap_or("").contains("zebra crossing"));
    assert_eq!(
        kind(&h.invoke("export_conversation", json!({"id": id, "format": "pdf"}))),
        "invalidArgument"
    );
    assert_eq!(
        kind(&h.invoke("rename_conversation", json!({"id": id, "title": "  "}))),
        "invalidSettings"
    );
    assert_eq!(
        kind(&h.invoke(
            "update_conversation",
            json!({"id": id, "params": {"temperature": 9}})
        )),
        "invalidSettings"
    );
    assert_eq!(
        h.invoke("delete_conversation", json!({"id": id})),
        Ok(Value::Null)
    );
    assert_eq!(
        kind(&h.invoke("get_conversation", json!({"id": id}))),
        "invalidArgument"
    );
    assert_eq!(
        kind(&h.invoke("rename_conversation", json!({"id": "nope", "title": "x"}))),
        "invalidArgument"
    );
}

#[test]
fn get_conversation_gives_the_latest_messages_and_earlier_ones_on_request() {
    let h = Harness::demo();
    let id = new_conversation(&h);
    for (n, text) in ["one", "two", "three"].iter().enumerate() {
        let (done, _) = chat_in(&h, &format!("p{n}"), &id, text);
        assert!(done.is_ok(), "{done:?}");
    }
    let get = |args: Value| h.invoke("get_conversation", args);
    let all = get(json!({"id": id})).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(all["messages"].as_array().map(Vec::len), Some(6));
    assert_eq!(all["earlier"], 0);

    let latest = get(json!({"id": id, "limit": 3})).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(latest["earlier"], 3);
    assert_eq!(
        latest["title"], all["title"],
        "the conversation comes with them"
    );
    assert_eq!(
        latest["messages"],
        json!(all["messages"].as_array().map(|m| m[3..].to_vec()))
    );

    let first_shown = latest["messages"][0]["id"].clone();
    let before =
        get(json!({"id": id, "before": first_shown, "limit": 2})).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(before["earlier"], 1);
    assert_eq!(
        before["messages"],
        json!(all["messages"].as_array().map(|m| m[1..3].to_vec()))
    );

    let other = new_conversation(&h);
    for (args, named) in [
        (json!({"id": id, "limit": 0}), "limit"),
        (json!({"id": id, "limit": -1}), "limit"),
        (json!({"id": id, "before": 7}), "before"),
        (json!({"id": other, "before": first_shown}), "before"),
    ] {
        let answer = get(args.clone());
        assert_eq!(kind(&answer), "invalidArgument", "{args}");
        let message = answer
            .err()
            .map(|e| e["message"].to_string())
            .unwrap_or_default();
        assert!(message.contains(named), "{args}: {message}");
    }
}

#[test]
fn open_external_refuses_non_web_links() {
    let h = Harness::demo();
    for url in [
        "javascript:alert(1)",
        "file:///etc/passwd",
        "not a url",
        "data:text/html,x",
    ] {
        assert_eq!(
            kind(&h.invoke("open_external", json!({"url": url}))),
            "invalidArgument",
            "{url}"
        );
    }
}

#[test]
fn copy_token_never_answers_with_the_token() {
    let h = Harness::demo();
    // Without a display the clipboard may be unavailable: either way the answer holds no token.
    let answer = h.invoke("copy_token", json!({}));
    match &answer {
        Ok(value) => assert_eq!(value, &Value::Null),
        Err(error) => assert_eq!(error["kind"], "internal", "{error}"),
    }
    assert!(!format!("{answer:?}").contains("eyJ"));
}

#[test]
fn malformed_arguments_are_typed_errors_for_every_command() {
    let h = Harness::demo();
    let deep = (0..100).fold(json!(1), |inner, _| json!([inner]));
    let cases: Vec<(&str, Value)> = vec![
        (
            "chat",
            json!({"requestId": 5, "request": {"messages": []}, "onEvent": "__CHANNEL__:1"}),
        ),
        (
            "chat",
            json!({"requestId": "r", "request": {"messages": "hi"}, "onEvent": "__CHANNEL__:1"}),
        ),
        (
            "chat",
            json!({"requestId": "r", "onEvent": "__CHANNEL__:1"}),
        ),
        ("mint", json!({"ttl": "soon"})),
        ("mint", json!({"user": 5})),
        ("cancel_chat", json!({})),
        ("cancel_chat", json!({"requestId": 12})),
        ("render_markdown", json!({"text": null})),
        ("render_markdown", json!({"text": deep})),
        ("update_settings", json!({"settings": "all of them"})),
        ("update_settings", json!({})),
        ("set_secret", json!({"name": "password", "value": "x"})),
        ("set_secret", json!({"name": "apiKey"})),
        ("search_conversations", json!({"query": ["a"]})),
        ("get_conversation", json!({})),
        (
            "create_conversation",
            json!({"draft": {"temperature": "hot"}}),
        ),
        ("rename_conversation", json!({"id": "x"})),
        ("update_conversation", json!({"id": "x", "params": 3})),
        ("delete_conversation", json!({"id": {"$ne": 1}})),
        ("export_conversation", json!({"id": "x"})),
        ("open_external", json!({"url": false})),
    ];
    for (command, args) in cases {
        let answer = h.invoke(command, args.clone());
        assert_eq!(kind(&answer), "invalidArgument", "{command} {args}");
    }
    // A 10 MB string is accepted as an argument and bounded by the command.
    let big = "x".repeat(10 << 20);
    assert_eq!(
        kind(&h.invoke("render_markdown", json!({"text": big}))),
        "invalidArgument"
    );
    // The app still answers afterwards.
    assert!(h.invoke("app_status", json!({})).is_ok());
}
