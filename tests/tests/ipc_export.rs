//! `export_to_file` on the mock runtime: malformed arguments and unknown conversations are
//! typed errors returned before any save dialog opens, and the page itself cannot reach the
//! dialog plugin (only our command opens a dialog). The dialog needs a real desktop: the
//! end-to-end test (tests/e2e/test_export.py) drives it; the file write is tested with real
//! files in history_export_file.rs.

mod ipc_support;

use ipc_support::{kind, new_conversation, Harness};
use serde_json::{json, Value};

#[test]
fn malformed_arguments_are_invalid_argument() {
    let h = Harness::demo();
    let id = new_conversation(&h);
    for args in [
        json!({}),
        json!({"id": id}),
        json!({"id": id, "format": null}),
        json!({"id": id, "format": "pdf"}),
        json!({"id": id, "format": "markdown "}),
        json!({"id": id, "format": ["md"]}),
        json!({"id": 5, "format": "md"}),
        json!({"id": {"$ne": 1}, "format": "json"}),
        json!({"id": ["a"], "format": "json"}),
    ] {
        assert_eq!(
            kind(&h.invoke("export_to_file", args.clone())),
            "invalidArgument",
            "{args}"
        );
    }
    // The app still answers afterwards.
    assert!(h.invoke("app_status", json!({})).is_ok());
}

#[test]
fn an_unknown_conversation_fails_before_the_dialog() {
    let h = Harness::demo();
    for format in ["md", "json"] {
        let answer = h.invoke(
            "export_to_file",
            json!({"id": "no-such-conversation", "format": format}),
        );
        // The same kind the other conversation commands give for an unknown id.
        assert_eq!(kind(&answer), "invalidArgument", "{answer:?}");
        assert_eq!(
            kind(&h.invoke("get_conversation", json!({"id": "no-such-conversation"}))),
            "invalidArgument"
        );
        let message = answer.err().unwrap_or(Value::Null)["message"].to_string();
        assert!(message.contains("no-such-conversation"), "{message}");
    }
    // A deleted conversation is unknown too.
    let id = new_conversation(&h);
    assert_eq!(
        h.invoke("delete_conversation", json!({"id": id})),
        Ok(Value::Null)
    );
    assert_eq!(
        kind(&h.invoke("export_to_file", json!({"id": id, "format": "md"}))),
        "invalidArgument"
    );
}

#[test]
fn the_page_cannot_open_dialogs_itself() {
    let h = Harness::demo();
    for (command, args) in [
        (
            "plugin:dialog|save",
            json!({"options": {"defaultPath": "/tmp/x.md"}}),
        ),
        ("plugin:dialog|open", json!({"options": {}})),
        (
            "plugin:dialog|message",
            json!({"message": "hi", "buttons": "OkCancel"}),
        ),
    ] {
        match h.invoke(command, args) {
            Ok(value) => panic!("{command} was allowed: {value}"),
            // The ACL answers with a plain string naming the missing permission.
            Err(error) => {
                assert!(error.get("kind").is_none(), "{command}: {error}");
                let text = error.as_str().unwrap_or_default();
                assert!(text.contains("not allowed"), "{command}: {text}");
            }
        }
    }
}
