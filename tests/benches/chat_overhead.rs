//! Client overhead: time to the first text of a streamed chat through `ChatClient` (cached token,
//! `StaticToken`) against a plain reqwest request with the same headers and body to the same
//! local gateway, read until its first content chunk. Both keep their connection pooled (the
//! rest of each answer is read outside the timed part).
//!
//! Run: `cargo bench -p behest-desktop-tests --bench chat_overhead`. Besides criterion's
//! figures it prints the medians of 2,000 interleaved pairs and their difference.

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use behest_desktop::core::chat::{ChatClient, ChatConfig, ChatEvent, ChatSend};
use behest_desktop::core::gateway::{Gateway, GatewayConfig, GatewayHandle, TierLimits};
use behest_desktop::core::http::{build_client, HttpOptions};
use behest_desktop::core::protocol::chat::{ChatMessage, ChatRequest, StreamOptions};
use behest_desktop::core::redact::Secret;
use behest_desktop::core::token::{Bearer, StaticToken};
use criterion::{criterion_group, criterion_main, Criterion};
use tokio_util::sync::CancellationToken;

struct Setup {
    rt: tokio::runtime::Runtime,
    _gw: GatewayHandle,
    chat: ChatClient,
    plain: reqwest::Client,
    url: String,
    token: Secret,
    body: Vec<u8>,
}

fn setup() -> Setup {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let gw = rt.block_on(async {
        let mut config = GatewayConfig::demo().unwrap();
        // No rate or quota limits: the bench sends thousands of chats.
        for limits in config.projects[0].tier_limits.values_mut() {
            *limits = TierLimits {
                rpm: u64::MAX,
                requests_per_day: u64::MAX,
                tokens_per_day: u64::MAX,
            };
        }
        Gateway::spawn(config, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap()
    });
    let token = gw.mint("bench-user", None, 3600).unwrap();
    let bearer = Bearer {
        token: token.clone(),
        session_id: Some("bench-session".into()),
        expires_at: None,
    };
    let chat = ChatClient::new(
        build_client(HttpOptions::default()).unwrap(),
        &gw.base_url(),
        Arc::new(StaticToken(bearer)),
        ChatConfig::default(),
    )
    .unwrap();
    let request = ChatRequest {
        messages: vec![ChatMessage::new("user", "bench")],
        stream: Some(true),
        stream_options: Some(StreamOptions {
            include_usage: true,
        }),
        ..ChatRequest::default()
    };
    Setup {
        url: format!("{}/v1/chat/completions", gw.base_url()),
        plain: build_client(HttpOptions::default()).unwrap(),
        body: serde_json::to_vec(&request).unwrap(),
        rt,
        _gw: gw,
        chat,
        token,
    }
}

/// Time to the first `Delta` through the client; the rest of the answer is read untimed.
async fn through_client(s: &Setup, send: &ChatSend) -> Duration {
    let start = Instant::now();
    let mut first = None;
    let sink = |e: ChatEvent| {
        if first.is_none() && matches!(e, ChatEvent::Delta { .. }) {
            first = Some(start.elapsed());
        }
        Ok(())
    };
    s.chat
        .send(send, &CancellationToken::new(), sink)
        .await
        .unwrap();
    first.unwrap()
}

/// Time to the first body chunk holding content, with plain reqwest; the rest read untimed.
async fn plain(s: &Setup) -> Duration {
    let start = Instant::now();
    let mut resp = s
        .plain
        .post(&s.url)
        .bearer_auth(s.token.expose())
        .header("x-session-id", "bench-session")
        .header("content-type", "application/json")
        .header("accept", "text/event-stream")
        .body(s.body.clone())
        .send()
        .await
        .unwrap();
    let mut first = None;
    while let Some(chunk) = resp.chunk().await.unwrap() {
        if first.is_none() && chunk.windows(10).any(|w| w == b"\"content\":") {
            first = Some(start.elapsed());
        }
    }
    first.unwrap()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

fn bench(c: &mut Criterion) {
    let s = setup();
    let send = ChatSend::new(vec![ChatMessage::new("user", "bench")]);
    // Warm both pools, then 2,000 interleaved pairs.
    s.rt.block_on(async {
        for _ in 0..50 {
            through_client(&s, &send).await;
            plain(&s).await;
        }
    });
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    s.rt.block_on(async {
        for i in 0..2_000 {
            if i % 2 == 0 {
                ours.push(through_client(&s, &send).await);
                theirs.push(plain(&s).await);
            } else {
                theirs.push(plain(&s).await);
                ours.push(through_client(&s, &send).await);
            }
        }
    });
    let (mo, mt) = (median(ours), median(theirs));
    println!(
        "chat_overhead: median time to first text: client {:.1} µs, plain reqwest {:.1} µs, difference {:.1} µs",
        mo.as_secs_f64() * 1e6,
        mt.as_secs_f64() * 1e6,
        (mo.as_secs_f64() - mt.as_secs_f64()) * 1e6
    );

    let mut group = c.benchmark_group("chat_time_to_first_text");
    group.sample_size(50);
    group.bench_function("chat_client", |b| {
        b.iter_custom(|iters| {
            s.rt.block_on(async { futures_sum(iters, || through_client(&s, &send)).await })
        })
    });
    group.bench_function("plain_reqwest", |b| {
        b.iter_custom(|iters| {
            s.rt.block_on(async { futures_sum(iters, || plain(&s)).await })
        })
    });
    group.finish();
}

async fn futures_sum<F, Fut>(iters: u64, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Duration>,
{
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        total += f().await;
    }
    total
}

criterion_group!(benches, bench);
criterion_main!(benches);
