//! The `chat` and `cancel_chat` commands on the mock runtime: the Channel's events in order,
//! history recording, regenerate, every error kind with the partial text saved, busy ids,
//! cancellation as an outcome.

mod ipc_support;

use behest_desktop::core::backend::ChatRequestInput;
use behest_desktop::ipc::args::{Arg, ChannelArg};
use behest_desktop::ipc::commands::chat::chat as chat_command;
use behest_desktop::ipc::events::StreamEvent;
use ipc_support::{
    chat_in, chat_request, kind, new_conversation, recording_channel, run_chat, stored_messages,
    Harness,
};
use serde_json::json;

#[test]
fn chat_streams_events_in_order_and_records_history() {
    let h = Harness::demo();
    let conversation = new_conversation(&h);
    let (result, events) = chat_in(&h, "r1", &conversation, "hello");
    let summary = result.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(summary["conversationId"], conversation.as_str());
    assert_eq!(summary["interrupted"], false);
    assert_eq!(
        summary["events"].as_u64(),
        Some(events.len() as u64),
        "the answer counts the Channel messages sent before it"
    );
    let names: Vec<&str> = events.iter().filter_map(|e| e["event"].as_str()).collect();
    assert_eq!(names.first(), Some(&"started"));
    assert_eq!(names.last(), Some(&"done"));
    assert!(names.contains(&"delta") && names.contains(&"usage"));
    let text: String = events
        .iter()
        .filter(|e| e["event"] == "delta")
        .filter_map(|e| e["data"]["text"].as_str())
        .collect();
    assert!(text.contains("> hello"), "{text}");
    let done = events.last().cloned().unwrap_or_default();
    assert!(done["data"]["ttftMs"].is_u64());
    let messages = stored_messages(&h, &conversation);
    assert_eq!(messages.len(), 2);
    assert_eq!(
        messages[1]["content"].as_str(),
        Some(text.as_str()),
        "what was shown is what was saved"
    );
    assert_eq!(messages[1]["status"], "complete");
}

#[test]
fn chat_regenerate_replaces_the_tail_of_the_conversation() {
    let h = Harness::demo();
    let conversation = new_conversation(&h);
    let (first, _) = chat_in(&h, "a", &conversation, "one");
    let user_id = first.unwrap_or_else(|e| panic!("{e}"))["userMessageId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (again, _) = run_chat(
        &h,
        "b",
        Some(conversation.clone()),
        chat_request("one, edited"),
        Some(user_id),
    );
    assert!(again.is_ok());
    let messages = stored_messages(&h, &conversation);
    assert_eq!(
        messages.len(),
        2,
        "the old exchange was replaced, not appended to"
    );
    assert_eq!(messages[0]["content"], "one, edited");
}

#[test]
fn chat_error_kinds_reach_the_ui_typed_with_the_partial_text_saved() {
    let h = Harness::demo();
    let conversation = new_conversation(&h);
    for (status, want) in [
        (402, "quotaExceeded"),
        (403, "forbidden"),
        (400, "badRequest"),
    ] {
        h.fault(json!({"status": status}), 1);
        let (result, events) = chat_in(&h, &format!("s{status}"), &conversation, "x");
        assert_eq!(kind(&result), want, "status {status}");
        assert!(
            result
                .as_ref()
                .err()
                .and_then(|e| e["traceId"].as_str())
                .is_some(),
            "trace id for {status}"
        );
        assert!(events.is_empty(), "nothing streamed before a {status}");
    }
    h.fault(json!({"status": 401}), 2);
    let (result, _) = chat_in(&h, "u401", &conversation, "x");
    assert_eq!(kind(&result), "unauthorized");

    h.fault(json!({"error_after": 5}), 1);
    let (result, events) = chat_in(&h, "mid", &conversation, "x");
    assert_eq!(kind(&result), "streamError");
    assert!(
        events.iter().any(|e| e["event"] == "delta"),
        "text arrived before the error"
    );
    assert_eq!(
        result.as_ref().err().and_then(|e| e["events"].as_u64()),
        Some(events.len() as u64),
        "the error counts the Channel messages sent before it"
    );
    let last = stored_messages(&h, &conversation)
        .last()
        .cloned()
        .unwrap_or_default();
    assert_eq!(last["status"], "error");
    assert_eq!(last["errorKind"], "streamError");
    assert!(
        !last["content"].as_str().unwrap_or("").is_empty(),
        "the partial answer is saved"
    );
}

#[test]
fn chat_broken_stream_is_an_interrupted_outcome_not_an_error() {
    let h = Harness::demo();
    h.fault(json!({"reset_after": 4}), 1);
    let (result, events) = run_chat(&h, "cut", None, chat_request("x"), None);
    let summary = result.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(summary["interrupted"], true);
    assert_eq!(
        events.last().map(|e| e["event"].clone()),
        Some(json!("interrupted"))
    );
}

#[test]
fn chat_busy_and_cancel() {
    let h = Harness::demo();
    h.fault(json!({"stall_after": 3}), 1);
    let state = h.app.handle().clone();
    let first = std::thread::spawn(move || {
        use tauri::Manager;
        let (channel, _) = recording_channel::<StreamEvent>();
        let request: ChatRequestInput =
            serde_json::from_value(chat_request("x")).unwrap_or_else(|e| panic!("{e}"));
        tauri::async_runtime::block_on(chat_command(
            state.state(),
            Arg::of("same".into()),
            Arg::of(None),
            Arg::of(request),
            Arg::of(None),
            ChannelArg::of(channel),
        ))
        .map(|s| s.summary.interrupted)
    });
    // Poll with an invalid request under the same id: it answers `busy` once the stalled chat is
    // registered, and `invalidArgument` (without sending anything) before.
    let mut cancelled = false;
    for _ in 0..500 {
        let busy = run_chat(&h, "same", None, json!({"messages": []}), None).0;
        if busy.as_ref().err().is_some_and(|e| e["kind"] == "busy") {
            cancelled = h.invoke("cancel_chat", json!({"requestId": "same"})) == Ok(json!(true));
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(
        cancelled,
        "the running chat was seen as busy, then cancelled"
    );
    let outcome = first
        .join()
        .unwrap_or_else(|_| panic!("chat thread panicked"));
    assert_eq!(
        outcome.ok(),
        Some(true),
        "a cancel is an interrupted outcome"
    );
    assert_eq!(
        h.invoke("cancel_chat", json!({"requestId": "same"})),
        Ok(json!(false)),
        "idempotent"
    );
}

#[test]
fn chat_rejects_requests_that_do_not_end_with_a_user_message() {
    let h = Harness::demo();
    let (result, _) = run_chat(
        &h,
        "r",
        None,
        json!({"messages": [{"role": "assistant", "content": "hi"}]}),
        None,
    );
    assert_eq!(kind(&result), "invalidArgument");
    let (result, _) = run_chat(
        &h,
        "r2",
        None,
        json!({"messages": [{"role": "tool", "content": "x"}, {"role": "user", "content": "x"}]}),
        None,
    );
    assert_eq!(kind(&result), "invalidArgument");
}
