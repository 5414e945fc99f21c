//! Conversations and messages: create, list with previews, rename, parameters, server
//! threads, delete; and full-text search with ranking, highlights and hostile queries.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod history_common;

use behest_desktop::core::history::{ChatParams, Outcome, Role, Status};
use behest_desktop::core::Error;
use history_common::{completed, exchange, metrics, open, params, seed};
use proptest::prelude::*;

#[test]
fn conversations_are_listed_newest_first_with_a_preview() {
    let dir = tempfile::tempdir().unwrap();
    let history = open(dir.path());
    let ids = seed(&history);
    let empty = history
        .create_conversation("  Empty one ", ChatParams::default())
        .unwrap();
    assert_eq!(empty.title, "Empty one");
    let list = history.list_conversations().unwrap();
    assert_eq!(list.len(), 4);
    assert!(list.windows(2).all(|w| w[0].updated_at >= w[1].updated_at));
    let first = list.iter().find(|c| c.id == ids[0]).unwrap();
    assert_eq!(first.message_count, 4);
    assert_eq!(first.preview, "They sound when visibility drops");
    assert_eq!(first.model.as_deref(), Some("behest-small"));
    let e = list.iter().find(|c| c.id == empty.id).unwrap();
    assert_eq!((e.message_count, e.preview.as_str()), (0, ""));

    // A new message moves its conversation to the top.
    exchange(
        &history,
        Some(&ids[1]),
        "more",
        "sure",
        Outcome::Complete(metrics()),
    );
    assert_eq!(history.list_conversations().unwrap()[0].id, ids[1]);
}

/// Many changes inside one millisecond (CI machines are fast enough for several): the list
/// still follows the order of the changes, not the order of the random ids.
#[test]
fn same_millisecond_changes_keep_the_last_touched_first() {
    let dir = tempfile::tempdir().unwrap();
    let history = open(dir.path());
    let created: Vec<String> = (0..20)
        .map(|i| {
            history
                .create_conversation(&format!("c{i}"), ChatParams::default())
                .unwrap()
                .id
        })
        .collect();
    let listed = || -> Vec<String> {
        let list = history.list_conversations().unwrap();
        list.into_iter().map(|c| c.id).collect()
    };
    let newest_first: Vec<String> = created.iter().rev().cloned().collect();
    assert_eq!(listed(), newest_first);
    // Rename them newest-created first: the order flips.
    for (i, id) in created.iter().enumerate().rev() {
        history.rename_conversation(id, &format!("r{i}")).unwrap();
    }
    assert_eq!(listed(), created);
    history.rename_conversation(&created[19], "top").unwrap();
    assert_eq!(listed()[0], created[19]);
}

#[test]
fn rename_params_threads_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let history = open(dir.path());
    let ids = seed(&history);
    let before = history.conversation(&ids[0]).unwrap();
    let renamed = history.rename_conversation(&ids[0], "Lighthouses").unwrap();
    assert_eq!(renamed.title, "Lighthouses");
    assert!(renamed.updated_at >= before.updated_at);

    let p = ChatParams {
        model: Some("behest-large".into()),
        system_prompt: None,
        temperature: Some(0.0),
        max_tokens: None,
    };
    assert_eq!(history.set_params(&ids[0], &p).unwrap().params, p);

    // Threads: off by default, an id picked when turned on and kept across off/on.
    assert_eq!(history.conversation(&ids[0]).unwrap().thread_header(), None);
    let on = history.set_server_threads(&ids[0], true).unwrap();
    let thread = on.thread_header().unwrap().to_string();
    assert!(thread.starts_with("thread_"));
    assert_eq!(
        history
            .set_server_threads(&ids[0], false)
            .unwrap()
            .thread_header(),
        None
    );
    assert_eq!(
        history
            .set_server_threads(&ids[0], true)
            .unwrap()
            .thread_header(),
        Some(thread.as_str())
    );

    assert_eq!(history.search("fresnel", 5).unwrap().len(), 1);
    history.delete_conversation(&ids[0]).unwrap();
    assert!(
        history.search("fresnel", 5).unwrap().is_empty(),
        "deleted text still searchable"
    );
    assert_eq!(history.message_count().unwrap(), 4);
    for result in [
        history.delete_conversation(&ids[0]).map(|_| ()),
        history.rename_conversation("nope", "x").map(|_| ()),
        history.set_params("nope", &p).map(|_| ()),
        history.get_conversation("nope").map(|_| ()),
        history
            .begin_exchange_blocking(Some("nope"), "hi", &params())
            .map(|_| ()),
    ] {
        assert!(
            matches!(result, Err(Error::InvalidInput { .. })),
            "{result:?}"
        );
    }
}

#[test]
fn an_exchange_records_question_then_answer_with_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let history = open(dir.path());
    let answer = completed(
        &history,
        "\n  First line of a long question that goes on and on and on forever\nsecond",
        "ok",
    );
    assert_eq!(answer.status, Status::Complete);
    assert_eq!(answer.metrics, metrics());
    assert_eq!(answer.model.as_deref(), Some("behest-small"));
    let c = history.get_conversation(&answer.conversation_id).unwrap();
    assert_eq!(
        c.conversation.title,
        "First line of a long question that goes on and on and on for…"
    );
    assert_eq!(c.conversation.params, params());
    assert_eq!(
        c.messages.iter().map(|m| m.role).collect::<Vec<_>>(),
        [Role::User, Role::Assistant]
    );

    // Errors keep their kind, message and the partial text.
    let failed = exchange(
        &history,
        Some(&answer.conversation_id),
        "again",
        "half an ans",
        Outcome::failed(
            &Error::Network("connection reset".into()),
            Default::default(),
        ),
    );
    assert_eq!(failed.status, Status::Error);
    assert_eq!(failed.error_kind.as_deref(), Some("network"));
    assert_eq!(failed.content, "half an ans");
}

#[test]
fn a_writer_dropped_unfinished_keeps_its_text_as_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let history = open(dir.path());
    let mut writer = history
        .begin_exchange_blocking(None, "q", &params())
        .unwrap();
    writer.append("kept even though ").unwrap();
    writer.append("nobody called finish").unwrap();
    let id = writer.message_id().to_string();
    drop(writer);
    let m = history.message(&id).unwrap();
    assert_eq!(m.status, Status::Interrupted);
    assert_eq!(m.content, "kept even though nobody called finish");
}

#[test]
fn search_ranks_highlights_and_scopes() {
    let dir = tempfile::tempdir().unwrap();
    let history = open(dir.path());
    seed(&history);
    let once = completed(&history, "rust", "Rust has ownership.");
    let many = completed(&history, "more rust", "Rust rust rust: borrowing in Rust.");
    let hits = history.search("rust", 10).unwrap();
    assert_eq!(hits.len(), 4); // two questions, two answers
    assert!(hits.windows(2).all(|w| w[0].rank <= w[1].rank));
    let pos = |id: &str| hits.iter().position(|h| h.message_id == id).unwrap();
    assert!(
        pos(&many.id) < pos(&once.id),
        "bm25 must rank the denser match first"
    );
    let best = &hits[pos(&many.id)];
    assert_eq!(best.conversation_title, "more rust");
    assert!(best.snippet.iter().any(|p| p.highlight && p.text == "Rust"));
    assert_eq!(
        best.snippet_marked("[", "]"),
        "[Rust] [rust] [rust]: borrowing in [Rust]."
    );
    // Terms are ANDed; the last is a prefix; diacritics fold.
    assert_eq!(history.search("rust borrow", 10).unwrap().len(), 1);
    assert_eq!(history.search("cafe", 10).unwrap().len(), 1);
    assert!(history.search("   ", 10).unwrap().is_empty());
    assert_eq!(history.search("rust", 1).unwrap().len(), 1);
}

#[test]
fn fts_syntax_in_user_queries_is_never_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let history = open(dir.path());
    seed(&history);
    for q in [
        "\"",
        "\"\"",
        "a\"b",
        "NEAR(a b)",
        "a OR b",
        "AND",
        "-x",
        "*",
        "^start",
        "col:term",
        "(",
        ")",
        "{a b}",
        "a + b",
        "'",
        "\\",
        "\0",
    ] {
        history
            .search(q, 10)
            .unwrap_or_else(|e| panic!("{q:?}: {e}"));
    }
    assert_eq!(history.search("\"this\"", 10).unwrap().len(), 1);
    proptest!(ProptestConfig::with_cases(300), |(q in "\\PC{0,24}")| {
        prop_assert!(history.search(&q, 5).is_ok());
    });
}

/// A conversation of `n` exchanges `q{i}` / `a{i}` with a system message first, imported the way
/// a restored backup brings one in (the app itself never stores system messages).
fn imported_dialogue(history: &behest_desktop::core::history::History, n: usize) -> String {
    let id = "6f1c2d3e-0000-4000-8000-000000000001";
    let message = |i: usize, role: &str, content: String| {
        serde_json::json!({
            "id": format!("6f1c2d3e-0000-4000-8000-1{i:011}"), "role": role, "content": content,
            "model": null, "created_at": format!("2026-11-01T10:00:{:02}.000Z", i % 60),
            "status": "complete", "error_kind": null, "error_message": null, "usage": null,
            "ttft_ms": null, "tokens_per_second": null, "trace_id": null,
        })
    };
    let mut messages = vec![message(0, "system", "Be brief.".into())];
    for i in 0..n {
        messages.push(message(messages.len(), "user", format!("q{i}")));
        messages.push(message(messages.len(), "assistant", format!("a{i}")));
    }
    let export = serde_json::json!({
        "format": "behest-desktop-history", "version": 1,
        "conversations": [{
            "id": id, "title": "paged", "model": null, "system_prompt": null,
            "temperature": null, "max_tokens": null, "server_threads": false,
            "server_thread_id": null, "created_at": "2026-11-01T10:00:00.000Z",
            "updated_at": "2026-11-01T10:00:59.000Z", "messages": messages,
        }],
    });
    history.import_json(&export.to_string()).unwrap();
    id.to_string()
}

#[test]
fn the_dialogue_comes_a_page_at_a_time_latest_first_without_system_messages() {
    let dir = tempfile::tempdir().unwrap();
    let history = open(dir.path());
    let id = imported_dialogue(&history, 5);
    let texts = |page: &behest_desktop::core::history::DialoguePage| {
        page.messages
            .iter()
            .map(|m| m.content.clone())
            .collect::<Vec<_>>()
    };

    let all = history.dialogue(&id, None, None).unwrap();
    assert_eq!(
        texts(&all).len(),
        10,
        "the system message is not part of it"
    );
    assert_eq!(all.earlier, 0);
    assert_eq!(all.conversation.title, "paged");

    let latest = history.dialogue(&id, None, Some(4)).unwrap();
    assert_eq!(texts(&latest), ["q3", "a3", "q4", "a4"]);
    assert_eq!(latest.earlier, 6);

    let before = history
        .dialogue(&id, Some(&latest.messages[0].id), Some(4))
        .unwrap();
    assert_eq!(texts(&before), ["q1", "a1", "q2", "a2"]);
    assert_eq!(before.earlier, 2);

    let first = history
        .dialogue(&id, Some(&before.messages[0].id), Some(4))
        .unwrap();
    assert_eq!(texts(&first), ["q0", "a0"], "fewer than asked at the start");
    assert_eq!(first.earlier, 0);
    let none = history
        .dialogue(&id, Some(&first.messages[0].id), None)
        .unwrap();
    assert!(none.messages.is_empty() && none.earlier == 0);

    // `before` must be a message of this conversation; an unknown conversation is an error too.
    let other = completed(&history, "elsewhere", "there");
    for before in [other.id.as_str(), "no-such-message"] {
        let error = history.dialogue(&id, Some(before), None).unwrap_err();
        assert!(
            matches!(&error, Error::InvalidInput { what, .. } if what == "before"),
            "{error:?}"
        );
    }
    assert!(matches!(
        history.dialogue("no-such-conversation", None, None),
        Err(Error::InvalidInput { .. })
    ));
}
