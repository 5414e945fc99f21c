//! A test-only process that opens the OS keyring the way the app does and reports its state, so
//! a test can run it with a broken D-Bus address and temporary HOME/XDG dirs without touching
//! its own environment.
//!
//! `keyring_probe <service>`: probes the keyring, stores and reads back one secret, deletes it,
//! and prints `state=persisted` or `state=memory-only`, then `probe_ms=<ms>` and
//! `round_trip=ok|failed`.

use std::io::Write;
use std::process::ExitCode;

use behest_desktop::core::redact::Secret;
use behest_desktop::core::secrets::{KeyringState, KeyringStore, SecretStore};

fn main() -> ExitCode {
    let service = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "behest-desktop-probe".into());
    let Ok(rt) = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    else {
        return ExitCode::from(1);
    };
    let (state, ms, round_trip) = rt.block_on(async {
        let store = KeyringStore::new(service);
        let started = std::time::Instant::now();
        let state = store.probe().await;
        let ms = started.elapsed().as_millis();
        let value = Secret::new("probe-value");
        let ok = store.set("probe-entry", &value).await.is_ok()
            && store.get("probe-entry").await.ok().flatten() == Some(value)
            && store.delete("probe-entry").await.is_ok();
        (state, ms, ok)
    });
    let state = match state {
        KeyringState::Persisted => "persisted",
        KeyringState::MemoryOnly { .. } => "memory-only",
    };
    let mut out = std::io::stdout().lock();
    let written = writeln!(
        out,
        "state={state}\nprobe_ms={ms}\nround_trip={}",
        if round_trip { "ok" } else { "failed" }
    );
    if written.is_err() {
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
