//! Checking the hash chain: every line is a complete record, `seq` goes up by one, and `prev` is
//! the SHA-256 of the previous line. The first break is reported with its file, line and kind.

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::files::Segments;
use super::record::{is_hash_hex, is_node_name, Record, LINE_KEYS, NODE_KEY};
use crate::crypto::decode_hex;
use crate::crypto::{hex, sha256};
use crate::time::parse_rfc3339;

/// Longest accepted line, newline included: a record is well under 4 KiB; a longer line is not one
/// the writer made, and reading stops there.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// A SHA-256 in the chain: the hash of one line, or the all-zero start.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChainHash(pub [u8; 32]);

impl ChainHash {
    /// The `prev` of the very first record.
    pub const ZERO: ChainHash = ChainHash([0; 32]);

    /// The hash of a line's bytes (without its newline).
    pub fn of_line(line: &[u8]) -> ChainHash {
        ChainHash(sha256(line))
    }

    /// From 64 lower-case hex characters.
    pub fn from_hex(text: &str) -> Option<ChainHash> {
        if !is_hash_hex(text) {
            return None;
        }
        decode_hex(text)?.try_into().ok().map(ChainHash)
    }
}

impl fmt::Display for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex(&self.0))
    }
}

impl fmt::Debug for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChainHash({self})")
    }
}

/// An intact chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifySummary {
    pub files: usize,
    pub records: u64,
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    /// The hash of the last line (the next record's `prev`); compare it with a copy kept
    /// elsewhere to detect a change of the last record or a rewritten chain.
    pub head: ChainHash,
}

impl fmt::Display for VerifySummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let files = match self.files {
            1 => "1 file".to_string(),
            n => format!("{n} files"),
        };
        match (self.first_seq, self.last_seq) {
            (Some(first), Some(last)) => write!(
                f,
                "{} records in {files}, seq {first}..{last}, intact",
                self.records
            ),
            _ => write!(f, "0 records in {files}, intact"),
        }
    }
}

/// Where and how the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainBreak {
    pub file: PathBuf,
    /// 1-based line number in `file`.
    pub line: u64,
    /// Byte offset of the line's start in `file`.
    pub offset: u64,
    /// The line's `seq`, when it has one.
    pub seq: Option<u64>,
    pub kind: BreakKind,
}

/// What is wrong at a [`ChainBreak`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BreakKind {
    #[error("line is not a JSON record: {reason}")]
    NotJson { reason: String },
    #[error("line is longer than {MAX_LINE_BYTES} bytes")]
    TooLong,
    #[error("record has no `{field}`")]
    MissingField { field: &'static str },
    #[error("record has a bad `{field}`: {reason}")]
    BadField { field: &'static str, reason: String },
    #[error("seq {found} where {expected} was expected: record(s) {expected}..{} dropped", found - 1)]
    Dropped { expected: u64, found: u64 },
    #[error(
        "seq {found} where {expected} was expected, and {expected} follows: records reordered"
    )]
    Reordered { expected: u64, found: u64 },
    #[error("seq {found} where {expected} was expected: a record was inserted, repeated or moved")]
    Inserted { expected: u64, found: u64 },
    #[error("record changed: its SHA-256 no longer matches the `prev` of the record after it")]
    Changed,
    #[error("the first record's `prev` is not 64 zeros: record changed")]
    ChangedFirst,
    #[error("torn last line: {reason} (a crash while writing; opening the log truncates it)")]
    TornLastLine { reason: String },
    #[error("record of {} in the chain of {}: one chain holds one gateway's records", node_text(.found), node_text(.expected))]
    OtherNode {
        expected: Option<String>,
        found: Option<String>,
    },
}

/// `node `gw-1`` or `no node` (a file of one gateway).
fn node_text(node: &Option<String>) -> String {
    match node {
        Some(n) => format!("node `{n}`"),
        None => "no node".to_owned(),
    }
}

impl fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} line {}", self.file.display(), self.line)?;
        if let Some(seq) = self.seq {
            write!(f, " (seq {seq})")?;
        }
        write!(f, ": {}", self.kind)
    }
}

/// Why a log could not be verified.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("chain broken at {0}")]
    Broken(ChainBreak),
    #[error("no audit log at `{}`", .path.display())]
    NotFound { path: PathBuf },
    #[error("`{}`: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Verifies the log at `path` with its rotated segments `<path>.1`, `<path>.2`, …, oldest first.
pub fn verify(path: &Path) -> Result<VerifySummary, VerifyError> {
    let files = Segments::find(path)
        .map_err(|source| VerifyError::Io {
            path: path.to_owned(),
            source,
        })?
        .all();
    if files.is_empty() {
        return Err(VerifyError::NotFound {
            path: path.to_owned(),
        });
    }
    verify_files(&files)
}

/// Verifies one chain spread over `paths` in order: the first record must be seq 1 with a zero
/// `prev`, and each file continues the one before.
pub fn verify_files(paths: &[PathBuf]) -> Result<VerifySummary, VerifyError> {
    let outcome = check(paths, Start::Genesis)?;
    match outcome.broken {
        Some(b) => Err(VerifyError::Broken(b)),
        None => Ok(outcome.summary),
    }
}

/// Where a checked chain may start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Start {
    /// At seq 1 with a zero `prev`.
    Genesis,
    /// Anywhere: the files are the newest part of a longer chain.
    Anywhere,
}

/// The intact prefix and the first break, if any.
pub(super) struct Checked {
    pub summary: VerifySummary,
    pub broken: Option<ChainBreak>,
}

/// One checked line.
struct Entry {
    file: usize,
    line: u64,
    offset: u64,
    seq: u64,
    prev: ChainHash,
    node: Option<String>,
    hash: ChainHash,
}

/// Checks the chain over `paths`; only I/O errors are errors.
pub(super) fn check(paths: &[PathBuf], start: Start) -> Result<Checked, VerifyError> {
    let mut lines = Lines::new(paths);
    let mut summary = VerifySummary {
        files: paths.len(),
        records: 0,
        first_seq: None,
        last_seq: None,
        head: ChainHash::ZERO,
    };
    let (mut expected_seq, mut expected_prev) = match start {
        Start::Genesis => (Some(1), Some(ChainHash::ZERO)),
        Start::Anywhere => (None, None),
    };
    let mut previous: Option<(usize, u64, u64, u64)> = None;
    let mut chain_node: Option<Option<String>> = None;
    let mut current = lines.next_entry()?;
    let broken = loop {
        let entry = match current {
            None => break None,
            Some(Err(b)) => break Some(b),
            Some(Ok(e)) => e,
        };
        let next = lines.next_entry()?;
        let next_ok = match &next {
            Some(Ok(n)) => Some(n),
            _ => None,
        };
        let at = |entry: &Entry, kind| {
            lines.at(entry.file, entry.line, entry.offset, Some(entry.seq), kind)
        };
        if let Some(expected) = expected_seq.filter(|&e| e != entry.seq) {
            let found = entry.seq;
            let kind = if found < expected {
                BreakKind::Inserted { expected, found }
            } else if next_ok.is_some_and(|n| n.seq == expected) {
                BreakKind::Reordered { expected, found }
            } else {
                BreakKind::Dropped { expected, found }
            };
            break Some(at(&entry, kind));
        }
        let expected_node = chain_node.get_or_insert_with(|| entry.node.clone());
        if *expected_node != entry.node {
            let kind = BreakKind::OtherNode {
                expected: expected_node.clone(),
                found: entry.node.clone(),
            };
            break Some(at(&entry, kind));
        }
        if expected_prev.is_some_and(|h| h != entry.prev) {
            // Line N's own change (its `prev` included) also breaks line N+1's `prev`; a change of
            // line N-1 leaves line N+1 linked to line N.
            let self_changed = next_ok.is_some_and(|n| n.prev != entry.hash);
            break Some(match previous {
                Some((file, line, offset, seq)) if !self_changed => {
                    lines.at(file, line, offset, Some(seq), BreakKind::Changed)
                }
                None => at(&entry, BreakKind::ChangedFirst),
                Some(_) => at(&entry, BreakKind::Changed),
            });
        }
        let Some(following) = entry.seq.checked_add(1) else {
            let reason = "no record can follow it".to_string();
            break Some(at(
                &entry,
                BreakKind::BadField {
                    field: "seq",
                    reason,
                },
            ));
        };
        expected_seq = Some(following);
        expected_prev = Some(entry.hash);
        summary.records += 1;
        summary.first_seq.get_or_insert(entry.seq);
        summary.last_seq = Some(entry.seq);
        summary.head = entry.hash;
        previous = Some((entry.file, entry.line, entry.offset, entry.seq));
        current = next;
    };
    Ok(Checked { summary, broken })
}

/// Reads the lines of the files in turn and parses each into an [`Entry`].
struct Lines<'a> {
    paths: &'a [PathBuf],
    file: usize,
    reader: Option<BufReader<File>>,
    line: u64,
    offset: u64,
    buf: Vec<u8>,
}

impl<'a> Lines<'a> {
    fn new(paths: &'a [PathBuf]) -> Self {
        Lines {
            paths,
            file: 0,
            reader: None,
            line: 0,
            offset: 0,
            buf: Vec::new(),
        }
    }

    fn at(
        &self,
        file: usize,
        line: u64,
        offset: u64,
        seq: Option<u64>,
        kind: BreakKind,
    ) -> ChainBreak {
        ChainBreak {
            file: self.paths.get(file).cloned().unwrap_or_default(),
            line,
            offset,
            seq,
            kind,
        }
    }

    /// The next line's entry or the break it makes; `None` after the last line of the last file.
    fn next_entry(&mut self) -> Result<Option<Result<Entry, ChainBreak>>, VerifyError> {
        loop {
            let Some(path) = self.paths.get(self.file) else {
                return Ok(None);
            };
            let io = |source| VerifyError::Io {
                path: path.clone(),
                source,
            };
            let reader = match &mut self.reader {
                Some(r) => r,
                None => self
                    .reader
                    .insert(BufReader::new(File::open(path).map_err(io)?)),
            };
            self.buf.clear();
            let limit = u64::try_from(MAX_LINE_BYTES).unwrap_or(u64::MAX);
            let read = reader
                .by_ref()
                .take(limit)
                .read_until(b'\n', &mut self.buf)
                .map_err(io)?;
            if read == 0 {
                self.file += 1;
                self.reader = None;
                self.line = 0;
                self.offset = 0;
                continue;
            }
            let at_end = reader.fill_buf().map_err(io)?.is_empty();
            self.line += 1;
            let offset = self.offset;
            self.offset += u64::try_from(read).unwrap_or(u64::MAX);
            let terminated = self.buf.last() == Some(&b'\n');
            let body = self.buf.strip_suffix(b"\n").unwrap_or(&self.buf);
            let parsed = if !terminated && read >= MAX_LINE_BYTES {
                Err((BreakKind::TooLong, None))
            } else if !terminated {
                Err((
                    BreakKind::TornLastLine {
                        reason: "no newline at the end".into(),
                    },
                    None,
                ))
            } else {
                parse_line(body).map_err(|(kind, seq)| match kind {
                    BreakKind::NotJson { reason } if at_end => {
                        (BreakKind::TornLastLine { reason }, seq)
                    }
                    kind => (kind, seq),
                })
            };
            let (file, line) = (self.file, self.line);
            return Ok(Some(match parsed {
                Ok(parsed) => Ok(Entry {
                    file,
                    line,
                    offset,
                    seq: parsed.seq,
                    prev: parsed.prev,
                    node: parsed.node,
                    hash: ChainHash::of_line(body),
                }),
                Err((kind, seq)) => Err(self.at(file, line, offset, seq, kind)),
            }));
        }
    }
}

/// The chain envelope of a well-formed record line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub seq: u64,
    pub prev: ChainHash,
    /// The gateway of a cluster's chain (contract section 9).
    pub node: Option<String>,
}

/// Checks one record line (without its newline) and reads its envelope; `Err` says what is
/// wrong with it, with its `seq` when it has one.
pub fn parse_line(body: &[u8]) -> Result<Envelope, (BreakKind, Option<u64>)> {
    let not_json = |reason: String| (BreakKind::NotJson { reason }, None);
    let value: Value = serde_json::from_slice(body).map_err(|e| not_json(e.to_string()))?;
    let Value::Object(mut map) = value else {
        return Err(not_json("not an object".into()));
    };
    let seq = map.get("seq").and_then(Value::as_u64);
    let bad = |field, reason: &str| {
        (
            BreakKind::BadField {
                field,
                reason: reason.into(),
            },
            seq,
        )
    };
    if let Some(field) = LINE_KEYS.into_iter().find(|k| !map.contains_key(*k)) {
        return Err((BreakKind::MissingField { field }, seq));
    }
    let seq_value = seq
        .filter(|&s| s >= 1)
        .ok_or_else(|| bad("seq", "not a whole number from 1"))?;
    let ts = take_str(&mut map, "ts").ok_or_else(|| bad("ts", "not a string"))?;
    parse_rfc3339(&ts).map_err(|e| bad("ts", &e))?;
    let prev = take_str(&mut map, "prev")
        .as_deref()
        .and_then(ChainHash::from_hex)
        .ok_or_else(|| bad("prev", "not 64 lower-case hex characters"))?;
    let node = match map.remove(NODE_KEY) {
        None => None,
        Some(Value::String(n)) if is_node_name(&n) => Some(n),
        Some(_) => {
            return Err(bad(
                "node",
                "not a gateway name (1-64 of A-Z a-z 0-9 . _ -)",
            ))
        }
    };
    map.remove("seq");
    serde_json::from_value::<Record>(Value::Object(map))
        .map_err(|e| bad("record", &e.to_string()))?;
    Ok(Envelope {
        seq: seq_value,
        prev,
        node,
    })
}

fn take_str(map: &mut Map<String, Value>, key: &str) -> Option<String> {
    match map.remove(key) {
        Some(Value::String(s)) => Some(s),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::record::{format_line, format_node_line, line_fields, CallerId, Outcome};
    use super::*;

    fn line(seq: u64, prev: &str) -> Vec<u8> {
        let record = Record::exchange(
            "r",
            CallerId::new("420100", "TAX", "org"),
            "ITEM",
            "P",
            Outcome::Deny,
        );
        let mut line = format_line(
            seq,
            "2025-06-15T00:00:00Z",
            prev,
            &line_fields(&record).unwrap(),
        );
        line.pop();
        line
    }

    fn edited(seq: u64, from: &str, to: &str) -> Vec<u8> {
        String::from_utf8(line(seq, &"0".repeat(64)))
            .unwrap()
            .replacen(from, to, 1)
            .into_bytes()
    }

    fn kind(body: &[u8]) -> BreakKind {
        parse_line(body).err().unwrap().0
    }

    #[test]
    fn a_well_formed_line_parses() {
        let parsed = parse_line(&line(3, &"0".repeat(64))).unwrap();
        assert_eq!(
            (parsed.seq, parsed.prev, parsed.node),
            (3, ChainHash::ZERO, None)
        );
        let record = Record::exchange(
            "r",
            CallerId::new("420100", "TAX", "o"),
            "I",
            "P",
            Outcome::Deny,
        );
        let mut noded = format_node_line(
            1,
            "2025-06-15T00:00:00Z",
            &"0".repeat(64),
            Some("gw-2"),
            &line_fields(&record).unwrap(),
        );
        noded.pop();
        assert_eq!(parse_line(&noded).unwrap().node.as_deref(), Some("gw-2"));
        let bad = String::from_utf8(noded).unwrap().replace("gw-2", "gw 2");
        assert!(matches!(
            parse_line(bad.as_bytes()).unwrap_err().0,
            BreakKind::BadField { field: "node", .. }
        ));
    }

    #[test]
    fn each_malformation_has_its_kind() {
        assert!(matches!(kind(b"[1]"), BreakKind::NotJson { .. }));
        assert!(matches!(kind(b"{\"seq\":"), BreakKind::NotJson { .. }));
        assert_eq!(
            kind(&edited(1, "\"lid\":null,", "")),
            BreakKind::MissingField { field: "lid" }
        );
        let bad = |body: &[u8]| match kind(body) {
            BreakKind::BadField { field, .. } => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(bad(&line(0, &"0".repeat(64))), "seq");
        assert_eq!(bad(&line(1, &"A".repeat(64))), "prev");
        assert_eq!(bad(&edited(1, "2025-06-15T", "2025-13-15T")), "ts");
        assert_eq!(bad(&edited(1, "\"deny\"", "\"maybe\"")), "record");
        assert_eq!(
            bad(&edited(1, "\"lid\":null", "\"lid\":null,\"extra\":1")),
            "record"
        );
    }

    #[test]
    fn chain_hash_hex_round_trip() {
        let hash = ChainHash::of_line(b"abc");
        assert_eq!(
            hash.to_string(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(ChainHash::from_hex(&hash.to_string()), Some(hash));
        assert_eq!(ChainHash::from_hex("00"), None);
    }

    #[test]
    fn summary_reads_as_a_sentence() {
        let summary = VerifySummary {
            files: 3,
            records: 42,
            first_seq: Some(1),
            last_seq: Some(42),
            head: ChainHash::ZERO,
        };
        assert_eq!(
            summary.to_string(),
            "42 records in 3 files, seq 1..42, intact"
        );
        let empty = VerifySummary {
            files: 1,
            records: 0,
            first_seq: None,
            last_seq: None,
            ..summary
        };
        assert_eq!(empty.to_string(), "0 records in 1 file, intact");
    }
}
