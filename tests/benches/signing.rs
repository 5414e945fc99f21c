//! Local signing cost (µs per RS256 token, key parsed once) and the cost of serving a cached
//! token (`Session::bearer()` on a warm cache; target under 1 µs).
//!
//! Run: `cargo bench -p behest-desktop-tests --bench signing`. Compare with the Python SDK's
//! `auth.mint()` in sign mode: `tests/sdk/bench_sign.py` (same RSA-2048 key size).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use behest_desktop::core::auth::{LocalSigner, MintDefaults, MintParams, SystemClock};
use behest_desktop::core::config::SigningConfig;
use behest_desktop::core::keys::RsaKey;
use behest_desktop::core::secrets::MemoryStore;
use behest_desktop::core::session::{Session, SessionOptions};
use behest_desktop::core::token::TokenSource;
use criterion::{criterion_group, criterion_main, Criterion};
use futures_util::FutureExt as _;

fn signer() -> LocalSigner {
    let key = RsaKey::generate().expect("key");
    let signing = SigningConfig {
        pem: key.private_pem(),
        kid: "kid_bench".into(),
        tenant_id: "ten_bench".into(),
        project_id: "prj_bench".into(),
    };
    let defaults = MintDefaults {
        user_id: "alice".into(),
        ttl: 3600,
        tier: None,
    };
    LocalSigner::new(
        "localSign",
        &signing,
        "http://127.0.0.1:1",
        "https://api.behest.ai",
        "behest",
        defaults,
        Arc::new(SystemClock),
    )
    .expect("signer")
}

fn bench(c: &mut Criterion) {
    let s = signer();
    let params = MintParams {
        user_id: Some("alice".into()),
        session_id: Some("sess-bench".into()),
        ..MintParams::default()
    };
    c.bench_function("local_sign_rs256_2048", |b| {
        b.iter(|| s.sign(std::hint::black_box(&params)).expect("sign"))
    });

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let session = Session::new(
        Arc::new(signer()),
        Arc::new(MemoryStore::new()),
        Arc::new(SystemClock),
        SessionOptions::default(),
    );
    rt.block_on(session.bearer()).expect("first token");
    // On a warm cache the future is ready on its first poll: no runtime needed.
    c.bench_function("cached_bearer_warm", |b| {
        b.iter(|| {
            session
                .bearer()
                .now_or_never()
                .expect("ready at once")
                .expect("token")
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
