//! The headless `chat` records its exchange in the app's history (issue 5 item 7), and chats in
//! a conversation with server threads on send `X-Thread-Id` (the CLI and the app's backend):
//! real processes, real SQLite files in temp dirs, the gateway over loopback.
//!
//! Needs the app binary: `cargo build -p behest-desktop` first.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod chat_support;

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use behest_desktop::core::backend::{Backend, BackendOptions, ChatInput, DemoOptions};
use behest_desktop::core::config::{Env, Settings};
use behest_desktop::core::gateway::responder::demo_text;
use behest_desktop::core::gateway::{Fault, GatewayHandle, Route};
use behest_desktop::core::history::{
    ChatParams, History, HistoryOptions, HistoryPaths, Role, Status,
};
use behest_desktop::core::http::{build_client, HttpOptions};
use behest_desktop::core::protocol::chat::ChatMessage;
use behest_desktop::core::secrets::MemoryStore;
use behest_desktop_tests::app_binary;
use chat_support::{chats_seen, first_chat, gateway, gateway_with, run, Run};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Command;

/// A `chat` command for `gw` in API-key mode, with its history in `home/data`.
fn command(gw: &GatewayHandle, home: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(app_binary());
    cmd.env_clear()
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("BEHEST_DATA_DIR", home.join("data"))
        .env(
            "BEHEST_KEYRING_SERVICE",
            format!("behest-test-{}", uuid::Uuid::new_v4()),
        )
        .env("BEHEST_BASE_URL", gw.base_url())
        .env("BEHEST_KEY", gw.credentials().api_key.expose())
        .arg("chat")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// Runs `chat` for `gw` with `args` and its history in `home/data`.
async fn run_chat(gw: &GatewayHandle, home: &Path, args: &[&str]) -> Run {
    run(command(gw, home, args), "").await
}

/// The id from the `conversation: ID` line on stderr.
fn conversation_id(stderr: &str) -> String {
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("conversation: "))
        .unwrap_or_else(|| panic!("no conversation line in: {stderr}"))
        .trim()
        .to_string()
}

fn open_history(home: &Path) -> History {
    History::open(
        HistoryPaths::in_dir(home.join("data")),
        HistoryOptions::default(),
    )
    .expect("open the history")
}

fn chat_bodies(gw: &GatewayHandle) -> Vec<serde_json::Value> {
    chats_seen(gw)
        .into_iter()
        .map(|q| serde_json::from_str(&q.body).expect("json body"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_exchange_is_recorded_and_conversation_continues_it() {
    let gw = gateway().await;
    let home = tempfile::tempdir().unwrap();
    let first = run_chat(&gw, home.path(), &["--system", "be brief", "hello history"]).await;
    assert_eq!(first.code, 0, "stderr: {}", first.stderr);
    let id = conversation_id(&first.stderr);
    {
        let stored = open_history(home.path()).get_conversation(&id).unwrap();
        assert_eq!(
            stored.conversation.params.system_prompt.as_deref(),
            Some("be brief")
        );
        let m = &stored.messages;
        assert_eq!(m.len(), 2, "{m:?}");
        assert_eq!(
            (m[0].role, m[0].content.as_str()),
            (Role::User, "hello history")
        );
        assert_eq!(m[1].role, Role::Assistant);
        assert_eq!(m[1].status, Status::Complete);
        assert_eq!(
            m[1].content.trim_end(),
            first.stdout.trim_end(),
            "what was printed was saved"
        );
        let want = demo_text(&[
            ChatMessage::new("system", "be brief"),
            ChatMessage::new("user", "hello history"),
        ]);
        assert_eq!(m[1].content, want);
        assert!(m[1].metrics.usage.is_some(), "usage saved");
        assert!(m[1].metrics.ttft_ms.is_some(), "ttft saved");
        assert!(m[1].metrics.trace_id.is_some(), "trace id saved");
    }

    let second = run_chat(&gw, home.path(), &["--conversation", &id, "and again"]).await;
    assert_eq!(second.code, 0, "stderr: {}", second.stderr);
    assert_eq!(conversation_id(&second.stderr), id);
    let bodies = chat_bodies(&gw);
    assert_eq!(bodies.len(), 2);
    let roles_and_text: Vec<(String, String)> = bodies[1]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["role"].as_str().unwrap().to_string(),
                m["content"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let stored = open_history(home.path()).get_conversation(&id).unwrap();
    let first_answer = stored.messages[1].content.clone();
    assert_eq!(
        roles_and_text,
        vec![
            ("system".to_string(), "be brief".to_string()),
            ("user".to_string(), "hello history".to_string()),
            ("assistant".to_string(), first_answer),
            ("user".to_string(), "and again".to_string()),
        ],
        "the second request carries the first exchange as context"
    );
    assert_eq!(stored.messages.len(), 4);
    assert_eq!(stored.messages[3].status, Status::Complete);
    assert_eq!(
        stored.messages[3].content.trim_end(),
        second.stdout.trim_end()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_history_writes_nothing_and_an_unknown_conversation_exits_2() {
    let gw = gateway().await;
    let home = tempfile::tempdir().unwrap();
    let r = run_chat(&gw, home.path(), &["--no-history", "off the record"]).await;
    assert_eq!(r.code, 0, "stderr: {}", r.stderr);
    assert!(!r.stdout.is_empty());
    assert!(!r.stderr.contains("conversation:"), "{}", r.stderr);
    assert!(
        !home.path().join("data").exists(),
        "no history file was created"
    );

    let r = run_chat(&gw, home.path(), &["--conversation", "no-such-id", "hi"]).await;
    assert_eq!(r.code, 2, "stderr: {}", r.stderr);
    assert!(
        chat_bodies(&gw).len() == 1,
        "nothing was sent for the unknown conversation"
    );

    let r = run_chat(
        &gw,
        home.path(),
        &["--conversation", "x", "--no-history", "hi"],
    )
    .await;
    assert_eq!(r.code, 2, "the two flags conflict: {}", r.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_stream_is_saved_interrupted_and_an_error_event_as_error_with_the_text() {
    let gw = gateway().await;
    let home = tempfile::tempdir().unwrap();
    gw.faults()
        .push(Route::Chat, Fault::stream().reset_after(4))
        .unwrap();
    let r = run_chat(&gw, home.path(), &["cut me off"]).await;
    assert_eq!(r.code, 7, "stderr: {}", r.stderr);
    let id = conversation_id(&r.stderr);
    let stored = open_history(home.path()).get_conversation(&id).unwrap();
    let answer = &stored.messages[1];
    assert_eq!(answer.status, Status::Interrupted);
    assert!(!answer.content.is_empty());
    assert_eq!(answer.content.trim_end(), r.stdout.trim_end());

    gw.faults()
        .push(Route::Chat, Fault::stream().error_after(3))
        .unwrap();
    let r = run_chat(&gw, home.path(), &["--conversation", &id, "fail me"]).await;
    assert_eq!(r.code, 6, "stderr: {}", r.stderr);
    let stored = open_history(home.path()).get_conversation(&id).unwrap();
    let answer = &stored.messages[3];
    assert_eq!(answer.status, Status::Error);
    assert_eq!(answer.error_kind.as_deref(), Some("streamError"));
    assert!(!answer.content.is_empty());
    assert_eq!(answer.content.trim_end(), r.stdout.trim_end());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_killed_mid_stream_leaves_its_partial_answer_marked_interrupted() {
    let gw = gateway_with(Fault::stream().stall_after(4)).await;
    let home = tempfile::tempdir().unwrap();
    let mut child = command(&gw, home.path(), &["kill me"])
        .spawn()
        .expect("spawn");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let id = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = stderr.next_line().await.expect("stderr line") {
            if let Some(id) = line.strip_prefix("conversation: ") {
                return id.trim().to_string();
            }
        }
        panic!("stderr closed without a conversation line");
    })
    .await
    .expect("conversation line");
    let mut stdout = child.stdout.take().expect("stdout");
    let history = open_history(home.path());
    // Read what is printed until the history holds exactly that (the stream then stalls).
    let mut printed = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut buf = [0u8; 256];
        if let Ok(read) =
            tokio::time::timeout(Duration::from_millis(50), stdout.read(&mut buf)).await
        {
            let n = read.expect("read stdout");
            printed.extend_from_slice(&buf[..n]);
        }
        let saved = history.get_conversation(&id).unwrap().messages[1].clone();
        assert_eq!(
            saved.status,
            Status::Streaming,
            "a live writer's row is left alone"
        );
        if !saved.content.is_empty() && saved.content.as_bytes() == printed.as_slice() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the printed text was not saved within 30 s"
        );
    }
    drop(history);
    child.start_kill().expect("SIGKILL");
    child.wait().await.expect("reaped");
    let history = open_history(home.path());
    assert_eq!(history.open_report().interrupted, 1);
    let saved = history.get_conversation(&id).unwrap().messages[1].clone();
    assert_eq!(saved.status, Status::Interrupted);
    assert_eq!(saved.content.as_bytes(), printed.as_slice());
}

/// `GET /v1/threads/{thread}/messages` as `(role, content)` pairs, for user `default` (the
/// configuration's default user, whom both the CLI and the demo app chat as).
async fn thread_messages(gw: &GatewayHandle, thread: &str) -> Vec<(String, String)> {
    let token = gw.mint("default", None, 3600).unwrap();
    let answer = reqwest::Client::new()
        .get(format!("{}/v1/threads/{thread}/messages", gw.base_url()))
        .bearer_auth(token.expose())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let body: serde_json::Value = answer.json().await.unwrap();
    body.as_array()
        .expect("a JSON array")
        .iter()
        .map(|m| {
            (
                m["role"].as_str().unwrap_or_default().to_string(),
                m["content"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_sends_the_conversations_server_thread_and_thread_overrides_it() {
    let gw = gateway().await;
    let home = tempfile::tempdir().unwrap();
    let (id, thread) = {
        let history = open_history(home.path());
        let c = history
            .create_conversation("threaded", ChatParams::default())
            .unwrap();
        let c = history.set_server_threads(&c.id, true).unwrap();
        (c.id.clone(), c.server_thread_id.clone().expect("thread id"))
    };
    let r = run_chat(&gw, home.path(), &["--conversation", &id, "threaded hello"]).await;
    assert_eq!(r.code, 0, "stderr: {}", r.stderr);
    let chat = first_chat(&gw);
    assert_eq!(chat.header("x-thread-id"), Some(thread.as_str()));
    let held = thread_messages(&gw, &thread).await;
    assert_eq!(
        held,
        vec![
            ("user".to_string(), "threaded hello".to_string()),
            ("assistant".to_string(), r.stdout.trim_end().to_string()),
        ],
        "the gateway thread holds the exchange"
    );

    gw.clear_requests();
    let r = run_chat(
        &gw,
        home.path(),
        &["--conversation", &id, "--thread", "t-override", "again"],
    )
    .await;
    assert_eq!(r.code, 0, "stderr: {}", r.stderr);
    let chat = first_chat(&gw);
    assert_eq!(chat.header("x-thread-id"), Some("t-override"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_sends_the_conversations_server_thread() {
    let dir = tempfile::tempdir().unwrap();
    let options = BackendOptions {
        env: Env::from_pairs::<&str, &str>([]),
        history: HistoryPaths::in_dir(dir.path().join("data")),
        secrets: Arc::new(MemoryStore::new()),
        demo: DemoOptions {
            record_requests: 100,
            ..DemoOptions::default()
        },
        http: build_client(HttpOptions::default()).unwrap(),
    };
    let backend = Backend::start(options, Settings::default()).await.unwrap();
    let history = backend.history().await.unwrap();
    let c = history
        .create_conversation("app thread", ChatParams::default())
        .unwrap();
    let thread = history
        .set_server_threads(&c.id, true)
        .unwrap()
        .server_thread_id
        .expect("thread id");
    let request = serde_json::from_value(serde_json::json!({
        "messages": [{"role": "user", "content": "from the app"}]
    }))
    .unwrap();
    let mut text = String::new();
    let summary = backend
        .chat(
            ChatInput {
                request_id: "r1".into(),
                conversation_id: Some(c.id.clone()),
                request,
                replace_from: None,
            },
            |event| {
                if let behest_desktop::core::chat::ChatEvent::Delta { text: t } = event {
                    text.push_str(&t);
                }
                Ok(())
            },
        )
        .await
        .unwrap_or_else(|_| panic!("the app's chat failed"));
    assert!(!summary.interrupted);
    let gw = backend.demo_gateway().await.expect("demo gateway");
    let chat = first_chat(&gw);
    assert_eq!(chat.header("x-thread-id"), Some(thread.as_str()));
    assert_eq!(
        thread_messages(&gw, &thread).await,
        vec![
            ("user".to_string(), "from the app".to_string()),
            ("assistant".to_string(), text),
        ],
        "the gateway thread holds the exchange"
    );
}

/// The app opens its history in the background: a history that cannot be opened does not stop
/// the app; every history command says why, and the rest (status) still answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_history_that_cannot_be_opened_is_reported_by_each_history_command() {
    let dir = tempfile::tempdir().unwrap();
    // A file where the history's directory should be.
    let blocked = dir.path().join("data");
    std::fs::write(&blocked, b"not a directory").unwrap();
    let options = BackendOptions {
        env: Env::from_pairs::<&str, &str>([]),
        history: HistoryPaths::in_dir(&blocked),
        secrets: Arc::new(MemoryStore::new()),
        demo: DemoOptions::default(),
        http: build_client(HttpOptions::default()).unwrap(),
    };
    let backend = Backend::open(options, Settings::default()).await.unwrap();
    for _ in 0..2 {
        let error = backend.list_conversations().await.unwrap_err();
        assert!(
            error
                .to_string()
                .contains("the history could not be opened"),
            "{error}"
        );
    }
    backend.connect().await;
    assert_eq!(backend.status().await.mode, "demo");
    assert_eq!(
        std::fs::read(&blocked).unwrap(),
        b"not a directory",
        "left as it was"
    );
}
