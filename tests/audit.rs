//! The audit log end to end: round trip, tampering of every kind, rotation, reopening, crash
//! recovery (a child process killed with SIGKILL), concurrency and the keyed hash of personal ids.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use tempfile::TempDir;
use tongban::audit::{
    verify, AuditError, AuditKey, AuditLog, AuditOptions, BreakKind, CallerId, OpenNotice, Outcome,
    Record, VerifyError,
};
use tongban::time::FixedClock;

/// 2025-06-15T00:00:00Z.
const NOW: i64 = 1_749_945_600;
const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const RESIDENT_ID: &str = "42010619900101123X";
/// Set in the child process of [`crash_mid_run_loses_no_acknowledged_record`].
const CRASH_CHILD_ENV: &str = "TONGBAN_AUDIT_CRASH_CHILD";

fn options() -> AuditOptions {
    AuditOptions {
        clock: Arc::new(FixedClock(NOW)),
        ..AuditOptions::default()
    }
}

fn record(i: u64) -> Record {
    let key = AuditKey::from_secret(KEY).unwrap();
    Record::exchange(
        format!("req-{i}"),
        CallerId::new("420200", "HOUSING_FUND", "11420200MB0000000X"),
        "HPF-DEPOSIT-QUERY",
        "HPF_WITHDRAWAL",
        Outcome::Permit,
    )
    .rules(["hpf-withdrawal-any-city"])
    .fields(
        ["account.status", "holder.name", "holder.id_number"],
        ["holder.id_number"],
    )
    .latency_ms(i % 50)
    .subject(key.personal_id(RESIDENT_ID))
}

/// A log of `n` records at `<dir>/audit.jsonl`.
fn log_with(n: u64) -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let log = AuditLog::open(&path, options()).unwrap();
    for i in 1..=n {
        assert_eq!(log.append(&record(i)).unwrap().seq, i);
    }
    (dir, path)
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(path, text).unwrap();
}

fn broken(path: &Path) -> tongban::audit::ChainBreak {
    match verify(path) {
        Err(VerifyError::Broken(b)) => b,
        other => panic!("expected a break, got {other:?}"),
    }
}

#[test]
fn append_then_verify_round_trip() {
    let (_dir, path) = log_with(10);
    let summary = verify(&path).unwrap();
    assert_eq!((summary.records, summary.files), (10, 1));
    assert_eq!(
        summary.to_string(),
        "10 records in 1 file, seq 1..10, intact"
    );
    let first: serde_json::Value = serde_json::from_str(&lines(&path)[0]).unwrap();
    assert_eq!(first["seq"], 1);
    assert_eq!(first["ts"], "2025-06-15T00:00:00Z");
    assert_eq!(first["prev"], "0".repeat(64));
    assert_eq!(first["kind"], "exchange");
    assert_eq!(first["caller"]["city"], "420200");
    assert_eq!(first["fields_masked"][0], "holder.id_number");
}

#[test]
fn one_changed_byte_is_found_at_its_line() {
    let (_dir, path) = log_with(10);
    let mut all = lines(&path);
    all[4] = all[4].replace("req-5", "req-6");
    write_lines(&path, &all);
    let b = broken(&path);
    assert_eq!(
        (b.line, b.seq, b.kind.clone()),
        (5, Some(5), BreakKind::Changed)
    );

    // A change of a line's own `prev` is blamed on that line, not the one before.
    let (_dir, path) = log_with(10);
    let mut all = lines(&path);
    let at = all[6].find("\"prev\":\"").unwrap() + 10;
    let with = if &all[6][at..at + 1] == "a" { "b" } else { "a" };
    all[6].replace_range(at..at + 1, with);
    write_lines(&path, &all);
    let b = broken(&path);
    assert_eq!((b.line, b.kind), (7, BreakKind::Changed));
}

#[test]
fn dropped_inserted_and_reordered_records_are_named() {
    let (_dir, path) = log_with(10);
    let original = lines(&path);

    let mut dropped = original.clone();
    dropped.remove(4);
    write_lines(&path, &dropped);
    let b = broken(&path);
    assert_eq!(b.line, 5);
    assert_eq!(
        b.kind,
        BreakKind::Dropped {
            expected: 5,
            found: 6
        }
    );

    let mut inserted = original.clone();
    inserted.insert(5, original[2].clone());
    write_lines(&path, &inserted);
    let b = broken(&path);
    assert_eq!(b.line, 6);
    assert_eq!(
        b.kind,
        BreakKind::Inserted {
            expected: 6,
            found: 3
        }
    );

    let mut reordered = original.clone();
    reordered.swap(3, 4);
    write_lines(&path, &reordered);
    let b = broken(&path);
    assert_eq!(b.line, 4);
    assert_eq!(
        b.kind,
        BreakKind::Reordered {
            expected: 4,
            found: 5
        }
    );
    assert!(b.to_string().contains("reordered"), "{b}");

    let mut missing_field = original.clone();
    missing_field[1] = missing_field[1].replace("\"purpose\"", "\"porpose\"");
    write_lines(&path, &missing_field);
    assert_eq!(
        broken(&path).kind,
        BreakKind::MissingField { field: "purpose" }
    );

    let mut not_json = original;
    not_json[2] = "hello".into();
    write_lines(&path, &not_json);
    let b = broken(&path);
    assert_eq!(b.line, 3);
    assert!(matches!(b.kind, BreakKind::NotJson { .. }));
}

#[test]
fn rotation_keeps_one_chain_over_many_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let log = AuditLog::open(
        &path,
        AuditOptions {
            max_bytes: 4000,
            ..options()
        },
    )
    .unwrap();
    for i in 1..=60 {
        log.append(&record(i)).unwrap();
    }
    drop(log);
    let rotated: Vec<PathBuf> = (1..=3)
        .map(|n| dir.path().join(format!("audit.jsonl.{n}")))
        .collect();
    for file in &rotated {
        assert!(file.exists(), "{} missing", file.display());
        assert!(std::fs::metadata(file).unwrap().len() <= 4000);
    }
    let summary = verify(&path).unwrap();
    assert_eq!(summary.records, 60);
    assert!(summary.files >= 4, "{summary}");

    // Reopening checks only the newest two files and links to them.
    let log = AuditLog::open(
        &path,
        AuditOptions {
            max_bytes: 4000,
            ..options()
        },
    )
    .unwrap();
    assert_eq!(log.append(&record(61)).unwrap().seq, 61);
    drop(log);
    assert_eq!(verify(&path).unwrap().last_seq, Some(61));

    // Each file starts where the one before ended.
    let last_of_first = lines(&rotated[0]).pop().unwrap();
    let first_of_second: serde_json::Value = serde_json::from_str(&lines(&rotated[1])[0]).unwrap();
    let hash = ring::digest::digest(&ring::digest::SHA256, last_of_first.as_bytes());
    let hex: String = hash.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(first_of_second["prev"], hex);

    // A change in a rotated file is found there; a missing rotated file is a gap.
    let mut middle = lines(&rotated[1]);
    middle[0] = middle[0].replace("\"status\":200", "\"status\":201");
    write_lines(&rotated[1], &middle);
    let b = broken(&path);
    assert_eq!((b.file.clone(), b.line), (rotated[1].clone(), 1));
    std::fs::remove_file(&rotated[1]).unwrap();
    let b = broken(&path);
    assert_eq!(b.file, rotated[2]);
    assert!(matches!(b.kind, BreakKind::Dropped { .. }));
}

#[test]
fn reopening_continues_seq_and_prev() {
    let (_dir, path) = log_with(5);
    let log = AuditLog::open(&path, options()).unwrap();
    assert!(log.notices().is_empty());
    assert_eq!(log.head().0, 5);
    assert_eq!(log.append(&record(6)).unwrap().seq, 6);
    drop(log);
    assert_eq!(verify(&path).unwrap().last_seq, Some(6));
}

#[test]
fn torn_last_line_is_cut_off_on_open() {
    for torn in ["{\"seq\":6,\"ts\":\"2025-", "{\"seq\":6,\"ts\n", "\0\0\0\0"] {
        let (_dir, path) = log_with(5);
        let before = std::fs::metadata(&path).unwrap().len();
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(torn.as_bytes())
            .unwrap();
        let b = broken(&path);
        assert_eq!(b.line, 6);
        assert!(matches!(b.kind, BreakKind::TornLastLine { .. }), "{b}");

        let log = AuditLog::open(&path, options()).unwrap();
        assert_eq!(
            log.notices(),
            [OpenNotice::TruncatedTornLine {
                file: path.clone(),
                line: 6,
                bytes: torn.len() as u64,
            }]
        );
        assert_eq!(std::fs::metadata(&path).unwrap().len(), before);
        assert_eq!(log.append(&record(6)).unwrap().seq, 6);
        drop(log);
        assert_eq!(verify(&path).unwrap().records, 6);
    }
}

/// Power lost just after a rotation, before the group commit synced the rotated file: its last
/// line may be torn, with nothing after it. That is cut off too; a torn segment followed by
/// records is a break.
#[test]
fn a_torn_segment_end_is_cut_off_only_at_the_end_of_the_chain() {
    for current in [None, Some(""), Some("{\"seq\":7}\n")] {
        let (_dir, path) = log_with(5);
        let segment = path.with_extension("jsonl.1");
        std::fs::rename(&path, &segment).unwrap();
        let before = std::fs::metadata(&segment).unwrap().len();
        std::fs::OpenOptions::new()
            .append(true)
            .open(&segment)
            .unwrap()
            .write_all(b"{\"seq\":6,\"ts")
            .unwrap();
        if let Some(text) = current {
            std::fs::write(&path, text).unwrap();
        }
        let opened = AuditLog::open(&path, options());
        match current {
            Some(text) if !text.is_empty() => {
                assert!(matches!(opened, Err(AuditError::Broken(_))), "{current:?}");
                continue;
            }
            _ => {}
        }
        let log = opened.unwrap();
        assert!(
            matches!(&log.notices(), [OpenNotice::TruncatedTornLine { file, line: 6, .. }] if *file == segment),
            "{:?}",
            log.notices()
        );
        assert_eq!(std::fs::metadata(&segment).unwrap().len(), before);
        assert_eq!(log.append(&record(6)).unwrap().seq, 6);
        drop(log);
        assert_eq!(verify(&path).unwrap().records, 6);
    }
}

#[test]
fn a_broken_chain_refuses_to_open_unless_forced() {
    let (dir, path) = log_with(10);
    let mut all = lines(&path);
    all.remove(3);
    write_lines(&path, &all);
    match AuditLog::open(&path, options()) {
        Err(AuditError::Broken(b)) => assert_eq!(b.line, 4),
        other => panic!("expected a break, got {:?}", other.map(|_| ())),
    }
    let forced = AuditLog::open(
        &path,
        AuditOptions {
            force: true,
            ..options()
        },
    )
    .unwrap();
    let moved = dir.path().join("audit.jsonl.1");
    assert!(matches!(
        forced.notices(),
        [OpenNotice::ForcedNewSegment { moved_to: Some(m), .. }] if *m == moved
    ));
    assert_eq!(forced.append(&record(11)).unwrap().seq, 11);
    drop(forced);
    // The old break stays visible; the new segment links to the old file's last line.
    assert_eq!(broken(&path).file, moved);
    assert_eq!(lines(&path).len(), 1);
}

#[test]
fn eight_threads_make_one_gapless_chain() {
    for interval in [Duration::from_millis(100), Duration::ZERO] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let log = Arc::new(
            AuditLog::open(
                &path,
                AuditOptions {
                    flush_interval: interval,
                    ..options()
                },
            )
            .unwrap(),
        );
        let per_thread = if interval.is_zero() { 25 } else { 250 };
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let log = log.clone();
                std::thread::spawn(move || {
                    (0..per_thread)
                        .map(|i| log.append(&record(t * 1000 + i)).unwrap().seq)
                        .collect::<Vec<u64>>()
                })
            })
            .collect();
        let mut seqs: Vec<u64> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=8 * per_thread).collect::<Vec<_>>());
        drop(log);
        assert_eq!(verify(&path).unwrap().records, 8 * per_thread);
    }
}

#[test]
fn personal_ids_appear_only_hashed() {
    let (_dir, path) = log_with(3);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains(RESIDENT_ID));
    assert!(!text.contains(&RESIDENT_ID.to_lowercase()));
    let hashed = AuditKey::from_secret(KEY).unwrap().personal_id(RESIDENT_ID);
    assert_eq!(text.matches(hashed.as_str()).count(), 3);
}

#[test]
fn cli_audit_verify_exit_codes() {
    let (dir, path) = log_with(4);
    let run = |p: &Path| {
        Command::new(env!("CARGO_BIN_EXE_tongban"))
            .args(["audit", "verify"])
            .arg(p)
            .output()
            .unwrap()
    };
    let ok = run(&path);
    assert_eq!(ok.status.code(), Some(0));
    // the head hash: the SHA-256 of the last line, to keep elsewhere
    let last = lines(&path).pop().unwrap();
    let head = tongban::crypto::hex(&tongban::crypto::sha256(last.as_bytes()));
    assert_eq!(
        String::from_utf8_lossy(&ok.stdout),
        format!("4 records in 1 file, seq 1..4, intact\nhead {head}\n")
    );
    let mut all = lines(&path);
    all.swap(1, 2);
    write_lines(&path, &all);
    let bad = run(&path);
    assert_eq!(bad.status.code(), Some(1));
    assert!(bad.stdout.is_empty());
    let said = String::from_utf8_lossy(&bad.stderr);
    assert!(
        said.starts_with("tongban: broken at ")
            && said.contains("line 2 (seq 3)")
            && said.contains("reordered"),
        "{said}"
    );
    let none = run(&dir.path().join("none.jsonl"));
    assert_eq!(none.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&none.stderr).starts_with("tongban: no audit log at `"),
        "{}",
        String::from_utf8_lossy(&none.stderr)
    );
}

/// The child half of the crash test: appends from 4 threads, printing each seq once `append`
/// has returned, until killed. A no-op unless [`CRASH_CHILD_ENV`] names the log.
#[test]
fn crash_child() {
    let Some(path) = std::env::var_os(CRASH_CHILD_ENV) else {
        return;
    };
    let log = Arc::new(
        AuditLog::open(
            &path,
            AuditOptions {
                max_bytes: 64 * 1024,
                ..options()
            },
        )
        .unwrap(),
    );
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let log = log.clone();
            std::thread::spawn(move || {
                for i in 0.. {
                    let seq = log.append(&record(t * 1_000_000 + i)).unwrap().seq;
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "SEQ {seq}").unwrap();
                    out.flush().unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
}

/// Kills a child that is appending (re-executing this test binary with [`CRASH_CHILD_ENV`]) with
/// SIGKILL, three times over the same log: every seq the child printed after `append` returned
/// must be in the log, which must verify (a torn last line, cut off by `open`, is the only
/// break allowed).
#[test]
fn crash_mid_run_loses_no_acknowledged_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let mut acknowledged = BTreeSet::new();
    for round in 0..3 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
            .env(CRASH_CHILD_ENV, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        let mut seen = 0;
        let started = Instant::now();
        while out.read_line(&mut line).unwrap() > 0 {
            if let Some(seq) = line.trim().strip_prefix("SEQ ") {
                acknowledged.insert(seq.parse::<u64>().unwrap());
                seen += 1;
                // Kill at a different point in each round.
                if seen == 1500 + 700 * round || started.elapsed() > Duration::from_secs(20) {
                    child.kill().unwrap();
                }
            }
            line.clear();
        }
        child.wait().unwrap();
        assert!(seen >= 1500, "the child printed only {seen} seqs");

        match verify(&path) {
            Ok(_) => {}
            Err(VerifyError::Broken(b)) if matches!(b.kind, BreakKind::TornLastLine { .. }) => {}
            Err(e) => panic!("after kill -9: {e}"),
        }
        drop(AuditLog::open(&path, options()).unwrap());
        let summary = verify(&path).unwrap();
        let in_log: BTreeSet<u64> = (1..=summary.last_seq.unwrap()).collect();
        let lost: Vec<_> = acknowledged.difference(&in_log).collect();
        assert!(lost.is_empty(), "acknowledged but not in the log: {lost:?}");
    }
    assert!(
        dir.path().join("audit.jsonl.1").exists(),
        "no rotation happened"
    );
}

/// Eight records and the hash of the last line (the writer's receipt).
fn sample_log() -> &'static (Vec<u8>, String) {
    static SAMPLE: OnceLock<(Vec<u8>, String)> = OnceLock::new();
    SAMPLE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let log = AuditLog::open(&path, options()).unwrap();
        let mut head = String::new();
        for i in 1..=8 {
            head = log.append(&record(i)).unwrap().hash.to_string();
        }
        drop(log);
        (std::fs::read(&path).unwrap(), head)
    })
}

proptest! {
    /// Any single-byte change is a break, except in the last record, which no later `prev`
    /// covers: that change shows as a head hash different from the writer's last receipt.
    #[test]
    fn any_single_byte_change_is_detected(at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let (original, head) = sample_log();
        let at = at.index(original.len());
        prop_assume!(original[at] != byte);
        let mut changed = original.clone();
        changed[at] = byte;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        std::fs::write(&path, &changed).unwrap();
        match verify(&path) {
            Err(VerifyError::Broken(_)) => {}
            Ok(summary) => prop_assert_ne!(&summary.head.to_string(), head),
            Err(e) => prop_assert!(false, "{}", e),
        }
    }
}
