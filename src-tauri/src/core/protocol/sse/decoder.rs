//! A WHATWG `text/event-stream` decoder: bytes in, events out, nothing else.
//!
//! Why our own and not `eventsource-stream`: that crate drops a final event that is not followed
//! by a blank line when the stream ends, and it has no bound on its line or event buffers (a
//! server that never sends a newline grows its buffer until the process dies). Behest streams end
//! exactly like that when a proxy cuts them, so both matter here.
//!
//! Behaviour (the WHATWG "event stream interpretation", plus two deliberate departures):
//! - Lines end with LF, CRLF or a lone CR; a CR at the end of one read and an LF at the start of
//!   the next are one line ending, never two (no phantom blank line, no phantom event).
//! - A UTF-8 byte order mark at the very start is skipped; input may be split at any byte,
//!   including inside a multi-byte character or a BOM.
//! - `:` lines are comments (keep-alives); `data` with or without the space after the colon;
//!   several `data` lines joined with `\n`; `event`, `id` (ignored when it holds NUL) and
//!   `retry` (digits only) fields; unknown fields ignored; a blank line dispatches the event, and
//!   an event with no `data` line dispatches nothing.
//! - Departure 1: [`SseDecoder::finish`] flushes a final event that has no blank line after it
//!   (WHATWG discards it; OpenAI-style servers and cut streams need it kept).
//! - Departure 2: invalid UTF-8 is an error ([`SseError::InvalidUtf8`]) rather than U+FFFD.
//! - Bounds: a line over [`MAX_LINE_BYTES`] or an event's data over [`MAX_EVENT_BYTES`] is an
//!   error before the buffer grows past the bound. After any error the decoder is spent: every
//!   later call returns the same error.
//!
//! Pure and synchronous, so any split of the input can be tested (and fuzzed) without I/O.

use std::time::Duration;

/// The longest line accepted, in bytes, without its line ending (1 MiB).
pub const MAX_LINE_BYTES: usize = 1 << 20;
/// The most `data` one event may carry, in bytes (4 MiB).
pub const MAX_EVENT_BYTES: usize = 4 << 20;

const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event` field; `None` means the default type, `message`.
    pub event: Option<String>,
    /// The `data` lines joined with `\n` (may be empty when a bare `data` line was sent).
    pub data: String,
    /// The last event id seen so far in the stream (it persists across events), if any.
    pub id: Option<String>,
}

/// Why a stream could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SseError {
    /// A line grew past the limit without a line ending.
    #[error("an event-stream line is longer than {limit} bytes")]
    LineTooLong {
        /// The limit in bytes.
        limit: usize,
    },
    /// An event's data grew past the limit without a blank line.
    #[error("an event is larger than {limit} bytes")]
    EventTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// A line is not valid UTF-8.
    #[error("the event stream is not valid utf-8 (line {line})")]
    InvalidUtf8 {
        /// The 1-based number of the offending line.
        line: u64,
    },
}

impl From<SseError> for crate::core::Error {
    fn from(e: SseError) -> Self {
        crate::core::Error::Protocol(e.to_string())
    }
}

/// Where the decoder is in the optional byte order mark at the start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bom {
    /// This many leading bytes matched the BOM so far (0..3), nothing else seen yet.
    Matching(usize),
    /// The start is behind us.
    Done,
}

/// Incremental event-stream decoder. Feed reads with [`SseDecoder::feed`], then call
/// [`SseDecoder::finish`] at end of stream.
#[derive(Debug)]
pub struct SseDecoder {
    max_line: usize,
    max_event: usize,
    bom: Bom,
    /// Bytes of a line whose end has not arrived yet.
    line: Vec<u8>,
    /// The previous read ended in CR: an LF starting the next read belongs to it.
    skip_lf: bool,
    lines: u64,
    data: String,
    has_data: bool,
    event: Option<String>,
    last_id: Option<String>,
    retry: Option<Duration>,
    failed: Option<SseError>,
}

impl Default for SseDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl SseDecoder {
    /// A decoder with the default limits ([`MAX_LINE_BYTES`], [`MAX_EVENT_BYTES`]).
    pub fn new() -> Self {
        Self::with_limits(MAX_LINE_BYTES, MAX_EVENT_BYTES)
    }

    /// A decoder with other limits (tests use small ones).
    pub fn with_limits(max_line: usize, max_event: usize) -> Self {
        SseDecoder {
            max_line,
            max_event,
            bom: Bom::Matching(0),
            line: Vec::new(),
            skip_lf: false,
            lines: 0,
            data: String::new(),
            has_data: false,
            event: None,
            last_id: None,
            retry: None,
            failed: None,
        }
    }

    /// The reconnection time the server last asked for with a `retry` field, if any.
    pub fn retry(&self) -> Option<Duration> {
        self.retry
    }

    /// Decodes one read, appending every event it completes to `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let result = self.feed_inner(chunk, out);
        if let Err(e) = &result {
            self.failed = Some(e.clone());
        }
        result
    }

    /// Ends the stream: a pending line is taken as complete and a pending event is dispatched
    /// (even without a blank line after it).
    pub fn finish(&mut self, out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let result = self.finish_inner(out);
        if let Err(e) = &result {
            self.failed = Some(e.clone());
        }
        result
    }

    fn finish_inner(&mut self, out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        if let Bom::Matching(n) = self.bom {
            // A stream that ended inside what looked like a BOM: those bytes are content.
            self.bom = Bom::Done;
            self.feed_lines(&BOM[..n], out)?;
        }
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            self.process_line(&line, out)?;
        }
        self.dispatch(out);
        Ok(())
    }

    fn feed_inner(&mut self, mut chunk: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        if let Bom::Matching(mut n) = self.bom {
            while n < BOM.len() {
                match chunk.first() {
                    None => {
                        self.bom = Bom::Matching(n);
                        return Ok(());
                    }
                    Some(&b) if b == BOM[n] => {
                        n += 1;
                        chunk = &chunk[1..];
                    }
                    Some(_) => {
                        // Not a BOM after all: the bytes matched so far are content.
                        self.bom = Bom::Done;
                        self.feed_lines(&BOM[..n], out)?;
                        return self.feed_lines(chunk, out);
                    }
                }
            }
            self.bom = Bom::Done;
        }
        self.feed_lines(chunk, out)
    }

    fn feed_lines(&mut self, mut chunk: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        if self.skip_lf && !chunk.is_empty() {
            self.skip_lf = false;
            if chunk[0] == b'\n' {
                chunk = &chunk[1..];
            }
        }
        while !chunk.is_empty() {
            let Some(end) = chunk.iter().position(|&b| b == b'\n' || b == b'\r') else {
                if self.line.len() + chunk.len() > self.max_line {
                    return Err(SseError::LineTooLong {
                        limit: self.max_line,
                    });
                }
                self.line.extend_from_slice(chunk);
                return Ok(());
            };
            if self.line.is_empty() {
                if end > self.max_line {
                    return Err(SseError::LineTooLong {
                        limit: self.max_line,
                    });
                }
                self.process_line(&chunk[..end], out)?;
            } else {
                if self.line.len() + end > self.max_line {
                    return Err(SseError::LineTooLong {
                        limit: self.max_line,
                    });
                }
                let mut line = std::mem::take(&mut self.line);
                line.extend_from_slice(&chunk[..end]);
                let result = self.process_line(&line, out);
                line.clear();
                self.line = line;
                result?;
            }
            let mut next = end + 1;
            if chunk[end] == b'\r' {
                match chunk.get(next) {
                    Some(b'\n') => next += 1,
                    Some(_) => {}
                    None => self.skip_lf = true,
                }
            }
            chunk = &chunk[next..];
        }
        Ok(())
    }

    fn process_line(&mut self, line: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        self.lines += 1;
        if line.is_empty() {
            self.dispatch(out);
            return Ok(());
        }
        let line =
            std::str::from_utf8(line).map_err(|_| SseError::InvalidUtf8 { line: self.lines })?;
        if line.starts_with(':') {
            return Ok(());
        }
        let (field, value) = match line.find(':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(' ').unwrap_or(value))
            }
            None => (line, ""),
        };
        match field {
            "data" => {
                let extra = value.len() + usize::from(self.has_data);
                if self.data.len() + extra > self.max_event {
                    return Err(SseError::EventTooLarge {
                        limit: self.max_event,
                    });
                }
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "event" => self.event = Some(value.to_string()),
            "id" if !value.contains('\0') => self.last_id = Some(value.to_string()),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                if let Ok(ms) = value.parse::<u64>() {
                    self.retry = Some(Duration::from_millis(ms));
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        let event = self.event.take();
        if !self.has_data {
            return;
        }
        self.has_data = false;
        out.push(SseEvent {
            event: event.filter(|e| !e.is_empty()),
            data: std::mem::take(&mut self.data),
            id: self.last_id.clone().filter(|id| !id.is_empty()),
        });
    }
}
