//! Shared pieces of the chat integration tests: a gateway with faults on, a token source that
//! counts what it is asked, a client with test timeouts, an event collector, and a raw-TCP test
//! double for faults that need byte-level control the gateway does not offer (a silent server,
//! `SO_LINGER(0)` resets before the headers, observing the client's disconnect, hostile sizes).

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use behest_desktop::core::chat::{
    ChatClient, ChatConfig, ChatEvent, ChatFailure, ChatOutcome, ChatSend, RetryPolicy, SinkClosed,
};
use behest_desktop::core::gateway::{
    Fault, Gateway, GatewayConfig, GatewayHandle, RecordedRequest, Route,
};
use behest_desktop::core::http::{build_client, HttpOptions};
use behest_desktop::core::protocol::chat::ChatMessage;
use behest_desktop::core::redact::Secret;
use behest_desktop::core::token::{Bearer, BoxFuture, TokenSource};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

/// A gateway on a free loopback port with fault scripting on.
pub async fn gateway() -> GatewayHandle {
    let mut config = GatewayConfig::demo().expect("demo config");
    config.faults_enabled = true;
    Gateway::spawn(config, "127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("gateway")
}

/// A fault-scripting gateway whose next chat request meets `fault`.
pub async fn gateway_with(fault: Fault) -> GatewayHandle {
    let gw = gateway().await;
    gw.faults().push(Route::Chat, fault).expect("push fault");
    gw
}

/// Hands out tokens minted by the gateway, counting `bearer` and `invalidate` calls.
pub struct CountingTokens {
    gateway_tokens: Mutex<Vec<Secret>>,
    pub bearers: AtomicUsize,
    pub invalidations: AtomicUsize,
}

impl CountingTokens {
    /// Pre-mints `n` tokens from `gw` (each `bearer` call after an invalidation takes the next).
    pub fn new(gw: &GatewayHandle, n: usize) -> Arc<Self> {
        let tokens = (0..n)
            .map(|_| gw.mint("chat-user", None, 3600).expect("mint"))
            .collect();
        Arc::new(CountingTokens {
            gateway_tokens: Mutex::new(tokens),
            bearers: AtomicUsize::new(0),
            invalidations: AtomicUsize::new(0),
        })
    }

    /// A source with one fixed token that never runs out.
    pub fn fixed(token: &str) -> Arc<Self> {
        Arc::new(CountingTokens {
            gateway_tokens: Mutex::new(vec![Secret::new(token)]),
            bearers: AtomicUsize::new(0),
            invalidations: AtomicUsize::new(0),
        })
    }

    pub fn bearers(&self) -> usize {
        self.bearers.load(Ordering::SeqCst)
    }

    pub fn invalidations(&self) -> usize {
        self.invalidations.load(Ordering::SeqCst)
    }
}

impl TokenSource for CountingTokens {
    fn bearer(&self) -> BoxFuture<'_, behest_desktop::core::Result<Bearer>> {
        self.bearers.fetch_add(1, Ordering::SeqCst);
        let invalidated = self.invalidations.load(Ordering::SeqCst);
        let tokens = self.gateway_tokens.lock().unwrap();
        let token = tokens[invalidated.min(tokens.len() - 1)].clone();
        Box::pin(async move {
            Ok(Bearer {
                token,
                session_id: Some("sess-test".into()),
                expires_at: None,
            })
        })
    }

    fn invalidate<'a>(&'a self, _stale: &'a Bearer) -> BoxFuture<'a, ()> {
        self.invalidations.fetch_add(1, Ordering::SeqCst);
        Box::pin(async {})
    }
}

/// Test timeouts: a fast backoff (10 ms, 20 ms), 2 s header timeout, the given idle timeout.
pub fn config(idle: Duration) -> ChatConfig {
    ChatConfig {
        header_timeout: Duration::from_secs(2),
        idle_timeout: idle,
        retry: RetryPolicy {
            initial_backoff: Duration::from_millis(10),
            ..RetryPolicy::default()
        },
        ..ChatConfig::default()
    }
}

/// A client for `base` with `tokens` and `config`, on a fresh HTTP client.
pub fn client(base: &str, tokens: Arc<dyn TokenSource>, config: ChatConfig) -> ChatClient {
    let http = build_client(HttpOptions::default()).expect("http client");
    ChatClient::new(http, base, tokens, config).expect("chat client")
}

/// A client for `gw` with one pre-minted token and the gateway tests' idle timeout.
pub fn gateway_client(gw: &GatewayHandle) -> ChatClient {
    gateway_client_idle(gw, IDLE)
}

/// A client for `gw` with one pre-minted token and the `idle` timeout.
pub fn gateway_client_idle(gw: &GatewayHandle, idle: Duration) -> ChatClient {
    client(&gw.base_url(), CountingTokens::new(gw, 1), config(idle))
}

/// A streaming send of one user message.
pub fn send(prompt: &str) -> ChatSend {
    ChatSend::new(vec![ChatMessage::new("user", prompt)])
}

/// Events collected by a sink.
pub type Events = Arc<Mutex<Vec<ChatEvent>>>;

/// Collects events into a shared Vec.
pub fn collector() -> (Events, impl FnMut(ChatEvent) -> Result<(), SinkClosed>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink_events = Arc::clone(&events);
    (events, move |e| {
        sink_events.lock().unwrap().push(e);
        Ok(())
    })
}

/// Sends `s` through `c` (never cancelled) into a collector; returns the result and the events.
pub async fn send_collecting(
    c: &ChatClient,
    s: &ChatSend,
) -> (Result<ChatOutcome, ChatFailure>, Events) {
    let (events, sink) = collector();
    let result = c.send(s, &CancellationToken::new(), sink).await;
    (result, events)
}

/// Sends `prompt` as one user message through `c` (never cancelled), dropping the events.
pub async fn chat(c: &ChatClient, prompt: &str) -> Result<ChatOutcome, ChatFailure> {
    send_collecting(c, &send(prompt)).await.0
}

/// A sink that trips `cancel` at the first delta.
pub fn cancel_on_first_delta(
    cancel: &CancellationToken,
) -> impl FnMut(ChatEvent) -> Result<(), SinkClosed> {
    let trip = cancel.clone();
    move |e| {
        if matches!(e, ChatEvent::Delta { .. }) {
            trip.cancel();
        }
        Ok(())
    }
}

/// Concatenated delta text.
pub fn delta_text(events: &[ChatEvent]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            ChatEvent::Delta { text } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

/// Test double: a raw TCP server whose every connection runs `script(index, stream)`. Counts
/// accepted connections.
pub struct TcpDouble {
    pub addr: SocketAddr,
    pub accepted: Arc<AtomicUsize>,
}

impl TcpDouble {
    pub async fn spawn<F, Fut>(script: F) -> Self
    where
        F: Fn(usize, TcpStream) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&accepted);
        let script = Arc::new(script);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                stream.set_nodelay(true).ok();
                let index = count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(script(index, stream));
            }
        });
        TcpDouble { addr, accepted }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// Reads one HTTP/1.1 request (head and `Content-Length` body); returns the head.
pub async fn read_request(stream: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut byte = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut byte).await.unwrap_or(0);
        if n == 0 {
            return String::new();
        }
        buf.extend_from_slice(&byte[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap_or(0))
        })
        .unwrap_or(0);
    let mut have = buf.len() - head_end;
    while have < length {
        let n = stream.read(&mut byte).await.unwrap_or(0);
        if n == 0 {
            break;
        }
        have += n;
    }
    head
}

/// The head of a close-delimited SSE answer.
pub const SSE_HEAD: &[u8] =
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\nx-trace-id: tr-double\r\n\r\n";

/// One SSE chunk event carrying `text`.
pub fn sse_delta(text: &str, finish: Option<&str>) -> String {
    let chunk = serde_json::json!({
        "id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}],
    });
    format!("data: {chunk}\n\n")
}

/// A close-delimited 200 answer from a token endpoint: a bundle with `token`, a 3600 s ttl and
/// `session_id`.
pub fn token_bundle_answer(token: &Secret, session_id: &str) -> String {
    let body = serde_json::json!({
        "token": token.expose(), "ttl": 3600, "sessionId": session_id,
    })
    .to_string();
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// Waits until the peer closes (EOF or reset); returns whether it did within `limit`.
pub async fn wait_for_close(stream: &mut TcpStream, limit: Duration) -> bool {
    let mut sink = [0u8; 1024];
    tokio::time::timeout(limit, async {
        loop {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

/// Writes all of `bytes`, ignoring a peer that went away (the test asserts on the client side).
pub async fn write(stream: &mut TcpStream, bytes: &[u8]) {
    // The client may legitimately hang up first (cancel, error); the assertions are elsewhere.
    let _ = stream.write_all(bytes).await;
}

/// The idle timeout the gateway-backed tests give the client.
pub const IDLE: Duration = Duration::from_secs(5);

/// The demo gateway's reply to a one-message conversation.
pub fn expected(prompt: &str) -> String {
    behest_desktop::core::gateway::responder::demo_text(&[ChatMessage::new("user", prompt)])
}

/// How many chat requests reached the gateway.
pub fn chat_requests(gw: &GatewayHandle) -> usize {
    gw.requests()
        .iter()
        .filter(|r| r.path == "/v1/chat/completions")
        .count()
}

/// The chat requests the gateway recorded, oldest first.
pub fn chats_seen(gw: &GatewayHandle) -> Vec<RecordedRequest> {
    gw.requests()
        .into_iter()
        .filter(|r| r.path == "/v1/chat/completions")
        .collect()
}

/// The first chat request the gateway recorded.
pub fn first_chat(gw: &GatewayHandle) -> RecordedRequest {
    chats_seen(gw).into_iter().next().expect("chat sent")
}

/// What a finished process left: its exit code (-1 for a signal) and its output.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Spawns `cmd`, writes `stdin` to it where its stdin is piped, and waits (60 s at most).
pub async fn run(mut cmd: Command, stdin: &str) -> Run {
    let mut child = cmd.spawn().expect("spawn behest-desktop");
    if let Some(mut input) = child.stdin.take() {
        // A process that exits without reading its input is the test's to judge, not a failure.
        input.write_all(stdin.as_bytes()).await.ok();
    }
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("finished within 60 s")
        .expect("output");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
