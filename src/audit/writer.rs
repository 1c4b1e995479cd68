//! The writer: appends chained lines, recovers after a crash, rotates by size and fsyncs by group
//! commit.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use super::files::{rotated_path, sync_dir, Segments};
use super::record::{format_line, line_fields, Record};
use super::verify::{check, BreakKind, ChainBreak, ChainHash, Start, VerifyError, MAX_LINE_BYTES};
use super::AuditError;
use crate::time::{format_rfc3339, Clock, SystemClock};

/// Default group-commit interval (contract section 8: at least every 100 ms).
pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_millis(100);

/// Default size at which the current file is rotated.
pub const DEFAULT_MAX_BYTES: u64 = 64 << 20;

/// How an [`AuditLog`] behaves.
#[derive(Clone)]
pub struct AuditOptions {
    /// Longest time a written record waits for `fsync`; `Duration::ZERO` fsyncs every record
    /// before [`AuditLog::append`] returns.
    pub flush_interval: Duration,
    /// A record that would take the current file past this size goes to a new file.
    pub max_bytes: u64,
    /// Check every rotated segment on open, not only the current file and the one before it.
    pub full_check_on_open: bool,
    /// When the chain is broken (other than a torn last line), move the current file aside and
    /// start a new one continuing from its last line, instead of refusing to open.
    pub force: bool,
    /// Where `ts` comes from.
    pub clock: Arc<dyn Clock>,
}

impl Default for AuditOptions {
    fn default() -> Self {
        AuditOptions {
            flush_interval: DEFAULT_FLUSH_INTERVAL,
            max_bytes: DEFAULT_MAX_BYTES,
            full_check_on_open: false,
            force: false,
            clock: Arc::new(SystemClock),
        }
    }
}

impl std::fmt::Debug for AuditOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditOptions")
            .field("flush_interval", &self.flush_interval)
            .field("max_bytes", &self.max_bytes)
            .field("full_check_on_open", &self.full_check_on_open)
            .field("force", &self.force)
            .finish_non_exhaustive()
    }
}

/// What [`AuditLog::open`] had to repair; also logged with `tracing::warn!`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenNotice {
    /// A torn last line (a crash while writing) was cut off.
    TruncatedTornLine {
        file: PathBuf,
        line: u64,
        bytes: u64,
    },
    /// The chain was broken and `force` was set: the current file was moved to `moved_to`
    /// (when it existed) and a new segment started after its last line.
    ForcedNewSegment {
        broken: ChainBreak,
        moved_to: Option<PathBuf>,
    },
}

/// The written record: its `seq` and the hash of its line (the next record's `prev`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendReceipt {
    pub seq: u64,
    pub hash: ChainHash,
}

/// An append-only, hash-chained audit log. Share it with an `Arc`; appends are serialized.
pub struct AuditLog {
    shared: Arc<Shared>,
    flusher: Option<JoinHandle<()>>,
    notices: Vec<OpenNotice>,
    /// Async appenders take turns here, so that a task waiting for the chain yields its thread
    /// instead of blocking it.
    turn: tokio::sync::Mutex<()>,
}

struct Shared {
    path: PathBuf,
    max_bytes: u64,
    sync_each: bool,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
    /// Signals the flusher to stop (with `State::closing`).
    wake: Condvar,
}

struct State {
    file: Arc<File>,
    /// The file rotated away from, until it is fsynced (with the directory) before the next
    /// fsync of the current one: rotation never waits for the disk.
    retired: Option<Arc<File>>,
    /// The last written record's seq and line hash.
    seq: u64,
    prev: ChainHash,
    /// Size of the current file.
    bytes: u64,
    /// The number the next rotation gives the current file.
    next_number: u64,
    /// The seq known to be on disk.
    synced_seq: u64,
    /// Set after a failure that leaves the file in doubt; every later append fails.
    poisoned: Option<String>,
    closing: bool,
}

impl AuditLog {
    /// Opens (or creates) the log at `path` and continues its chain; see the module docs for the
    /// recovery rules.
    pub fn open(path: impl AsRef<Path>, options: AuditOptions) -> Result<AuditLog, AuditError> {
        let path = path.as_ref().to_owned();
        let io = |source| AuditError::Io {
            path: path.clone(),
            source,
        };
        let segments = Segments::find(&path).map_err(io)?;
        let all = segments.all();
        let (files, start) = if options.full_check_on_open || all.len() <= 2 {
            (all.as_slice(), Start::Genesis)
        } else {
            (
                all.get(all.len() - 2..).unwrap_or_default(),
                Start::Anywhere,
            )
        };
        let outcome = check(files, start).map_err(|e| match e {
            VerifyError::Io { path, source } => AuditError::Io { path, source },
            other => AuditError::Io {
                path: path.clone(),
                source: io::Error::other(other.to_string()),
            },
        })?;
        let mut notices = Vec::new();
        let (mut seq, mut prev) = (outcome.summary.last_seq.unwrap_or(0), outcome.summary.head);
        let mut next_number = segments.next_number();
        match outcome.broken {
            None => {}
            Some(b) if is_recoverable_tear(&b, &segments) => {
                let file = OpenOptions::new().write(true).open(&b.file).map_err(io)?;
                let len = file.metadata().map_err(io)?.len();
                file.set_len(b.offset).map_err(io)?;
                file.sync_all().map_err(io)?;
                tracing::warn!(file = %b.file.display(), line = b.line, "audit log: torn last line truncated");
                notices.push(OpenNotice::TruncatedTornLine {
                    file: b.file.clone(),
                    line: b.line,
                    bytes: len.saturating_sub(b.offset),
                });
            }
            Some(b) if options.force => {
                (seq, prev) = last_line(files).map_err(io)?;
                let moved_to = if segments.current.is_some() {
                    let to = rotated_path(&path, next_number);
                    fs::rename(&path, &to).map_err(io)?;
                    next_number += 1;
                    Some(to)
                } else {
                    None
                };
                tracing::warn!(%b, "audit log: chain broken, new segment started (force)");
                notices.push(OpenNotice::ForcedNewSegment {
                    broken: b,
                    moved_to,
                });
            }
            Some(b) => return Err(AuditError::Broken(b)),
        }
        let created = !path.exists();
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io)?;
        if created {
            sync_dir(&path).map_err(io)?;
        }
        let bytes = file.metadata().map_err(io)?.len();
        let shared = Arc::new(Shared {
            path,
            max_bytes: options.max_bytes,
            sync_each: options.flush_interval.is_zero(),
            clock: options.clock,
            state: Mutex::new(State {
                file: Arc::new(file),
                retired: None,
                seq,
                prev,
                bytes,
                next_number,
                synced_seq: seq,
                poisoned: None,
                closing: false,
            }),
            wake: Condvar::new(),
        });
        let flusher = if shared.sync_each {
            None
        } else {
            let shared = shared.clone();
            let interval = options.flush_interval;
            let spawned = std::thread::Builder::new()
                .name("audit-fsync".into())
                .spawn(move || shared.flush_loop(interval));
            Some(spawned.map_err(|source| AuditError::Io {
                path: PathBuf::from("audit-fsync thread"),
                source,
            })?)
        };
        Ok(AuditLog {
            shared,
            flusher,
            notices,
            turn: tokio::sync::Mutex::new(()),
        })
    }

    /// What `open` repaired.
    pub fn notices(&self) -> &[OpenNotice] {
        &self.notices
    }

    /// Whether every record is fsynced before [`AuditLog::append`] returns.
    pub fn fsyncs_each_record(&self) -> bool {
        self.shared.sync_each
    }

    /// The path of the current file.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// Writes the record as the next line before returning (so a killed process cannot lose it),
    /// fsyncing it too when `flush_interval` is zero. On error nothing was added to the chain.
    pub fn append(&self, record: &Record) -> Result<AppendReceipt, AuditError> {
        let fields = line_fields(record).map_err(|e| AuditError::Format(e.to_string()))?;
        self.append_fields(&fields)
    }

    /// [`append`](Self::append) for async callers: the record is formatted first, then the task
    /// waits its turn without blocking its thread.
    pub async fn append_async(&self, record: &Record) -> Result<AppendReceipt, AuditError> {
        let fields = line_fields(record).map_err(|e| AuditError::Format(e.to_string()))?;
        let _turn = self.turn.lock().await;
        self.append_fields(&fields)
    }

    fn append_fields(&self, fields: &[u8]) -> Result<AppendReceipt, AuditError> {
        let (receipt, file) = {
            let mut state = self.shared.lock();
            if let Some(reason) = &state.poisoned {
                return Err(AuditError::Poisoned {
                    reason: reason.clone(),
                });
            }
            let seq = state
                .seq
                .checked_add(1)
                .ok_or_else(|| AuditError::Poisoned {
                    reason: "seq exhausted".into(),
                })?;
            let ts = format_rfc3339(self.shared.clock.now());
            let line = format_line(seq, &ts, &state.prev.to_string(), fields);
            if line.len() > MAX_LINE_BYTES {
                return Err(AuditError::TooLong {
                    len: line.len(),
                    limit: MAX_LINE_BYTES,
                });
            }
            let len = u64::try_from(line.len()).unwrap_or(u64::MAX);
            if state.bytes > 0 && state.bytes.saturating_add(len) > self.shared.max_bytes {
                self.shared.rotate(&mut state)?;
            }
            if let Err(source) = (&*state.file).write_all(&line) {
                // Cut any partial line off so the next record follows a whole one.
                if let Err(e) = state.file.set_len(state.bytes) {
                    state.poisoned = Some(format!("cannot undo a failed write: {e}"));
                }
                return Err(self.shared.io(source));
            }
            state.bytes += len;
            state.seq = seq;
            state.prev = ChainHash::of_line(line.strip_suffix(b"\n").unwrap_or(&line));
            let receipt = AppendReceipt {
                seq,
                hash: state.prev,
            };
            (receipt, self.shared.sync_each.then(|| state.file.clone()))
        };
        if let Some(file) = file {
            self.shared.sync(&file, receipt.seq)?;
        }
        Ok(receipt)
    }

    /// Fsyncs everything written so far.
    pub fn sync(&self) -> Result<(), AuditError> {
        let (file, seq) = {
            let state = self.shared.lock();
            (state.file.clone(), state.seq)
        };
        self.shared.sync(&file, seq)
    }

    /// The last record's seq and line hash.
    pub fn head(&self) -> (u64, ChainHash) {
        let state = self.shared.lock();
        (state.seq, state.prev)
    }
}

impl Drop for AuditLog {
    fn drop(&mut self) {
        self.shared.lock().closing = true;
        self.shared.wake.notify_all();
        if let Some(flusher) = self.flusher.take() {
            let _ = flusher.join();
        }
        if let Err(e) = self.sync() {
            tracing::error!(error = %e, "audit log: final fsync failed");
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-advanced chain: seq and prev are set
        // together after the write.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn io(&self, source: io::Error) -> AuditError {
        AuditError::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// `fsync`s `file`, which holds every record up to `seq`, after the file rotated away from
    /// (and the directory), if that is not on disk yet. A failed fsync poisons the log: the
    /// kernel may have dropped the pages, so what is on disk is unknown.
    fn sync(&self, file: &File, seq: u64) -> Result<(), AuditError> {
        let retired = self.lock().retired.take();
        let synced = retired
            .map_or(Ok(()), |old| {
                old.sync_data().and_then(|()| sync_dir(&self.path))
            })
            .and_then(|()| file.sync_data());
        match synced {
            Ok(()) => {
                let mut state = self.lock();
                state.synced_seq = state.synced_seq.max(seq);
                Ok(())
            }
            Err(source) => {
                self.lock().poisoned = Some(format!("fsync failed: {source}"));
                Err(self.io(source))
            }
        }
    }

    /// The group commit: every `interval`, fsync what was written since the last time.
    fn flush_loop(&self, interval: Duration) {
        let mut state = self.lock();
        loop {
            // Checked before waiting too: a wake-up sent while fsyncing is not kept.
            if state.closing || state.poisoned.is_some() {
                return;
            }
            state = match self.wake.wait_timeout(state, interval) {
                Ok((guard, _)) => guard,
                Err(p) => p.into_inner().0,
            };
            if state.closing || state.poisoned.is_some() {
                return;
            }
            if state.synced_seq == state.seq {
                continue;
            }
            let (file, seq) = (state.file.clone(), state.seq);
            drop(state);
            if let Err(e) = self.sync(&file, seq) {
                tracing::error!(error = %e, "audit log: fsync failed; refusing further records");
            }
            state = self.lock();
        }
    }

    /// Moves the full current file to `<path>.<n>` and starts an empty one, without waiting for
    /// the disk: the old file and the directory are fsynced by the next sync (group commit or
    /// per record), before the new file is, so power loss loses no more than the records since
    /// the last sync, as without rotation.
    fn rotate(&self, state: &mut State) -> Result<(), AuditError> {
        let to = rotated_path(&self.path, state.next_number);
        if to.exists() {
            return Err(self.io(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("rotation target `{}` exists", to.display()),
            )));
        }
        fs::rename(&self.path, &to).map_err(|e| self.io(e))?;
        state.next_number += 1;
        let created = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&self.path);
        match created {
            Ok(file) => {
                let old = std::mem::replace(&mut state.file, Arc::new(file));
                // a rotation before the previous one was synced: sync that one now
                if let Some(unsynced) = state.retired.replace(old) {
                    unsynced.sync_data().map_err(|e| self.io(e))?;
                }
                state.bytes = 0;
                tracing::info!(to = %to.display(), "audit log rotated");
                Ok(())
            }
            Err(e) => {
                state.poisoned = Some(format!("rotation left no current file: {e}"));
                Err(self.io(e))
            }
        }
    }
}

/// A torn last line at the end of the chain: in the current file, or in the newest segment
/// when the current file is empty or missing (power lost after a rotation, before the group
/// commit had synced the rotated file).
fn is_recoverable_tear(b: &ChainBreak, segments: &Segments) -> bool {
    let current_is_empty = segments
        .current
        .as_ref()
        .is_none_or(|c| fs::metadata(c).is_ok_and(|m| m.len() == 0));
    matches!(b.kind, BreakKind::TornLastLine { .. })
        && (segments.current.as_ref() == Some(&b.file)
            || (current_is_empty && segments.rotated.last().map(|(_, p)| p) == Some(&b.file)))
}

/// For `force`: the highest seq and the hash of the last whole line in `files`, whatever the
/// state of the chain.
fn last_line(files: &[PathBuf]) -> io::Result<(u64, ChainHash)> {
    let (mut seq, mut hash) = (0, ChainHash::ZERO);
    for path in files {
        let data = fs::read(path)?;
        for line in data.split_inclusive(|&b| b == b'\n') {
            let Some(body) = line.strip_suffix(b"\n") else {
                continue;
            };
            hash = ChainHash::of_line(body);
            if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) {
                if let Some(s) = value.get("seq").and_then(serde_json::Value::as_u64) {
                    seq = seq.max(s);
                }
            }
        }
    }
    Ok((seq, hash))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{CallerId, Outcome};

    fn record() -> Record {
        Record::licence_verification(
            "r",
            CallerId::new("420100", "MARKET_REG", "org"),
            Some("BUSINESS_LICENCE".into()),
            None,
            Outcome::Valid,
        )
    }

    #[test]
    fn a_failed_write_does_not_advance_the_chain() {
        // Every write to /dev/full fails with ENOSPC; a character device cannot be truncated
        // either, so the log is then poisoned.
        let log = AuditLog::open("/dev/full", AuditOptions::default()).unwrap();
        assert!(matches!(log.append(&record()), Err(AuditError::Io { .. })));
        assert_eq!(log.head(), (0, ChainHash::ZERO));
        assert!(matches!(
            log.append(&record()),
            Err(AuditError::Poisoned { .. })
        ));
    }

    #[test]
    fn fsync_per_record_and_explicit_sync() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.jsonl");
        let options = AuditOptions {
            flush_interval: Duration::ZERO,
            ..AuditOptions::default()
        };
        let log = AuditLog::open(&path, options).unwrap();
        let receipt = log.append(&record()).unwrap();
        assert_eq!(receipt.seq, 1);
        assert_eq!(log.shared.lock().synced_seq, 1);
        log.sync().unwrap();
        assert_eq!(log.head(), (1, receipt.hash));
    }

    #[test]
    fn oversized_records_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::open(dir.path().join("a.jsonl"), AuditOptions::default()).unwrap();
        let mut big = record();
        big.request_id = "x".repeat(MAX_LINE_BYTES);
        assert!(matches!(log.append(&big), Err(AuditError::TooLong { .. })));
        assert_eq!(log.append(&record()).unwrap().seq, 1);
    }

    #[test]
    fn rotation_leaves_the_old_file_to_the_next_sync() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.jsonl");
        let options = AuditOptions {
            flush_interval: Duration::from_secs(3600),
            max_bytes: 300,
            ..AuditOptions::default()
        };
        let log = AuditLog::open(&path, options).unwrap();
        log.append(&record()).unwrap();
        assert!(log.shared.lock().retired.is_none());
        log.append(&record()).unwrap();
        // rotated, the old file not yet on disk: the appender did not wait for it
        assert!(log.shared.lock().retired.is_some());
        assert!(rotated_path(&path, 1).exists());
        log.sync().unwrap();
        assert!(log.shared.lock().retired.is_none());
        assert_eq!(log.shared.lock().synced_seq, 2);
    }
}
