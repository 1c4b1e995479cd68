//! The server's log on standard error: `RUST_LOG` filters (default `info`),
//! `TONGBAN_LOG_FORMAT=json` for JSON.
//!
//! Lines below `WARN` (the per-request lines) go through a buffer written out every
//! [`FLUSH_INTERVAL`] or when full: one `write` per batch instead of one per request, which under
//! load is a good part of a request's system time. Warnings and errors are written at once.

use std::io::{BufWriter, IsTerminal, Stderr, Write};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

/// Longest a buffered line waits before it reaches standard error.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(100);
const BUFFER_BYTES: usize = 64 * 1024;

type Buffer = Arc<Mutex<BufWriter<Stderr>>>;

/// Writes what is still buffered when dropped (keep it until the command ends).
pub struct LogGuard(Buffer);

impl Drop for LogGuard {
    fn drop(&mut self) {
        let _ = lock(&self.0).flush();
    }
}

/// Installs the subscriber and starts the flushing thread.
pub fn init() -> LogGuard {
    let buffer: Buffer = Arc::new(Mutex::new(BufWriter::with_capacity(
        BUFFER_BYTES,
        std::io::stderr(),
    )));
    let flusher = Arc::downgrade(&buffer);
    // ends with the process; a failed spawn only means lines wait for a full buffer or the end
    let _ = std::thread::Builder::new()
        .name("log-flush".into())
        .spawn(move || loop {
            std::thread::sleep(FLUSH_INTERVAL);
            match flusher.upgrade() {
                Some(buffer) => {
                    let _ = lock(&buffer).flush();
                }
                None => break,
            }
        });
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(Buffered(buffer.clone()));
    let _ = if std::env::var("TONGBAN_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    LogGuard(buffer)
}

fn lock(buffer: &Buffer) -> MutexGuard<'_, BufWriter<Stderr>> {
    // a panic while holding the lock leaves at worst a partial line: keep logging
    buffer.lock().unwrap_or_else(PoisonError::into_inner)
}

fn is_urgent(level: &Level) -> bool {
    // tracing orders levels by verbosity: ERROR < WARN < INFO
    *level <= Level::WARN
}

struct Buffered(Buffer);

/// One event's writer: appends to the buffer; flushes on drop for warnings and errors.
struct Line<'a> {
    buffer: &'a Buffer,
    urgent: bool,
}

impl<'a> MakeWriter<'a> for Buffered {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Line<'a> {
        Line {
            buffer: &self.0,
            urgent: true,
        }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Line<'a> {
        Line {
            buffer: &self.0,
            urgent: is_urgent(meta.level()),
        }
    }
}

impl Write for Line<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        lock(self.buffer).write(bytes)
    }

    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        lock(self.buffer).write_all(bytes)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        lock(self.buffer).flush()
    }
}

impl Drop for Line<'_> {
    fn drop(&mut self) {
        if self.urgent {
            let _ = lock(self.buffer).flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_and_errors_are_written_at_once_request_lines_are_buffered() {
        assert!(is_urgent(&Level::ERROR) && is_urgent(&Level::WARN));
        assert!(!is_urgent(&Level::INFO) && !is_urgent(&Level::DEBUG) && !is_urgent(&Level::TRACE));
    }
}
