//! The audit log (contract section 8): one JSON line per exchange decision and per licence
//! verification, hash-chained, written before the response is sent. The format and the
//! recovery and rotation rules are described in `docs/audit.md`.
//!
//! # Layout
//! - [`record`]: the [`Record`] of a decision and its line format;
//! - [`key`]: the deployment's [`AuditKey`] and the keyed hash of personal identifiers;
//! - [`writer`]: [`AuditLog`]: append, group commit, rotation, recovery on open;
//! - [`sink`]: [`Sink`], where the gateway's records go: this file, or a cluster's database
//!   ([`crate::cluster`]);
//! - [`verify`](mod@verify): checking the chain ([`verify()`], [`verify_files`]);
//! - `files`: the names of rotated segments.
//!
//! # Guarantees
//! - [`AuditLog::append`] has written the whole line (one `write(2)` of the formatted line) when
//!   it returns: a `kill -9` afterwards cannot lose it. Power loss can lose at most the records of
//!   the last `flush_interval` (group commit), or none with a zero interval.
//! - A line is never written in part by a live process; a failed write is cut off again and the
//!   chain does not advance. After a crash, [`AuditLog::open`] cuts off a torn last line and
//!   reports it in [`AuditLog::notices`]; any other break refuses to open unless `force` is set.
//! - A single writer per file: two processes must not open the same path.

pub mod key;
pub mod record;
pub mod sink;
pub mod verify;
pub mod writer;

mod files;

use std::path::PathBuf;

pub use key::{AuditKey, KeyError, SecretFileError, AUDIT_KEY_MIN_BYTES};
pub use record::{CallerId, Kind, Outcome, PersonalId, Record};
pub use sink::{Pending, Sink};
pub use verify::{
    verify, verify_files, BreakKind, ChainBreak, ChainHash, VerifyError, VerifySummary,
};
pub use writer::{AppendReceipt, AuditLog, AuditOptions, OpenNotice};

/// The files of the log at `path`, oldest first: the rotated segments `<path>.1`, `<path>.2`, …
/// then `<path>` itself when it exists.
pub fn log_files(path: &std::path::Path) -> std::io::Result<Vec<PathBuf>> {
    files::Segments::find(path).map(|s| s.all())
}

/// Why the audit log cannot take a record; the request it is about must then fail (5xx).
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit log `{}`: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("audit log chain is broken at {0}; refusing to append (see `force`)")]
    Broken(ChainBreak),
    #[error("audit record is {len} bytes, at most {limit} allowed")]
    TooLong { len: usize, limit: usize },
    #[error("audit record cannot be formatted: {0}")]
    Format(String),
    #[error("audit log unusable after an earlier failure: {reason}")]
    Poisoned { reason: String },
    /// The cluster's database cannot take the record now (contract section 9: 503
    /// `AUDIT_UNAVAILABLE`); it may come back by itself.
    #[error("audit database unavailable: {reason}")]
    Unavailable { reason: String },
}
