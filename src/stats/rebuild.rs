//! Today's figures read back from the audit log at start, rotated files included.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read as _};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{day_of, day_start, Fact, Figures, Resolver};
use crate::audit::verify::MAX_LINE_BYTES;
use crate::audit::{log_files, Kind, Outcome};
use crate::policy::model::Day;
use crate::time::{parse_rfc3339, UnixTime};

/// What a rebuild found.
#[derive(Debug, Default)]
pub struct Rebuilt {
    pub day: Day,
    pub figures: Figures,
    /// Records of the day read.
    pub records: u64,
    /// Files read, newest first.
    pub files: Vec<PathBuf>,
    /// Lines that could not be read as records (reported, not counted).
    pub unreadable: u64,
}

/// The parts of an audit line the figures need (contract section 8).
#[derive(Deserialize)]
struct Line<'a> {
    #[serde(borrow)]
    ts: Cow<'a, str>,
    kind: Kind,
    #[serde(borrow)]
    caller: LineCaller<'a>,
    #[serde(borrow)]
    item: Option<Cow<'a, str>>,
    #[serde(borrow)]
    ltype: Option<Cow<'a, str>>,
    decision: Outcome,
}

#[derive(Deserialize)]
struct LineCaller<'a> {
    #[serde(borrow)]
    city: Cow<'a, str>,
}

/// The figures of the day holding `now`, from the records of the log at `path` written that day.
/// Files are read newest first and reading stops at the first file that began before the day.
pub fn rebuild(path: &Path, now: UnixTime, names: &Resolver<'_>) -> io::Result<Rebuilt> {
    let day = day_of(now);
    let start = day_start(day);
    let mut rebuilt = Rebuilt {
        day,
        ..Rebuilt::default()
    };
    for file in log_files(path)?.into_iter().rev() {
        let began = read_file(&file, day, names, &mut rebuilt)?;
        rebuilt.files.push(file);
        if began.is_some_and(|ts| ts < start) {
            break;
        }
    }
    Ok(rebuilt)
}

/// Counts the file's records of `day`; returns the time of its first record.
fn read_file(
    path: &Path,
    day: Day,
    names: &Resolver<'_>,
    rebuilt: &mut Rebuilt,
) -> io::Result<Option<UnixTime>> {
    let with_path = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
    let mut reader = BufReader::new(File::open(path).map_err(with_path)?);
    let limit = u64::try_from(MAX_LINE_BYTES).unwrap_or(u64::MAX);
    let mut line = Vec::new();
    let mut first = None;
    loop {
        line.clear();
        let n = (&mut reader)
            .take(limit + 1)
            .read_until(b'\n', &mut line)
            .map_err(with_path)?;
        if n == 0 {
            break;
        }
        let Some(body) = line.strip_suffix(b"\n") else {
            if line.len() as u64 > limit {
                // an overlong line: not a record of ours
                reader.skip_until(b'\n').map_err(with_path)?;
                rebuilt.unreadable += 1;
            }
            // else a torn last line: no record
            continue;
        };
        let Some((ts, record)) = parse(body) else {
            rebuilt.unreadable += 1;
            continue;
        };
        first.get_or_insert(ts);
        if day_of(ts) != day {
            continue;
        }
        rebuilt.records += 1;
        let fact = Fact::of(
            record.kind,
            record.decision,
            &record.caller.city,
            record.item.as_deref(),
            record.ltype.as_deref(),
        );
        if let Some(fact) = fact {
            rebuilt.figures.add(fact, 1, names);
        }
    }
    Ok(first)
}

/// A line's time and facts.
fn parse(body: &[u8]) -> Option<(UnixTime, Line<'_>)> {
    let line: Line<'_> = serde_json::from_slice(body).ok()?;
    let ts = parse_rfc3339(&line.ts).ok()?;
    Some((ts, line))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicI64, Ordering};
    use std::sync::Arc;

    use super::*;
    use crate::audit::{AuditLog, AuditOptions, CallerId, Record};
    use crate::catalog::Catalog;
    use crate::policy::PolicySet;
    use crate::time::Clock;

    /// 2026-12-02T00:00:00+08:00.
    const MIDNIGHT: UnixTime = 1_796_140_800;

    struct TestClock(AtomicI64);

    impl Clock for TestClock {
        fn now(&self) -> UnixTime {
            self.0.load(Ordering::Relaxed)
        }
    }

    #[test]
    fn the_days_records_are_read_back_across_rotated_files() {
        let catalog = Catalog::embedded().unwrap();
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
        let policies = PolicySet::load(&dir, &catalog, None).unwrap();
        let names = Resolver {
            catalog: &catalog,
            policies: &policies,
        };
        let item = policies.items()[0].id.clone();
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("audit.jsonl");
        let clock = Arc::new(TestClock(AtomicI64::new(MIDNIGHT - 7200)));
        let options = AuditOptions {
            // every few records go to a new file
            max_bytes: 1500,
            clock: clock.clone(),
            ..AuditOptions::default()
        };
        let caller = CallerId::new("420200", "TAX", "org");
        let records = [
            Record::exchange("a", caller.clone(), &item, "P", Outcome::Permit),
            Record::exchange("b", caller.clone(), &item, "P", Outcome::Deny),
            Record::licence_verification(
                "c",
                caller.clone(),
                Some("ID_CARD".into()),
                None,
                Outcome::Valid,
            ),
            Record::licence_verification("d", caller.clone(), None, None, Outcome::Invalid),
        ];
        let mut expected = Figures::default();
        {
            let log = AuditLog::open(&path, options).unwrap();
            // yesterday evening, then today
            for at in [MIDNIGHT - 7200, MIDNIGHT - 1, MIDNIGHT, MIDNIGHT + 3600] {
                clock.0.store(at, Ordering::Relaxed);
                for r in &records {
                    log.append(r).unwrap();
                    if at >= MIDNIGHT {
                        if let Some(fact) = Fact::of_record(r) {
                            expected.add(fact, 1, &names);
                        }
                    }
                }
            }
        }
        let files = log_files(&path).unwrap();
        assert!(files.len() > 4, "rotated: {files:?}");
        std::fs::write(
            &path,
            [
                std::fs::read(&path).unwrap(),
                b"not a record\n{\"torn".to_vec(),
            ]
            .concat(),
        )
        .unwrap();
        let rebuilt = rebuild(&path, MIDNIGHT + 7200, &names).unwrap();
        assert_eq!(rebuilt.figures, expected);
        assert_eq!(rebuilt.records, 8);
        assert_eq!(rebuilt.unreadable, 1);
        assert_eq!(expected.exchanges.total, 2);
        assert_eq!(expected.verifications.total, 4);
        // the older files of yesterday were not read
        assert!(rebuilt.files.len() < files.len(), "{:?}", rebuilt.files);
        // the next day starts empty
        let tomorrow = rebuild(&path, MIDNIGHT + 86_400, &names).unwrap();
        assert_eq!(tomorrow.figures, Figures::default());
    }
}
