//! Export (Markdown, JSON) and import: the JSON round-trips exactly and importing is idempotent.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod history_common;

use behest_desktop::core::history::{
    ExportFormat, ImportReport, Status, HISTORY_FORMAT, HISTORY_FORMAT_VERSION,
};
use behest_desktop::core::Error;
use history_common::{open, seed};

#[test]
fn export_then_import_into_a_fresh_history_round_trips_exactly() {
    let a = tempfile::tempdir().unwrap();
    let source = open(a.path());
    seed(&source);
    let exported = source.export(None, ExportFormat::Json).unwrap();

    let value: serde_json::Value = serde_json::from_str(&exported).unwrap();
    assert_eq!(value["format"], HISTORY_FORMAT);
    assert_eq!(value["version"], HISTORY_FORMAT_VERSION);
    assert_eq!(value["conversations"].as_array().unwrap().len(), 3);

    let b = tempfile::tempdir().unwrap();
    let target = open(b.path());
    let report = target.import_json(&exported).unwrap();
    assert_eq!(
        report,
        ImportReport {
            conversations_added: 3,
            messages_added: 8,
            messages_skipped: 0
        }
    );
    assert_eq!(target.export(None, ExportFormat::Json).unwrap(), exported);
    // The imported rows are searchable and complete, metrics and thread ids included.
    assert_eq!(target.search("tōkyō", 5).unwrap().len(), 1);
    let ids: Vec<String> = source
        .list_conversations()
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    for id in ids {
        assert_eq!(
            target.get_conversation(&id).unwrap(),
            source.get_conversation(&id).unwrap()
        );
    }
}

#[test]
fn importing_twice_adds_nothing() {
    let a = tempfile::tempdir().unwrap();
    let source = open(a.path());
    seed(&source);
    let exported = source.export(None, ExportFormat::Json).unwrap();
    let b = tempfile::tempdir().unwrap();
    let target = open(b.path());
    target.import_json(&exported).unwrap();
    let after_first = target.export(None, ExportFormat::Json).unwrap();
    let second = target.import_json(&exported).unwrap();
    assert_eq!(
        second,
        ImportReport {
            conversations_added: 0,
            messages_added: 0,
            messages_skipped: 8
        }
    );
    assert_eq!(
        target.export(None, ExportFormat::Json).unwrap(),
        after_first
    );
    // Importing into the history it came from is a no-op too.
    assert_eq!(source.import_json(&exported).unwrap().messages_added, 0);
    assert_eq!(source.message_count().unwrap(), 8);
}

#[test]
fn one_conversation_exports_alone_in_both_formats() {
    let dir = tempfile::tempdir().unwrap();
    let history = open(dir.path());
    let ids = seed(&history);
    let json = history.export(Some(&ids[2]), ExportFormat::Json).unwrap();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    let conversations = value["conversations"].as_array().unwrap();
    assert_eq!(conversations.len(), 1);
    let answer = &conversations[0]["messages"][1];
    assert_eq!(answer["status"], "error");
    assert_eq!(answer["error_kind"], "rateLimited");
    assert_eq!(answer["trace_id"], "tr-429");
    assert_eq!(answer["content"], "partial ");

    let md = history.export(Some(&ids[0]), ExportFormat::Md).unwrap();
    assert!(md.starts_with("# How do lighthouses work?\n"));
    assert!(md.contains("A lamp and a Fresnel lens focus light."));
    assert!(md.contains("· interrupted"));
    assert!(md.contains("  > Be brief."));
    assert!(!md.contains("Übersetze"));
    let all = history.export(None, ExportFormat::Md).unwrap();
    assert_eq!(all.matches("\n---\n").count(), 2);

    assert!(matches!(
        history.export(Some("no-such-id"), ExportFormat::Md),
        Err(Error::InvalidInput { .. })
    ));
}

#[test]
fn a_streaming_answer_is_imported_as_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let history = open(dir.path());
    seed(&history);
    let mut json: serde_json::Value =
        serde_json::from_str(&history.export(None, ExportFormat::Json).unwrap()).unwrap();
    json["conversations"][0]["messages"][1]["status"] = "streaming".into();
    let id = json["conversations"][0]["messages"][1]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let fresh = tempfile::tempdir().unwrap();
    let target = open(fresh.path());
    target.import_json(&json.to_string()).unwrap();
    assert_eq!(target.message(&id).unwrap().status, Status::Interrupted);
}

#[test]
fn malformed_files_are_rejected_whole_as_invalid_input() {
    let dir = tempfile::tempdir().unwrap();
    let history = open(dir.path());
    seed(&history);
    let good: serde_json::Value =
        serde_json::from_str(&history.export(None, ExportFormat::Json).unwrap()).unwrap();
    let fresh = tempfile::tempdir().unwrap();
    let target = open(fresh.path());

    let mut cases: Vec<String> = vec!["".into(), "not json".into(), "[]".into(), "{}".into()];
    let mut wrong_format = good.clone();
    wrong_format["format"] = "chatbox-backup".into();
    let mut newer = good.clone();
    newer["version"] = (HISTORY_FORMAT_VERSION + 1).into();
    let mut bad_role = good.clone();
    bad_role["conversations"][1]["messages"][0]["role"] = "wizard".into();
    let mut bad_time = good.clone();
    bad_time["conversations"][2]["messages"][1]["created_at"] = "yesterday".into();
    let mut empty_id = good.clone();
    empty_id["conversations"][2]["id"] = "".into();
    for v in [wrong_format, newer, bad_role, bad_time, empty_id] {
        cases.push(v.to_string());
    }
    for case in &cases {
        let err = target.import_json(case).unwrap_err();
        assert!(
            matches!(err, Error::InvalidInput { .. }),
            "{case:.60}: {err:?}"
        );
    }
    // Nothing was half-imported: a bad message in conversation 2 did not leave conversation 1.
    assert_eq!(target.message_count().unwrap(), 0);
    assert!(target.list_conversations().unwrap().is_empty());
}

#[test]
fn export_to_file_replaces_the_target_whole_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let history = open(dir.path());
    let ids = seed(&history);
    let out = dir.path().join("out.md");
    std::fs::write(&out, "previous export").unwrap();
    assert!(matches!(
        history.export_to_file(Some("nope"), ExportFormat::Md, &out),
        Err(Error::InvalidInput { .. })
    ));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "previous export");
    history
        .export_to_file(Some(&ids[0]), ExportFormat::Md, &out)
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        history.export(Some(&ids[0]), ExportFormat::Md).unwrap()
    );
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");
}

#[tokio::test]
async fn async_callers_go_through_spawn_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let history = open(dir.path());
    seed(&history);
    let list = history.call(|h| h.list_conversations()).await.unwrap();
    assert_eq!(list.len(), 3);
    let err = history
        .call(|h| h.get_conversation("nope"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }));
}
