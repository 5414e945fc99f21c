//! Log setup: a `tracing` subscriber writing to stderr through [`ScrubbingWriter`], so that
//! whatever a log line carries, no JWT, API key, bearer credential or PEM reaches the output.
//!
//! The level comes from `BEHEST_LOG` (an `EnvFilter` directive such as `debug` or
//! `behest_desktop=trace`), default `warn`. Prompts and completions are never logged at INFO or
//! above by the core.

use std::io::Write;

use tracing_subscriber::fmt::MakeWriter;

use crate::core::redact::scrub;

/// The environment variable holding the log filter.
pub const LOG_ENV: &str = "BEHEST_LOG";

/// Installs the global subscriber (once; later calls do nothing).
pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_env(LOG_ENV)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    // A second init (tests, or the app after a headless command) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(ScrubbingWriter::new(std::io::stderr))
        .with_target(true)
        .try_init();
}

/// Reports a panic on stderr, scrubbed, in one line. Release builds abort on panic (see
/// `[profile.release]`), so this line is all that is left of it; the default hook would print
/// the payload unscrubbed.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let line = panic_report(info.location(), info.payload());
        let _ = std::io::stderr().write_all(line.as_bytes());
    }));
}

/// The line [`install_panic_hook`] writes: where, and the message (secrets scrubbed).
pub fn panic_report(
    location: Option<&std::panic::Location<'_>>,
    payload: &(dyn std::any::Any + Send),
) -> String {
    let place = location
        .map(|l| format!("{}:{}", l.file(), l.line()))
        .unwrap_or_else(|| "an unknown place".into());
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into());
    scrub(&format!(
        "behest-desktop stopped on a bug at {place}: {}\n",
        message.replace('\n', " ")
    ))
}

/// A `MakeWriter` that scrubs secrets from each formatted record before it reaches `inner`.
#[derive(Debug, Clone)]
pub struct ScrubbingWriter<M> {
    inner: M,
}

impl<M> ScrubbingWriter<M> {
    /// Wraps another `MakeWriter`.
    pub fn new(inner: M) -> Self {
        ScrubbingWriter { inner }
    }
}

/// One record being written: buffered, scrubbed and flushed as a whole on drop.
pub struct ScrubbedRecord<W: Write> {
    buffer: Vec<u8>,
    inner: W,
}

impl<W: Write> Write for ScrubbedRecord<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<W: Write> Drop for ScrubbedRecord<W> {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.buffer);
        // A log sink that fails has nowhere to report its own failure.
        let _ = self.inner.write_all(scrub(&text).as_bytes());
        let _ = self.inner.flush();
    }
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for ScrubbingWriter<M> {
    type Writer = ScrubbedRecord<M::Writer>;
    fn make_writer(&'a self) -> Self::Writer {
        ScrubbedRecord {
            buffer: Vec::new(),
            inner: self.inner.make_writer(),
        }
    }
}

/// Test support: a `MakeWriter` that keeps what is written, to assert on log lines.
#[cfg(test)]
#[derive(Debug, Clone, Default)]
pub(crate) struct LogSink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

#[cfg(test)]
impl LogSink {
    /// What was written so far.
    pub fn text(&self) -> String {
        self.0
            .lock()
            .map(|v| String::from_utf8_lossy(&v).into_owned())
            .unwrap_or_default()
    }
}

#[cfg(test)]
impl Write for LogSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
impl<'a> MakeWriter<'a> for LogSink {
    type Writer = LogSink;
    fn make_writer(&'a self) -> LogSink {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_is_reported_in_one_scrubbed_line() {
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlc2lnbmF0dXJl";
        let payload: Box<dyn std::any::Any + Send> = Box::new(format!("bad token {jwt}\nnext"));
        let line = panic_report(Some(std::panic::Location::caller()), payload.as_ref());
        assert!(
            line.starts_with("behest-desktop stopped on a bug at "),
            "{line}"
        );
        assert!(line.contains("logging.rs:"), "{line}");
        assert!(!line.contains(jwt) && line.contains("bad token"), "{line}");
        assert_eq!(line.matches('\n').count(), 1, "{line}");
        let line = panic_report(None, &5_u8);
        assert!(line.contains("an unknown place: (no message)"), "{line}");
    }

    #[test]
    fn log_lines_are_scrubbed() {
        let sink = LogSink::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(ScrubbingWriter::new(sink.clone()))
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::trace!(
                header = "Bearer eyJhbGciOiJSUzI1NiJ9.eyJ1aWQiOiJhIn0.c2ln",
                "sending"
            );
            tracing::info!("key behest_sk_live_0123456789abcdef0123456789abcdef in use");
        });
        let out = sink.text();
        assert!(out.contains("sending"), "{out}");
        assert!(!out.contains("eyJhbGci"), "{out}");
        assert!(!out.contains("0123456789abcdef"), "{out}");
        assert!(out.matches("[redacted]").count() >= 2, "{out}");
    }
}
