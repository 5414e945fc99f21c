//! `behest-desktop history ...` run as a process against a history in a temp dir.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod history_common;

use std::path::Path;
use std::process::{Command, Output};

use behest_desktop_tests::app_binary;
use history_common::{open, seed};

fn history_cmd(dir: &Path, args: &[&str]) -> Output {
    Command::new(app_binary())
        .arg("history")
        .args(args)
        .env("BEHEST_DATA_DIR", dir)
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn list_search_show_export_import() {
    let dir = tempfile::tempdir().unwrap();
    let ids = {
        let history = open(dir.path());
        seed(&history)
    };

    let list = history_cmd(dir.path(), &["list", "--json"]);
    assert!(
        list.status.success(),
        "{}",
        String::from_utf8_lossy(&list.stderr)
    );
    let list: serde_json::Value = serde_json::from_str(&stdout(&list)).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 3);
    let plain = history_cmd(dir.path(), &["list"]);
    assert_eq!(stdout(&plain).lines().count(), 3);

    let search = history_cmd(dir.path(), &["search", "fresnel lens", "--json"]);
    assert!(search.status.success());
    let hits: serde_json::Value = serde_json::from_str(&stdout(&search)).unwrap();
    assert_eq!(hits[0]["conversation_id"], ids[0].as_str());
    let text = history_cmd(dir.path(), &["search", "NEAR(\"fresnel"]);
    assert!(
        text.status.success(),
        "FTS syntax must not leak into queries"
    );

    let show = history_cmd(dir.path(), &["show", &ids[0], "--json"]);
    let shown: serde_json::Value = serde_json::from_str(&stdout(&show)).unwrap();
    assert_eq!(shown["messages"].as_array().unwrap().len(), 4);
    let md = history_cmd(dir.path(), &["show", &ids[0]]);
    assert!(stdout(&md).starts_with("# How do lighthouses work?"));

    // Export to a file, import into a fresh data dir (twice), export again: same bytes.
    let out = dir.path().join("export.json");
    let export = history_cmd(
        dir.path(),
        &[
            "export",
            "--format",
            "json",
            "--output",
            out.to_str().unwrap(),
        ],
    );
    assert!(export.status.success());
    assert!(export.stdout.is_empty());
    let to_stdout = history_cmd(dir.path(), &["export", "--format", "json"]);
    assert_eq!(std::fs::read(&out).unwrap(), to_stdout.stdout);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    let fresh = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let import = history_cmd(fresh.path(), &["import", out.to_str().unwrap()]);
        assert!(
            import.status.success(),
            "{}",
            String::from_utf8_lossy(&import.stderr)
        );
    }
    let again = history_cmd(fresh.path(), &["export", "--format", "json"]);
    assert_eq!(again.stdout, to_stdout.stdout);
    let one = history_cmd(
        dir.path(),
        &["export", "--conversation", &ids[1], "--format", "md"],
    );
    assert!(stdout(&one).contains("Tōkyō"));
}

#[test]
fn bad_input_exits_2_and_storage_errors_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path()));
    assert_eq!(
        history_cmd(dir.path(), &["show", "no-such-id"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        history_cmd(
            dir.path(),
            &["export", "--conversation", "nope", "--format", "md"]
        )
        .status
        .code(),
        Some(2)
    );
    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, "{\"format\":\"other\"}").unwrap();
    assert_eq!(
        history_cmd(dir.path(), &["import", junk.to_str().unwrap()])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        history_cmd(dir.path(), &["import", "/nonexistent/file.json"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        history_cmd(dir.path(), &["export", "--format", "pdf"])
            .status
            .code(),
        Some(2)
    );

    // A data dir that is a file: the database cannot be created there.
    let not_a_dir = dir.path().join("plain-file");
    std::fs::write(&not_a_dir, "x").unwrap();
    assert_eq!(history_cmd(&not_a_dir, &["list"]).status.code(), Some(1));
}
