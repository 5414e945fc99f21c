//! Times our local signer for `tests/sdk/bench_sign.py`, which runs it beside the official
//! SDK on the same key: `sign_bench <pem file> <n>` prints
//! `{"median_us":…,"mean_us":…,"n":…}` (the key is parsed once and 50 signs warm up first).

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use behest_desktop::core::auth::{LocalSigner, MintDefaults, MintParams, SystemClock};
use behest_desktop::core::config::SigningConfig;
use behest_desktop::core::redact::Secret;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(path), Some(n)) = (
        args.get(1),
        args.get(2).and_then(|n| n.parse::<usize>().ok()),
    ) else {
        eprintln!("usage: sign_bench <pem file> <n>");
        return ExitCode::from(2);
    };
    let Ok(pem) = std::fs::read_to_string(path) else {
        eprintln!("sign_bench: cannot read the key file");
        return ExitCode::from(2);
    };
    let signing = SigningConfig {
        pem: Secret::new(pem),
        kid: "kid_bench".into(),
        tenant_id: "ten_bench".into(),
        project_id: "prj_bench".into(),
    };
    let defaults = MintDefaults {
        user_id: "alice".into(),
        ttl: 3600,
        tier: None,
    };
    let signer = match LocalSigner::new(
        "localSign",
        &signing,
        "http://127.0.0.1:1",
        "https://api.behest.ai",
        "behest",
        defaults,
        Arc::new(SystemClock),
    ) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("sign_bench: {e}");
            return ExitCode::from(2);
        }
    };
    let params = MintParams {
        user_id: Some("alice".into()),
        session_id: Some("sess-bench".into()),
        ..MintParams::default()
    };
    for _ in 0..50 {
        if signer.sign(&params).is_err() {
            return ExitCode::from(1);
        }
    }
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t0 = Instant::now();
        if signer.sign(std::hint::black_box(&params)).is_err() {
            return ExitCode::from(1);
        }
        samples.push(t0.elapsed().as_secs_f64() * 1e6);
    }
    samples.sort_by(f64::total_cmp);
    let median = samples.get(n / 2).copied().unwrap_or(0.0);
    let mean = samples.iter().sum::<f64>() / n.max(1) as f64;
    let line = format!("{{\"median_us\":{median:.2},\"mean_us\":{mean:.2},\"n\":{n}}}");
    if writeln!(std::io::stdout().lock(), "{line}").is_err() {
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
