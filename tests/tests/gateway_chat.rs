//! The conversation routes of the local gateway over loopback: chat (JSON and exact SSE
//! framing, the demo reply's pacing), sessions, threads, usage (both shapes). Mint, JWKS, models,
//! the token endpoint and trace ids are in `gateway_routes.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod gateway_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use behest_desktop::core::gateway::responder::{chunks, demo_text};
use behest_desktop::core::gateway::{DemoResponder, SessionSource};
use behest_desktop::core::protocol::chat::ChatMessage;
use gateway_support::*;
use serde_json::{json, Value};

#[tokio::test]
async fn non_streaming_chat_is_an_openai_completion_quoting_the_user() {
    let gw = start(|_| {}).await;
    let t = token(&gw, "alice", Some(2)).await;
    let r = chat(&gw, &t, &chat_body("What is 2+2?", false)).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("x-trace-id").is_some());
    assert_eq!(
        r.headers().get("x-trace-id"),
        r.headers().get("x-request-id")
    );
    let c: Value = r.json().await.unwrap();
    assert_eq!(c["object"], "chat.completion");
    assert!(c["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(c["choices"][0]["message"]["role"], "assistant");
    assert_eq!(c["choices"][0]["finish_reason"], "stop");
    let text = c["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(text.contains("> What is 2+2?") && text.contains("local demo gateway"));
    let u = &c["usage"];
    assert_eq!(
        u["total_tokens"].as_u64(),
        Some(u["prompt_tokens"].as_u64().unwrap() + u["completion_tokens"].as_u64().unwrap())
    );
    assert!(u["completion_tokens"].as_u64().unwrap() > 20);
    gw.shutdown().await;
}

#[tokio::test]
async fn streaming_chat_is_framed_exactly() {
    let gw = start(|_| {}).await;
    let t = token(&gw, "alice", None).await;
    let mut body = chat_body("stream please", true);
    body["stream_options"] = json!({"include_usage": true});
    let r = chat(&gw, &t, &body).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    assert_eq!(r.headers()["cache-control"], "no-cache");
    let raw = r.text().await.unwrap();
    assert!(!raw.contains('\r'), "LF framing only");
    assert!(raw.ends_with("data: [DONE]\n\n"));
    let payloads = sse_payloads(&raw);
    let events: Vec<Value> = payloads[..payloads.len() - 1]
        .iter()
        .map(|p| serde_json::from_str(p).unwrap())
        .collect();
    assert_eq!(events[0]["choices"][0]["delta"]["role"], "assistant");
    let ids: std::collections::HashSet<&str> =
        events.iter().filter_map(|e| e["id"].as_str()).collect();
    assert_eq!(ids.len(), 1);
    let usage = events.last().unwrap();
    assert_eq!(usage["choices"], json!([]));
    let content_events = &events[1..events.len() - 1];
    let last = content_events.last().unwrap();
    assert_eq!(last["choices"][0]["finish_reason"], "stop");
    assert!(content_events[..content_events.len() - 1]
        .iter()
        .all(|e| e["choices"][0]["finish_reason"].is_null()));
    let text: String = content_events
        .iter()
        .filter_map(|e| e["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert!(text.contains("> stream please"));
    assert_eq!(
        usage["usage"]["completion_tokens"].as_u64(),
        Some(content_events.len() as u64)
    );
    // Without include_usage there is no usage chunk.
    let raw = chat(&gw, &t, &chat_body("x", true))
        .await
        .text()
        .await
        .unwrap();
    assert!(!raw.contains("\"usage\""));
    gw.shutdown().await;
}

#[tokio::test]
async fn max_tokens_caps_the_reply_with_finish_reason_length() {
    let gw = start(|_| {}).await;
    let t = token(&gw, "alice", None).await;
    let demo = chunks(&demo_text(&[ChatMessage::new("user", "cap me")]));
    for field in ["max_tokens", "max_completion_tokens"] {
        // Non-streaming: the first 3 deltas, finish_reason "length", 3 completion tokens.
        let mut body = chat_body("cap me", false);
        body[field] = json!(3);
        let c = json_of(chat_request(&gw.base_url(), &t, &body)).await;
        assert_eq!(c["choices"][0]["finish_reason"], "length", "{field}: {c}");
        assert_eq!(
            c["choices"][0]["message"]["content"],
            demo[..3].concat(),
            "{field}"
        );
        assert_eq!(c["usage"]["completion_tokens"], 3, "{field}");
        // Streaming: the same cut, on the last content chunk.
        let mut body = chat_body("cap me", true);
        body[field] = json!(2);
        let raw = chat(&gw, &t, &body).await.text().await.unwrap();
        let events: Vec<Value> = sse_payloads(&raw)
            .iter()
            .filter(|p| p.as_str() != "[DONE]")
            .map(|p| serde_json::from_str(p).unwrap())
            .collect();
        let text: String = events
            .iter()
            .filter_map(|e| e["choices"][0]["delta"]["content"].as_str())
            .collect();
        assert_eq!(text, demo[..2].concat(), "{field}: streamed");
        assert_eq!(
            events.last().unwrap()["choices"][0]["finish_reason"],
            "length",
            "{field}: {raw}"
        );
    }
    // A cap the reply fits in ends it normally.
    let mut body = chat_body("cap me", false);
    body["max_tokens"] = json!(demo.len());
    let c = json_of(chat_request(&gw.base_url(), &t, &body)).await;
    assert_eq!(c["choices"][0]["finish_reason"], "stop", "{c}");
    assert_eq!(c["choices"][0]["message"]["content"], demo.concat());
    // Zero is refused, as OpenAI does.
    let mut body = chat_body("cap me", false);
    body["max_tokens"] = json!(0);
    assert_eq!(chat(&gw, &t, &body).await.status(), 400);
    gw.shutdown().await;
}

#[tokio::test]
async fn session_header_wins_over_sid_and_is_recorded() {
    let gw = start(|_| {}).await;
    let m = mint_json(&gw, json!({"user_id": "alice", "session_id": "from-claim"})).await;
    let t = m["jwt"].as_str().unwrap();
    let c = client();
    let url = format!("{}/v1/chat/completions", gw.base_url());
    let r = c
        .post(&url)
        .bearer_auth(t)
        .header("x-session-id", "from-header")
        .json(&chat_body("a", false))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    chat(&gw, t, &chat_body("b", false)).await;
    let chats: Vec<_> = gw
        .requests()
        .into_iter()
        .filter(|r| r.path == "/v1/chat/completions")
        .collect();
    let s0 = chats[0].session.clone().unwrap();
    let s1 = chats[1].session.clone().unwrap();
    assert_eq!(
        (s0.id.as_str(), s0.source),
        ("from-header", SessionSource::Header)
    );
    assert_eq!(
        (s1.id.as_str(), s1.source),
        ("from-claim", SessionSource::Claim)
    );
    assert_eq!(
        chats[0].claims.as_ref().map(|c| c.uid.as_str()),
        Some("alice")
    );
    assert_eq!(chats[0].header("authorization"), Some("[redacted]"));
    assert!(chats.iter().all(|r| !format!("{r:?}").contains(t)));
    gw.shutdown().await;
}

#[tokio::test]
async fn threads_are_created_by_chat_and_scoped_to_the_user() {
    let gw = start(|_| {}).await;
    let alice = token(&gw, "alice", None).await;
    let bob = token(&gw, "bob", None).await;
    let c = client();
    let base = gw.base_url();
    let send = |tok: &str, thread: &str, text: &str, stream: bool| {
        c.post(format!("{base}/v1/chat/completions"))
            .bearer_auth(tok)
            .header("x-thread-id", thread)
            .json(&chat_body(text, stream))
            .send()
    };
    send(&alice, "thread_2026_04_12_abc", "first question", false)
        .await
        .unwrap();
    send(&alice, "thread_2026_04_12_abc", "second question", true)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let get_req = |tok: &str, path: &str| c.get(format!("{base}{path}")).bearer_auth(tok);
    let get = |tok: &str, path: &str| get_req(tok, path).send();
    let list = json_of(get_req(&alice, "/v1/threads")).await;
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    assert_eq!(list[0]["id"], "thread_2026_04_12_abc");
    assert_eq!(list[0]["title"], "first question");
    let one = json_of(get_req(&alice, "/v1/threads/thread_2026_04_12_abc")).await;
    assert_eq!(one["message_count"], 4);
    let msgs = json_of(get_req(
        &alice,
        "/v1/threads/thread_2026_04_12_abc/messages",
    ))
    .await;
    let roles: Vec<&str> = msgs
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["role"].as_str())
        .collect();
    assert_eq!(roles, vec!["user", "assistant", "user", "assistant"]);
    assert!(
        msgs[3]["content"]
            .as_str()
            .unwrap()
            .contains("> second question"),
        "streamed reply stored"
    );
    // Bob sees nothing of Alice's.
    assert_eq!(json_of(get_req(&bob, "/v1/threads")).await, json!([]));
    for path in [
        "/v1/threads/thread_2026_04_12_abc",
        "/v1/threads/thread_2026_04_12_abc/messages",
        "/v1/threads/missing",
    ] {
        let r = get(&bob, path).await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
    let delete = |tok: &str| {
        c.delete(format!("{base}/v1/threads/thread_2026_04_12_abc"))
            .bearer_auth(tok)
            .send()
    };
    assert_eq!(delete(&bob).await.unwrap().status(), 404);
    let del = delete(&alice).await.unwrap();
    assert_eq!(del.status(), 204);
    assert!(del.bytes().await.unwrap().is_empty());
    assert_eq!(
        get(&alice, "/v1/threads/thread_2026_04_12_abc")
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(json_of(get_req(&alice, "/v1/threads")).await, json!([]));
    // Unauthenticated thread routes are 401.
    assert_eq!(
        c.get(format!("{base}/v1/threads"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    gw.shutdown().await;
}

/// The usage store sums the chats of one user and model in one second into one row; the routes
/// still count every chat, and a window ending before a second leaves it out.
#[tokio::test]
async fn usage_counts_every_chat_when_several_finish_in_the_same_second() {
    const T0: i64 = 1_790_000_000;
    let gw = start(|c| c.clock_override = Some(T0)).await;
    let alice = token(&gw, "alice", None).await;
    let chat_tokens = |prompt: &'static str| {
        let request = chat_request(&gw.base_url(), &alice, &chat_body(prompt, false));
        async move {
            let c = json_of(request).await;
            c["usage"]["total_tokens"].as_u64().unwrap()
        }
    };
    let mut tokens = 0;
    for prompt in ["one", "two", "three"] {
        tokens += chat_tokens(prompt).await;
    }
    gw.advance_clock(1);
    let last = chat_tokens("four").await;
    let get = |path: &str| {
        json_of(
            client()
                .get(format!("{}{path}", gw.base_url()))
                .bearer_auth(&alice),
        )
    };
    let u = get("/v1/usage?granularity=minute").await;
    assert_eq!(u["totals"]["requests"], 4);
    assert_eq!(u["totals"]["tokens"].as_u64(), Some(tokens + last));
    let b = get("/v1/billing/usage").await;
    assert_eq!(b["platform"]["requests"], 4);
    assert_eq!(b["platform"]["by_model"][0]["requests"], 4);
    // `to` is the first second: the fourth chat is outside.
    let first = behest_desktop::core::gateway::state::iso8601(T0);
    let u = get(&format!("/v1/usage?to={first}")).await;
    assert_eq!(u["totals"]["requests"], 3);
    assert_eq!(u["totals"]["tokens"].as_u64(), Some(tokens));
    gw.shutdown().await;
}

#[tokio::test]
async fn usage_in_sdk_and_docs_shapes() {
    let gw = start(|_| {}).await;
    let alice = token(&gw, "alice", None).await;
    let c: Value = chat(&gw, &alice, &chat_body("count me", false))
        .await
        .json()
        .await
        .unwrap();
    let total = c["usage"]["total_tokens"].as_u64().unwrap();
    let get_req = |path: String, tok: &str| {
        client()
            .get(format!("{}{path}", gw.base_url()))
            .bearer_auth(tok)
    };
    let get = |path: String, tok: &str| get_req(path, tok).send();
    let u = json_of(get_req("/v1/usage?granularity=hour".into(), &alice)).await;
    assert_eq!(u["totals"]["tokens"].as_u64(), Some(total));
    assert_eq!(u["breakdown"][0]["tokens"].as_u64(), Some(total));
    assert!(u["breakdown"][0]["timestamp"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    let b = json_of(get_req(
        "/v1/billing/usage?from=2020-01-01&to=2100-01-01".into(),
        &alice,
    ))
    .await;
    assert_eq!(b["project_id"], gw.credentials().project_id.as_str());
    assert_eq!(b["platform"]["requests"], 1);
    assert_eq!(b["platform"]["input_tokens"], c["usage"]["prompt_tokens"]);
    assert_eq!(
        b["platform"]["output_tokens"],
        c["usage"]["completion_tokens"]
    );
    assert_eq!(b["platform"]["by_model"][0]["model"], "behest-local-demo");
    assert_eq!(b["byok"]["requests"], 0);
    // Another user sees zero, and may not read Alice's.
    let bob = token(&gw, "bob", None).await;
    let u = json_of(get_req("/v1/usage".into(), &bob)).await;
    assert_eq!(u["totals"]["tokens"], 0);
    assert_eq!(
        get("/v1/usage?user_id=alice".into(), &bob)
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        get("/v1/usage?from=yesterday".into(), &bob)
            .await
            .unwrap()
            .status(),
        400
    );
    gw.shutdown().await;
    // The not-supported switch answers 404 on the SDK path.
    let gw = start(|c| c.usage_not_supported = true).await;
    let t = token(&gw, "alice", None).await;
    let r = client()
        .get(format!("{}/v1/usage", gw.base_url()))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    gw.shutdown().await;
}

#[tokio::test]
async fn the_demo_reply_is_paced_at_its_configured_rate() {
    const RATE: u32 = 200;
    let gw = start(|c| c.responder = Arc::new(DemoResponder::with_rate(RATE))).await;
    let t = token(&gw, "alice", None).await;
    let n = chunks(&demo_text(&[ChatMessage::new("user", "pace me")])).len();
    let started = Instant::now();
    let r = chat(&gw, &t, &chat_body("pace me", true)).await;
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    let elapsed = started.elapsed();
    let deltas = sse_payloads(&body)
        .iter()
        .filter_map(|p| serde_json::from_str::<Value>(p).ok())
        .filter(|v| {
            v["choices"][0]["delta"]["content"]
                .as_str()
                .is_some_and(|c| !c.is_empty())
        })
        .count();
    assert_eq!(deltas, n, "one event per chunk of the reply");
    assert!(body.ends_with("data: [DONE]\n\n"));
    // N chunks at R per second leave N - 1 pauses of 1/R between them. A lower bound only: a
    // busy machine may be slower than the rate, never faster.
    let floor = Duration::from_secs(1) / RATE * u32::try_from(n - 1).unwrap();
    assert!(
        floor >= Duration::from_millis(200),
        "enough chunks to measure"
    );
    assert!(
        elapsed >= floor,
        "{n} chunks at {RATE}/s took {elapsed:?} < {floor:?}"
    );
    gw.shutdown().await;
}
