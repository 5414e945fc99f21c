//! Saving an export to a file the user chose, with real files in temp directories: the target is
//! replaced whole, a missing folder is a typed error that leaves nothing behind, and the
//! suggested file name comes from the conversation's title.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod history_common;

use std::path::Path;

use behest_desktop::core::history::export_file::{save_export, write_atomically};
use behest_desktop::core::history::ExportFormat;
use behest_desktop::core::Error;
use history_common::{open, seed};

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}

#[test]
fn an_existing_target_is_replaced_whole() {
    let dir = tempfile::tempdir().unwrap();
    let history = open(&dir.path().join("data"));
    let ids = seed(&history);
    let out_dir = dir.path().join("exports");
    std::fs::create_dir(&out_dir).unwrap();
    let target = out_dir.join("Lighthouses.md");
    // Longer than the new export: a write in place would leave its tail behind.
    let old = "x".repeat(64 * 1024);
    std::fs::write(&target, &old).unwrap();

    let document = history
        .export_document(Some(&ids[0]), ExportFormat::Md)
        .unwrap();
    assert!(document.text.len() < old.len());
    let saved = save_export(target.clone(), &document.text).unwrap();

    assert_eq!(saved.path, target);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), document.text);
    assert_eq!(saved.bytes, std::fs::metadata(&target).unwrap().len());
    assert!(document.text.contains("How do lighthouses work?"));
    assert_eq!(
        names_in(&out_dir),
        vec!["Lighthouses.md"],
        "no temporary file left"
    );
}

#[test]
fn a_missing_folder_is_a_typed_error_and_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let history = open(&dir.path().join("data"));
    let ids = seed(&history);
    let before = names_in(dir.path());
    let missing = dir.path().join("no-such-folder");
    let document = history
        .export_document(Some(&ids[1]), ExportFormat::Json)
        .unwrap();

    let error = save_export(missing.join("out.json"), &document.text).unwrap_err();

    match &error {
        Error::Io(io) => assert_eq!(io.kind(), std::io::ErrorKind::NotFound),
        other => panic!("expected an i/o error, got {other:?}"),
    }
    assert!(!missing.exists(), "the folder was not created");
    assert_eq!(names_in(dir.path()), before, "nothing was left behind");
}

#[test]
fn a_folder_in_the_way_is_an_error_and_stays_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("taken.md");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("inside.txt"), "keep me").unwrap();

    assert!(matches!(
        write_atomically(&target, b"export"),
        Err(Error::Io(_))
    ));
    assert_eq!(
        std::fs::read_to_string(target.join("inside.txt")).unwrap(),
        "keep me"
    );
    assert_eq!(
        names_in(dir.path()),
        vec!["taken.md"],
        "no temporary file left"
    );
}

#[test]
fn documents_suggest_a_name_and_unknown_ids_fail_first() {
    let dir = tempfile::tempdir().unwrap();
    let history = open(dir.path());
    let ids = seed(&history);

    let one = history
        .export_document(Some(&ids[2]), ExportFormat::Json)
        .unwrap();
    // The title `Quote "this" and 'that'` has a character Windows refuses in file names.
    assert_eq!(one.file_name, "Quote -this- and 'that'.json");
    assert_eq!(
        one.text,
        history.export(Some(&ids[2]), ExportFormat::Json).unwrap()
    );

    let all = history.export_document(None, ExportFormat::Md).unwrap();
    assert!(
        all.file_name.starts_with("behest-history-") && all.file_name.ends_with(".md"),
        "{}",
        all.file_name
    );
    assert_eq!(all.text, history.export(None, ExportFormat::Md).unwrap());

    assert!(matches!(
        history.export_document(Some("no-such-id"), ExportFormat::Md),
        Err(Error::InvalidInput { .. })
    ));
}
