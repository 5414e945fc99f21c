//! A test-only process that writes into the history through the real streaming writer, so the
//! integration tests can kill it with SIGKILL mid-stream or run it beside another writer.
//!
//! `history_writer stream <data dir>`: starts an exchange, prints `<conversation id> <message id>`
//! on stdout, then appends `chunk-000000 `, `chunk-000001 `, ... forever (one per millisecond).
//!
//! `history_writer finite <data dir> <exchanges> <chunks>`: records `<exchanges>` exchanges of
//! `<chunks>` chunks each through the async API, finishes each as complete, prints `done`.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use behest_desktop::core::history::{
    ChatParams, History, HistoryOptions, HistoryPaths, Metrics, Outcome,
};
use behest_desktop::core::Result;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let result = match args.get(1).map(String::as_str) {
        Some("stream") if args.len() == 3 => stream(&args[2]),
        Some("finite") if args.len() == 5 => finite(&args[2], &args[3], &args[4]),
        _ => {
            eprintln!("usage: history_writer stream DIR | finite DIR EXCHANGES CHUNKS");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("history_writer: {e}");
            ExitCode::from(1)
        }
    }
}

fn params() -> ChatParams {
    ChatParams {
        model: Some("writer-model".into()),
        ..ChatParams::default()
    }
}

fn stream(dir: &str) -> Result<()> {
    let history = History::open(HistoryPaths::in_dir(dir), HistoryOptions::default())?;
    let mut writer = history.begin_exchange_blocking(None, "tell me a long story", &params())?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{} {}", writer.conversation().id, writer.message_id())?;
    out.flush()?;
    for n in 0u64.. {
        writer.append(&format!("chunk-{n:06} "))?;
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

fn finite(dir: &str, exchanges: &str, chunks: &str) -> Result<()> {
    let bad = |what: &str| behest_desktop::core::Error::InvalidInput {
        what: what.into(),
        reason: "expected a number".into(),
    };
    let exchanges: usize = exchanges.parse().map_err(|_| bad("exchanges"))?;
    let chunks: usize = chunks.parse().map_err(|_| bad("chunks"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let history =
            History::open_async(HistoryPaths::in_dir(dir), HistoryOptions::default()).await?;
        for e in 0..exchanges {
            let exchange = history
                .begin_exchange(None, format!("child question {e}"), params())
                .await?;
            for n in 0..chunks {
                exchange.append(&format!("child-{e}-{n} "))?;
                tokio::task::yield_now().await;
            }
            exchange
                .finish(Outcome::Complete(Metrics::default()))
                .await?;
        }
        Ok::<(), behest_desktop::core::Error>(())
    })?;
    writeln!(std::io::stdout().lock(), "done")?;
    Ok(())
}
