//! The server's log on standard error: `RUST_LOG` filters (default `info`),
//! `TONGBAN_LOG_FORMAT=json` for JSON.
//!
//! Lines below `WARN` (the per-request lines) go through a buffer written out every
//! [`FLUSH_INTERVAL`] or when full: one `write` per batch instead of one per request, which under
//! load is a good part of a request's system time. Warnings and errors are written at once.
//!
//! rustls warns for every client that sends an IP address as its SNI (curl, wrk and many HTTP
//! libraries do when given an address): the first such warning is logged, later ones are not.

use std::fmt;
use std::io::{BufWriter, IsTerminal, Stderr, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

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
    let once = SniNoticeOnce::default();
    let _ = if std::env::var("TONGBAN_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().finish().with(once).try_init()
    } else {
        builder.finish().with(once).try_init()
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

/// The start of rustls' warning about an IP address sent as SNI.
const SNI_IP_NOTICE: &str = "Illegal SNI extension: ignoring IP address";

/// Lets the first [`SNI_IP_NOTICE`] warning through and drops the later ones.
#[derive(Default)]
struct SniNoticeOnce(AtomicBool);

impl<S: Subscriber> Layer<S> for SniNoticeOnce {
    fn event_enabled(&self, event: &Event<'_>, _: Context<'_, S>) -> bool {
        if *event.metadata().level() != Level::WARN {
            return true;
        }
        let mut message = MessageStart::default();
        event.record(&mut message);
        !message.is_sni_notice || !self.0.swap(true, Ordering::Relaxed)
    }
}

/// Whether an event's message starts with [`SNI_IP_NOTICE`].
#[derive(Default)]
struct MessageStart {
    is_sni_notice: bool,
}

impl Visit for MessageStart {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.is_sni_notice = value.starts_with(SNI_IP_NOTICE);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.is_sni_notice = format!("{value:?}").starts_with(SNI_IP_NOTICE);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts the events that reach it.
    struct Count(Arc<std::sync::atomic::AtomicUsize>);

    impl<S: Subscriber> Layer<S> for Count {
        fn on_event(&self, _: &Event<'_>, _: Context<'_, S>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn the_sni_ip_notice_is_logged_once() {
        let seen = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let subscriber = tracing_subscriber::registry()
            .with(Count(seen.clone()))
            .with(SniNoticeOnce::default());
        tracing::subscriber::with_default(subscriber, || {
            for _ in 0..3 {
                tracing::warn!(
                    "Illegal SNI extension: ignoring IP address presented as hostname (3132372e302e302e31)"
                );
            }
            tracing::warn!("another warning");
            tracing::info!("Illegal SNI extension: ignoring IP address, but at info");
        });
        assert_eq!(seen.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn warnings_and_errors_are_written_at_once_request_lines_are_buffered() {
        assert!(is_urgent(&Level::ERROR) && is_urgent(&Level::WARN));
        assert!(!is_urgent(&Level::INFO) && !is_urgent(&Level::DEBUG) && !is_urgent(&Level::TRACE));
    }
}
