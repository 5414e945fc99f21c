//! Malformed IPC bodies for every command on the mock runtime (reliability bar A7): empty and
//! `null` bodies, wrong types, a 10 MB string, 10,000-deep JSON, and proptest-generated argument
//! objects. Every call gets an answer, a failure is a typed `CommandError` (`{kind, message}`
//! with a known kind), nothing panics, and the app still answers afterwards.
//!
//! Left out, because a *well-formed* call acts outside the test process: `restart_app`
//! (restarts the process), `export_to_file` (opens a native save dialog), `open_external` (opens
//! the browser) and `copy_token` (writes the clipboard). Their malformed arguments are covered
//! in ipc_commands.rs and ipc_export.rs.
//!
//! Depth: in the real webview the body is JSON text that Tauri parses with serde_json's
//! recursion limit (128), so a 10,000-deep body is refused before any command runs (the
//! end-to-end test tests/e2e/test_ipc.py sends one from the page). The mock runtime hands an
//! already-built value to the commands and skips that parse, so here every command gets the
//! deepest value a page can deliver (127 levels under the argument object). Handing 10,000
//! levels straight to a command overflows the stack of the async runtime's thread inside serde's
//! recursive `Value` handling; no webview can send that.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod ipc_support;

use behest_desktop::ipc::commands::NAMES;
use ipc_support::{Answer, Harness};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

const SKIP: [&str; 4] = [
    "restart_app",
    "export_to_file",
    "open_external",
    "copy_token",
];

/// Every `kind` a `CommandError` may carry (ipc::error::ErrorKind, serialized).
const KINDS: [&str; 19] = [
    "invalidSettings",
    "unauthorized",
    "forbidden",
    "quotaExceeded",
    "rateLimited",
    "badRequest",
    "notFound",
    "upstream",
    "streamError",
    "network",
    "timeout",
    "protocol",
    "crypto",
    "keyringUnavailable",
    "secretTooLarge",
    "storage",
    "invalidArgument",
    "busy",
    "internal",
];

/// Argument names the commands use, for generated bodies.
const KEYS: [&str; 18] = [
    "requestId",
    "conversationId",
    "request",
    "replaceFrom",
    "onEvent",
    "text",
    "settings",
    "name",
    "value",
    "query",
    "id",
    "draft",
    "title",
    "params",
    "format",
    "install",
    "origins",
    "user",
];

fn fuzzable() -> Vec<&'static str> {
    NAMES
        .iter()
        .copied()
        .filter(|n| !SKIP.contains(n))
        .collect()
}

/// A failure must be a typed `CommandError`.
fn assert_typed(command: &str, args: &str, answer: &Answer) {
    if let Err(error) = answer {
        let kind = error["kind"].as_str().unwrap_or_else(|| {
            panic!("{command} {args}: an untyped error {error}");
        });
        assert!(
            KINDS.contains(&kind),
            "{command} {args}: unknown kind {kind}"
        );
        assert!(error["message"].is_string(), "{command} {args}: {error}");
    }
}

/// Calls every fuzzable command with `value` under every argument name.
fn every_command_with_every_key(h: &Harness, value: &Value, label: &str) {
    for command in fuzzable() {
        let body: Map<String, Value> = KEYS
            .iter()
            .map(|k| (k.to_string(), value.clone()))
            .collect();
        let answer = h.invoke(command, Value::Object(body));
        assert_typed(command, label, &answer);
    }
}

fn assert_alive(h: &Harness) {
    let status = h.invoke("app_status", json!({}));
    assert!(status.is_ok(), "the app still answers: {status:?}");
}

#[test]
fn empty_null_and_wrongly_typed_bodies_get_typed_answers() {
    let h = Harness::demo();
    let bodies = [
        json!(null),
        json!({}),
        json!([]),
        json!("text"),
        json!(7),
        json!({"id": null, "text": 1, "request": [], "settings": false, "onEvent": 5}),
    ];
    for command in fuzzable() {
        for body in &bodies {
            let answer = h.invoke(command, body.clone());
            assert_typed(command, &body.to_string(), &answer);
        }
    }
    assert_alive(&h);
}

#[test]
fn a_ten_megabyte_string_in_every_argument_is_bounded() {
    let h = Harness::demo();
    let big = Value::String("x".repeat(10 << 20));
    every_command_with_every_key(&h, &big, "{every key: 10 MB}");
    assert_alive(&h);
}

#[test]
fn the_deepest_json_a_page_can_send_in_every_argument_is_refused() {
    let h = Harness::demo();
    // The body object is one level; serde_json parses at most 128.
    let deep = (0..126).fold(json!(1), |inner, _| json!([inner]));
    let deep_object = (0..126).fold(json!(1), |inner, _| json!({ "a": inner }));
    let text = serde_json::to_string(&json!({ "text": deep.clone() })).unwrap();
    assert!(
        serde_json::from_str::<Value>(&text).is_ok(),
        "a page can send this much"
    );
    let deeper = format!("{{\"text\":[{text}]}}");
    assert!(
        serde_json::from_str::<Value>(&deeper).is_err(),
        "one level more is refused by the parse Tauri applies to a page's body"
    );
    for value in [&deep, &deep_object] {
        every_command_with_every_key(&h, value, "{every key: 127 deep}");
    }
    assert_alive(&h);
}

/// Small JSON values of every shape.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::String),
        Just(json!("__CHANNEL__:x")),
        Just(json!("md")),
        Just(json!("apiKey")),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    prop::sample::select(KEYS.to_vec()).prop_map(String::from),
                    ".{0,8}"
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// An argument object: some of the commands' real keys (and stray ones) with any values.
fn body() -> impl Strategy<Value = Value> {
    prop::collection::btree_map(
        prop_oneof![
            4 => prop::sample::select(KEYS.to_vec()).prop_map(String::from),
            1 => "[a-zA-Z]{1,10}",
        ],
        json_value(),
        0..6,
    )
    .prop_map(|m| Value::Object(m.into_iter().collect()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn generated_bodies_never_panic_and_fail_typed(
        picks in prop::collection::vec((prop::sample::select(fuzzable()), body()), 1..8)
    ) {
        let h = Harness::demo();
        for (command, args) in &picks {
            let answer = h.invoke(command, args.clone());
            assert_typed(command, &args.to_string(), &answer);
        }
        assert_alive(&h);
    }
}
