//! The `chat` and `cancel_chat` commands on the mock runtime: the Channel's events in order,
//! history recording, regenerate, every error kind with the partial text saved, busy ids,
//! cancellation as an outcome.

mod ipc_support;

use behest_desktop::core::backend::ChatRequestInput;
use behest_desktop::ipc::args::{Arg, ChannelArg};
use behest_desktop::ipc::commands::chat::chat as chat_command;
use behest_desktop::ipc::events::StreamEvent;
use ipc_support::{
    answered, chat_in, chat_request, kind, new_conversation, next_message, recording_channel,
    run_chat, stored_messages, Harness,
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
    let user_id = answered(&first, "userMessageId");
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

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(role, text)| (role.to_string(), text.to_string()))
        .collect()
}

#[test]
fn chat_with_only_the_new_message_sends_the_stored_conversation_first() {
    let h = Harness::demo();
    // A new conversation: the request is the system prompt and the message.
    let (first, _) = run_chat(
        &h,
        "a",
        None,
        json!({"message": "one", "systemPrompt": "Be brief."}),
        None,
    );
    let conversation = answered(&first, "conversationId");
    assert_eq!(
        h.last_chat_sent(),
        pairs(&[("system", "Be brief."), ("user", "one")])
    );
    let answer_one = stored_messages(&h, &conversation)[1]["content"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(answer_one.contains("> one"), "{answer_one}");

    // An answer that failed before its first word is saved without text and left out.
    h.fault(json!({"status": 400}), 1);
    let (failed, _) = run_chat(
        &h,
        "b",
        Some(conversation.clone()),
        next_message("two"),
        None,
    );
    assert_eq!(kind(&failed), "badRequest");
    // A blank system prompt is no system message.
    let (third, _) = run_chat(
        &h,
        "c",
        Some(conversation.clone()),
        json!({"message": "three", "systemPrompt": "  "}),
        None,
    );
    let third = third.unwrap_or_else(|e| panic!("{e}"));
    let so_far = [("user", "one"), ("assistant", &answer_one), ("user", "two")];
    assert_eq!(
        h.last_chat_sent(),
        pairs(&[&so_far[..], &[("user", "three")]].concat())
    );

    // Edit and resend: the replaced message and everything after it are not sent.
    let replaced = third["userMessageId"].as_str().map(str::to_string);
    let (edited, _) = run_chat(
        &h,
        "d",
        Some(conversation.clone()),
        next_message("three, edited"),
        replaced,
    );
    assert!(edited.is_ok(), "{edited:?}");
    assert_eq!(
        h.last_chat_sent(),
        pairs(&[&so_far[..], &[("user", "three, edited")]].concat())
    );
    let stored: Vec<String> = stored_messages(&h, &conversation)
        .iter()
        .map(|m| m["content"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(stored.len(), 6, "{stored:?}");
    assert_eq!(stored[4], "three, edited");
}

#[test]
fn chat_refuses_malformed_requests_before_anything_is_sent_or_stored() {
    let h = Harness::demo();
    let conversation = new_conversation(&h);
    let (kept, _) = chat_in(&h, "k", &conversation, "kept");
    let kept_id = answered(&kept, "userMessageId");
    let other = new_conversation(&h);
    for (request, replace_from, named) in [
        (
            json!({"messages": [{"role": "assistant", "content": "hi"}]}),
            None,
            "must end with a non-empty user message",
        ),
        (
            json!({"messages": [{"role": "tool", "content": "x"}, {"role": "user", "content": "x"}]}),
            None,
            "role must be",
        ),
        (json!({}), None, "messages"),
        (
            json!({"message": "x", "messages": [{"role": "user", "content": "x"}]}),
            None,
            "not both",
        ),
        (json!({"message": " \n "}), None, "message is empty"),
        (
            json!({"messages": [{"role": "user", "content": "x"}], "systemPrompt": "s"}),
            None,
            "systemPrompt",
        ),
        // A message of another conversation to replace from: refused before anything is deleted.
        (next_message("x"), Some(kept_id.clone()), "replaceFrom"),
    ] {
        let target = if replace_from.is_some() {
            &other
        } else {
            &conversation
        };
        let (result, events) = run_chat(
            &h,
            "bad",
            Some(target.clone()),
            request.clone(),
            replace_from,
        );
        assert_eq!(kind(&result), "invalidArgument", "{request}");
        let message = result
            .as_ref()
            .err()
            .and_then(|e| e["message"].as_str())
            .unwrap_or_default()
            .to_string();
        assert!(message.contains(named), "{request}: {message}");
        assert!(events.is_empty(), "{request}: nothing streamed");
    }
    assert_eq!(stored_messages(&h, &conversation).len(), 2, "nothing lost");
    assert!(stored_messages(&h, &other).is_empty(), "nothing recorded");
}
