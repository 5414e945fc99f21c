//! The real app (its commands, plugins, generated ACL and embedded UI) on Tauri's mock runtime,
//! over a hermetic backend: history and settings in a temp dir, secrets in memory, the demo
//! gateway on loopback with fault scripting on.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use behest_desktop::core::backend::{Backend, BackendOptions, DemoOptions};
use behest_desktop::core::config::{Env, Settings};
use behest_desktop::core::history::HistoryPaths;
use behest_desktop::core::http::{build_client, HttpOptions};
use behest_desktop::core::secrets::MemoryStore;
use behest_desktop::ipc::{self, AppState};
use serde_json::{json, Value};
use tauri::ipc::{CallbackFn, InvokeBody, InvokeResponseBody};
use tauri::test::{mock_builder, MockRuntime, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::{App, Manager, WebviewUrl, WebviewWindow, WebviewWindowBuilder};

/// The app's own origin on Linux (NOT `http://tauri.localhost`, which counts as remote here).
pub const APP_ORIGIN: &str = "tauri://localhost";

/// A running mock app.
pub struct Harness {
    pub app: App<MockRuntime>,
    pub window: WebviewWindow<MockRuntime>,
    pub backend: Arc<Backend>,
    pub dir: tempfile::TempDir,
}

/// What a command answered: `Ok(json)` or `Err(json error)`.
pub type Answer = Result<Value, Value>;

fn backend_in(dir: &std::path::Path, env: Env) -> Arc<Backend> {
    let options = BackendOptions {
        env,
        history: HistoryPaths::in_dir(dir.join("data")),
        secrets: Arc::new(MemoryStore::new()),
        demo: DemoOptions {
            chunk_delay: std::time::Duration::ZERO,
            faults: true,
            record_requests: 1_000,
        },
        http: build_client(HttpOptions::default()).unwrap_or_else(|e| panic!("http client: {e}")),
    };
    let started = tauri::async_runtime::block_on(Backend::start(options, Settings::default()));
    Arc::new(started.unwrap_or_else(|e| panic!("backend: {e}")))
}

impl Harness {
    /// The app in demo mode (nothing configured).
    pub fn demo() -> Harness {
        Harness::with_env(Env::from_pairs::<&str, &str>([]))
    }

    /// The app with these SDK environment variables.
    pub fn with_env(env: Env) -> Harness {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let backend = backend_in(dir.path(), env);
        let state = AppState::new(Arc::clone(&backend), dir.path().join("settings.json"));
        let app = ipc::app_builder(mock_builder(), state)
            .build(ipc::context::<MockRuntime>())
            .unwrap_or_else(|e| panic!("app: {e}"));
        let window = WebviewWindowBuilder::new(&app, "main", WebviewUrl::default())
            .build()
            .unwrap_or_else(|e| panic!("window: {e}"));
        Harness {
            app,
            window,
            backend,
            dir,
        }
    }

    /// Invokes `command` from the main window's own origin.
    pub fn invoke(&self, command: &str, args: Value) -> Answer {
        invoke_from(&self.window, APP_ORIGIN, command, args)
    }

    /// The managed state (for calling command functions directly).
    pub fn state(&self) -> tauri::State<'_, AppState> {
        self.app.state::<AppState>()
    }

    /// The demo gateway's origin.
    pub fn gateway_url(&self) -> String {
        tauri::async_runtime::block_on(self.backend.demo_gateway())
            .map(|g| g.base_url())
            .unwrap_or_else(|| panic!("no demo gateway"))
    }

    /// The `(role, content)` messages of the last chat request the demo gateway received.
    pub fn last_chat_sent(&self) -> Vec<(String, String)> {
        let gateway = tauri::async_runtime::block_on(self.backend.demo_gateway())
            .unwrap_or_else(|| panic!("no demo gateway"));
        let chat = gateway
            .requests()
            .into_iter()
            .rev()
            .find(|r| r.path == "/v1/chat/completions")
            .unwrap_or_else(|| panic!("the gateway received no chat"));
        let body: Value =
            serde_json::from_str(&chat.body).unwrap_or_else(|e| panic!("recorded body: {e}"));
        body["messages"]
            .as_array()
            .unwrap_or_else(|| panic!("no messages in {body}"))
            .iter()
            .map(|m| {
                let text = |key: &str| m[key].as_str().unwrap_or_default().to_string();
                (text("role"), text("content"))
            })
            .collect()
    }

    /// Scripts a fault on the demo gateway's chat route.
    pub fn fault(&self, fault: Value, times: usize) {
        let gateway = tauri::async_runtime::block_on(self.backend.demo_gateway())
            .unwrap_or_else(|| panic!("no demo gateway"));
        let fault = serde_json::from_value(fault).unwrap_or_else(|e| panic!("fault: {e}"));
        gateway
            .faults()
            .push_n(behest_desktop::core::gateway::Route::Chat, fault, times)
            .unwrap_or_else(|e| panic!("faults: {e}"));
    }
}

/// Invokes `command` on `webview` as a page at `origin` would.
pub fn invoke_from(
    webview: &WebviewWindow<MockRuntime>,
    origin: &str,
    command: &str,
    args: Value,
) -> Answer {
    let request = InvokeRequest {
        cmd: command.into(),
        callback: CallbackFn(0),
        error: CallbackFn(1),
        url: origin
            .parse()
            .unwrap_or_else(|e| panic!("url {origin}: {e}")),
        body: InvokeBody::Json(args),
        headers: Default::default(),
        invoke_key: INVOKE_KEY.to_string(),
    };
    tauri::test::get_ipc_response(webview, request)
        .map(|body| body.deserialize::<Value>().unwrap_or(Value::Null))
}

/// A Channel that records every message as JSON.
pub fn recording_channel<T: serde::Serialize>() -> (tauri::ipc::Channel<T>, Arc<Mutex<Vec<Value>>>)
{
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let channel = tauri::ipc::Channel::new(move |body| {
        let value = match body {
            InvokeResponseBody::Json(text) => {
                serde_json::from_str(&text).unwrap_or(Value::String(text))
            }
            InvokeResponseBody::Raw(bytes) => {
                Value::String(String::from_utf8_lossy(&bytes).into_owned())
            }
        };
        if let Ok(mut seen) = sink.lock() {
            seen.push(value);
        }
        Ok(())
    });
    (channel, seen)
}

/// The `kind` of an error answer (panics on success).
pub fn kind(answer: &Answer) -> String {
    match answer {
        Err(error) => error["kind"]
            .as_str()
            .unwrap_or("<not a CommandError>")
            .to_string(),
        Ok(value) => panic!("expected an error, got {value}"),
    }
}

/// The string `key` of a command's successful answer (panics on an error).
pub fn answered(answer: &Answer, key: &str) -> String {
    match answer {
        Ok(value) => value[key].as_str().unwrap_or_default().to_string(),
        Err(error) => panic!("expected an answer with {key}, got {error}"),
    }
}

/// A one-message chat request.
pub fn chat_request(text: &str) -> Value {
    json!({"messages": [{"role": "user", "content": text}]})
}

/// A request that sends only the user's new message (the stored conversation goes first).
pub fn next_message(text: &str) -> Value {
    json!({"message": text})
}

/// Runs the `chat` command with a recording Channel: its answer (or error) as JSON, and every
/// event it sent.
pub fn run_chat(
    h: &Harness,
    request_id: &str,
    conversation: Option<String>,
    request: Value,
    replace_from: Option<String>,
) -> (Result<Value, Value>, Vec<Value>) {
    let (channel, seen) = recording_channel::<behest_desktop::ipc::events::StreamEvent>();
    let request: behest_desktop::core::backend::ChatRequestInput =
        serde_json::from_value(request).unwrap_or_else(|e| panic!("request: {e}"));
    let result = tauri::async_runtime::block_on(behest_desktop::ipc::commands::chat::chat(
        h.state(),
        behest_desktop::ipc::args::Arg::of(request_id.to_string()),
        behest_desktop::ipc::args::Arg::of(conversation),
        behest_desktop::ipc::args::Arg::of(request),
        behest_desktop::ipc::args::Arg::of(replace_from),
        behest_desktop::ipc::args::ChannelArg::of(channel),
    ));
    let events = seen.lock().map(|s| s.clone()).unwrap_or_default();
    let result = result
        .map(|summary| serde_json::to_value(summary).unwrap_or(Value::Null))
        .map_err(|error| serde_json::to_value(error).unwrap_or(Value::Null));
    (result, events)
}

/// Runs `chat` with one message, `text`, appended to `conversation`.
pub fn chat_in(
    h: &Harness,
    request_id: &str,
    conversation: &str,
    text: &str,
) -> (Result<Value, Value>, Vec<Value>) {
    run_chat(
        h,
        request_id,
        Some(conversation.to_string()),
        chat_request(text),
        None,
    )
}

/// The stored messages of `conversation`, through `get_conversation`.
pub fn stored_messages(h: &Harness, conversation: &str) -> Vec<Value> {
    let stored = h
        .invoke("get_conversation", json!({"id": conversation}))
        .unwrap_or_else(|e| panic!("{e}"));
    stored["messages"].as_array().cloned().unwrap_or_default()
}

/// Creates an empty conversation through the command, returning its id.
pub fn new_conversation(h: &Harness) -> String {
    let created = h
        .invoke("create_conversation", json!({"draft": {"title": "t"}}))
        .unwrap_or_else(|e| panic!("{e}"));
    created["id"].as_str().unwrap_or_default().to_string()
}
