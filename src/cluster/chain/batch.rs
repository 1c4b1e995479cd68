//! A batch of the chain: the records of the waiting requests given their `seq`, `ts`, `prev`
//! and `node`, chained after the head, with the day's counts they add, as the arrays of the one
//! statement that commits them.

use std::collections::BTreeMap;

use crate::audit::record::{format_node_line, line_fields};
use crate::audit::verify::{ChainHash, MAX_LINE_BYTES};
use crate::audit::{AuditError, Record};
use crate::stats::{day_of, format_day, Fact};
use crate::time::{format_rfc3339, Clock, SystemClock};

/// The records of a batch and their counts, in one statement: it commits as a whole.
pub(super) const INSERT: &str = "WITH written AS (
    INSERT INTO tongban_audit (node, seq, ts, prev, hash, line)
    SELECT $1, r.seq, r.ts::timestamptz, r.prev, r.hash, r.line
    FROM unnest($2::int8[], $3::text[], $4::text[], $5::text[], $6::text[])
        AS r(seq, ts, prev, hash, line)
)
INSERT INTO tongban_daily_counts AS c (day, node, kind, decision, caller_city, item, ltype, n)
SELECT f.day::date, $1, f.kind, f.decision, f.caller_city, f.item, f.ltype, f.n
FROM unnest($7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::int8[])
    AS f(day, kind, decision, caller_city, item, ltype, n)
ON CONFLICT (day, node, kind, decision, caller_city, item, ltype)
    DO UPDATE SET n = c.n + excluded.n";

/// The last committed record of a chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Head {
    pub seq: u64,
    pub hash: ChainHash,
}

impl Head {
    pub const GENESIS: Head = Head {
        seq: 0,
        hash: ChainHash::ZERO,
    };
}

/// One record as its requester prepared it: its fields serialized (the end of its line) and what
/// it adds to the day's figures (`day` left to the writer, which gives the record its time).
pub(super) struct Entry {
    fields: Vec<u8>,
    fact: Option<CountKey>,
}

impl Entry {
    pub fn of(record: &Record) -> Result<Self, AuditError> {
        let fields = line_fields(record).map_err(|e| AuditError::Format(e.to_string()))?;
        let fact = Fact::of_record(record).map(|fact| {
            let (item, ltype) = match fact {
                Fact::Exchange { item, .. } => (item, ""),
                Fact::Verification { ltype, .. } => ("", ltype.unwrap_or("")),
            };
            CountKey {
                day: String::new(),
                kind: record.kind.as_str(),
                decision: record.decision.as_str(),
                caller_city: record.caller.city.clone(),
                item: item.to_owned(),
                ltype: ltype.to_owned(),
            }
        });
        Ok(Entry { fields, fact })
    }
}

/// The rows of a batch, as the statement's arrays.
#[derive(Default)]
pub(super) struct Rows {
    pub seq: Vec<i64>,
    pub ts: Vec<String>,
    pub prev: Vec<String>,
    pub hash: Vec<String>,
    pub line: Vec<String>,
    /// What each record adds to the day's figures.
    pub facts: Vec<Option<CountKey>>,
}

/// A row of `tongban_daily_counts` without its node.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct CountKey {
    day: String,
    kind: &'static str,
    decision: &'static str,
    caller_city: String,
    item: String,
    ltype: String,
}

/// The counts of a batch, as the statement's arrays.
#[derive(Default)]
pub(super) struct Counts {
    pub day: Vec<String>,
    pub kind: Vec<&'static str>,
    pub decision: Vec<&'static str>,
    pub caller_city: Vec<String>,
    pub item: Vec<String>,
    pub ltype: Vec<String>,
    pub n: Vec<i64>,
}

impl Rows {
    /// Chains `entries` after `head` (moved along).
    pub fn push_all(
        &mut self,
        entries: &[Entry],
        head: &mut Head,
        node: &str,
        clock: &SystemClock,
    ) -> Result<(), AuditError> {
        for entry in entries {
            let seq = head
                .seq
                .checked_add(1)
                .ok_or_else(|| AuditError::Poisoned {
                    reason: "seq exhausted".into(),
                })?;
            let db_seq = i64::try_from(seq).map_err(|_| AuditError::Poisoned {
                reason: "seq exhausted".into(),
            })?;
            let now = clock.now();
            let ts = format_rfc3339(now);
            let prev = head.hash.to_string();
            let mut line = format_node_line(seq, &ts, &prev, Some(node), &entry.fields);
            if line.len() > MAX_LINE_BYTES {
                return Err(AuditError::TooLong {
                    len: line.len(),
                    limit: MAX_LINE_BYTES,
                });
            }
            line.pop();
            let line = String::from_utf8(line).map_err(|e| AuditError::Format(e.to_string()))?;
            let hash = ChainHash::of_line(line.as_bytes());
            self.seq.push(db_seq);
            self.ts.push(ts);
            self.prev.push(prev);
            self.hash.push(hash.to_string());
            self.line.push(line);
            self.facts.push(entry.fact.clone().map(|fact| CountKey {
                day: format_day(day_of(now)),
                ..fact
            }));
            *head = Head { seq, hash };
        }
        Ok(())
    }

    pub fn truncate(&mut self, len: usize) {
        self.seq.truncate(len);
        self.ts.truncate(len);
        self.prev.truncate(len);
        self.hash.truncate(len);
        self.line.truncate(len);
        self.facts.truncate(len);
    }

    /// The facts summed by key (one upsert per key: a statement cannot update a row twice).
    pub fn counts(&self) -> Counts {
        let mut summed: BTreeMap<&CountKey, i64> = BTreeMap::new();
        for key in self.facts.iter().flatten() {
            *summed.entry(key).or_default() += 1;
        }
        let mut counts = Counts::default();
        for (key, n) in summed {
            counts.day.push(key.day.clone());
            counts.kind.push(key.kind);
            counts.decision.push(key.decision);
            counts.caller_city.push(key.caller_city.clone());
            counts.item.push(key.item.clone());
            counts.ltype.push(key.ltype.clone());
            counts.n.push(n);
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::verify::parse_line;
    use crate::audit::{CallerId, Outcome};

    #[test]
    fn a_batch_chains_its_records_and_counts_its_facts() {
        let caller = CallerId::new("420200", "TAX", "org");
        let records = [
            Record::exchange("a", caller.clone(), "ITEM", "P", Outcome::Permit),
            Record::exchange("b", caller.clone(), "ITEM", "P", Outcome::Permit),
            Record::exchange("c", caller.clone(), "ITEM", "P", Outcome::Deny),
            Record::licence_verification("d", caller, None, None, Outcome::Invalid),
        ];
        let entries: Vec<Entry> = records.iter().map(|r| Entry::of(r).unwrap()).collect();
        let mut rows = Rows::default();
        let mut head = Head::GENESIS;
        rows.push_all(&entries, &mut head, "gw-1", &SystemClock)
            .unwrap();
        assert_eq!(rows.seq, [1, 2, 3, 4]);
        assert_eq!(head.seq, 4);
        for (i, line) in rows.line.iter().enumerate() {
            let parsed = parse_line(line.as_bytes()).unwrap();
            assert_eq!(parsed.node.as_deref(), Some("gw-1"));
            assert_eq!(parsed.prev.to_string(), rows.prev[i]);
            assert_eq!(
                ChainHash::of_line(line.as_bytes()).to_string(),
                rows.hash[i]
            );
        }
        assert_eq!(rows.prev[1], rows.hash[0]);
        let counts = rows.counts();
        assert_eq!(counts.kind, ["exchange", "licence_verification"]);
        assert_eq!(counts.n, [2, 1]);
        assert_eq!(counts.item, ["ITEM", ""]);
        rows.truncate(1);
        assert_eq!(rows.counts().n, [1]);
    }
}
