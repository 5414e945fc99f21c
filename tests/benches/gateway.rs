//! Gateway performance on loopback (issue 2): non-streaming chat requests per second with token
//! verification (sequential and 32 in flight), what verification and routing add per request,
//! API-key mint latency p50/p99, and 1,000 concurrent SSE streams held open to completion.
//!
//! Run: `cargo bench -p behest-desktop-tests --bench gateway`. Besides criterion's figures it
//! prints mint p50/p99 over 2,000 sequential mints, and the median difference between
//! `GET /v1/models` (verify + route + tiny JSON) and an unrouted `GET /nope` (404 envelope, no
//! verification) over 5,000 interleaved pairs. That paired median swings with load and has come
//! out below `verify_token`'s own cost, so BENCHMARKS.md reports the verification + routing
//! overhead as the difference of the criterion means of `gateway_loopback_get/models_verified`
//! and `gateway_loopback_get/unrouted_404` instead, with `gateway_verify_token_in_process` as its
//! floor.
//!
//! `gateway_streams/1000_concurrent_to_completion`: one iteration starts 1,000 streaming chats at
//! once and reads every one to `data: [DONE]` (the demo reply, ~85 events each, as fast as the
//! client reads). Up to 1,000 connections: a reply that ends before a later chat starts hands its
//! connection on, so not all 1,000 are guaranteed in flight together (the
//! `a_thousand_concurrent_streams_are_held` test holds them all open at once). The client keeps its idle
//! connections, so later iterations reuse them instead of churning 1,000 ephemeral ports.

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

#[path = "../tests/gateway_support/mod.rs"]
mod gateway_support;

use std::time::{Duration, Instant};

use behest_desktop::core::gateway::verify::verify_token;
use behest_desktop::core::gateway::{Gateway, GatewayConfig, GatewayHandle, TierLimits};
use criterion::{criterion_group, Criterion, Throughput};
use serde_json::json;

struct Setup {
    rt: tokio::runtime::Runtime,
    gw: GatewayHandle,
    client: reqwest::Client,
    token: String,
}

fn setup() -> Setup {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let gw = rt.block_on(async {
        let mut config = GatewayConfig::demo().unwrap();
        let lots = TierLimits {
            rpm: u64::MAX,
            requests_per_day: u64::MAX,
            tokens_per_day: u64::MAX,
        };
        for tier in ["free", "pro", "max"] {
            config.projects[0].tier_limits.insert(tier.into(), lots);
        }
        Gateway::spawn(config, gateway_support::loopback())
            .await
            .unwrap()
    });
    let token = gw
        .mint("bench-user", None, 86_400)
        .unwrap()
        .expose()
        .to_string();
    let client = reqwest::Client::builder()
        .http1_only()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    Setup {
        rt,
        gw,
        client,
        token,
    }
}

async fn chat_once(s: &Setup, url: &str, body: &serde_json::Value) {
    let r = s
        .client
        .post(url)
        .bearer_auth(&s.token)
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.bytes().await.unwrap();
}

fn chat(c: &mut Criterion) {
    let s = setup();
    let url = format!("{}/v1/chat/completions", s.gw.base_url());
    let body = json!({"messages": [{"role": "user", "content": "bench"}]});
    let mut g = c.benchmark_group("gateway_chat_nonstream");
    g.throughput(Throughput::Elements(1));
    g.bench_function("sequential", |b| {
        b.iter(|| s.rt.block_on(chat_once(&s, &url, &body)))
    });
    g.throughput(Throughput::Elements(32));
    g.bench_function("32_in_flight", |b| {
        b.iter(|| {
            s.rt.block_on(async {
                let all = (0..32).map(|_| chat_once(&s, &url, &body));
                futures_util::future::join_all(all).await;
            })
        })
    });
    g.finish();
}

fn verify(c: &mut Criterion) {
    let config = GatewayConfig::demo().unwrap();
    let state = behest_desktop::core::gateway::state::GatewayState::new(config).unwrap();
    let s = setup();
    // A token of this state's own project, minted by a second gateway sharing nothing: sign
    // directly instead, with the state's global key.
    let now = state.clock.now();
    let p = &state.config.projects[0];
    let claims = json!({"tid": p.tenant_id, "pid": p.project_id, "uid": "u", "role": "user", "scp": [],
        "iss": "https://api.behest.app", "aud": "behest", "iat": now, "nbf": now, "exp": now + 86_400, "jti": "j", "sid": "s"});
    let header = json!({"alg": "RS256", "kid": state.config.global_kid, "typ": "JWT"});
    let token = state.config.global_key.sign_jwt(&header, &claims).unwrap();
    c.bench_function("gateway_verify_token_in_process", |b| {
        b.iter(|| verify_token(&state.config, &state.keys, p, &token, now).unwrap())
    });
    let models = format!("{}/v1/models", s.gw.base_url());
    let nope = format!("{}/nope", s.gw.base_url());
    let mut g = c.benchmark_group("gateway_loopback_get");
    g.bench_function("models_verified", |b| {
        b.iter(|| {
            s.rt.block_on(async {
                s.client
                    .get(&models)
                    .bearer_auth(&s.token)
                    .send()
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap()
            })
        })
    });
    g.bench_function("unrouted_404", |b| {
        b.iter(|| {
            s.rt.block_on(async {
                s.client
                    .get(&nope)
                    .send()
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap()
            })
        })
    });
    g.finish();
}

fn mint(c: &mut Criterion) {
    let s = setup();
    let url = format!("{}/v1/auth/mint", s.gw.base_url());
    let key = s.gw.credentials().api_key;
    let body = json!({"user_id": "alice", "ttl": 900, "session_id": "s"});
    c.bench_function("gateway_mint_loopback", |b| {
        b.iter(|| {
            s.rt.block_on(async {
                let r = s
                    .client
                    .post(&url)
                    .bearer_auth(key.expose())
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                r.bytes().await.unwrap()
            })
        })
    });
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn summaries() {
    let s = setup();
    let key = s.gw.credentials().api_key;
    let url = format!("{}/v1/auth/mint", s.gw.base_url());
    let body = json!({"user_id": "alice", "ttl": 900});
    let mut mints: Vec<Duration> = s.rt.block_on(async {
        let mut out = Vec::with_capacity(2_000);
        for i in 0..2_200 {
            let t = Instant::now();
            let r = s
                .client
                .post(&url)
                .bearer_auth(key.expose())
                .json(&body)
                .send()
                .await
                .unwrap();
            r.bytes().await.unwrap();
            if i >= 200 {
                out.push(t.elapsed());
            }
        }
        out
    });
    mints.sort_unstable();
    println!(
        "mint over loopback (2,000 sequential): p50 {:?}  p99 {:?}",
        percentile(&mints, 0.5),
        percentile(&mints, 0.99)
    );

    let models = format!("{}/v1/models", s.gw.base_url());
    let nope = format!("{}/nope", s.gw.base_url());
    let mut diffs: Vec<f64> = s.rt.block_on(async {
        let mut out = Vec::with_capacity(5_000);
        for i in 0..5_500 {
            let t = Instant::now();
            s.client
                .get(&models)
                .bearer_auth(&s.token)
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            let verified = t.elapsed();
            let t = Instant::now();
            s.client
                .get(&nope)
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            let plain = t.elapsed();
            if i >= 500 {
                out.push(verified.as_secs_f64() - plain.as_secs_f64());
            }
        }
        out
    });
    diffs.sort_by(|a, b| a.total_cmp(b));
    println!(
        "median of 5,000 paired differences, /v1/models minus /nope (noisy; see BENCHMARKS.md): {:.1} µs",
        diffs[diffs.len() / 2] * 1e6
    );
}

fn streams(c: &mut Criterion) {
    const STREAMS: usize = 1_000;
    // A client and a server socket per stream, plus headroom.
    gateway_support::raise_fd_limit(2 * STREAMS as u64 + 512);
    let s = setup();
    let url = format!("{}/v1/chat/completions", s.gw.base_url());
    // Unlimited idle connections: each iteration reuses the previous one's 1,000.
    let client = reqwest::Client::builder().http1_only().build().unwrap();
    let body = json!({"messages": [{"role": "user", "content": "stream"}], "stream": true});
    let run = || {
        s.rt.block_on(async {
            let tasks: Vec<_> = (0..STREAMS)
                .map(|_| {
                    let (client, url, body, token) =
                        (client.clone(), url.clone(), body.clone(), s.token.clone());
                    tokio::spawn(async move {
                        let r = client
                            .post(&url)
                            .bearer_auth(token)
                            .json(&body)
                            .send()
                            .await
                            .unwrap();
                        assert_eq!(r.status(), 200);
                        let text = r.text().await.unwrap();
                        assert!(text.ends_with("data: [DONE]\n\n"), "completed");
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        })
    };
    run(); // open the 1,000 connections once
    let mut g = c.benchmark_group("gateway_streams");
    g.sample_size(10);
    g.throughput(Throughput::Elements(STREAMS as u64));
    g.bench_function("1000_concurrent_to_completion", |b| b.iter(run));
    g.finish();
}

criterion_group!(benches, chat, verify, mint, streams);

fn main() {
    summaries();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
