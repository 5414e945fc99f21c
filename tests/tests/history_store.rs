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
