//! Every node's chain checked in the database (`tongban audit verify --database`), and one node's
//! chain written as the JSON Lines file of contract section 8 (`tongban audit export`), which
//! `tongban audit verify FILE` checks like any gateway's log.
//!
//! Rows are read in pages through a cursor, so a chain of millions of records needs little
//! memory. A check reads each line as the file verifier does, and names every break of a node
//! (up to [`MAX_BREAKS_NAMED`]): a record changed (its line no longer hashes to its stored hash,
//! or says another `seq`, `prev` or node than its row), a link broken (a record's `prev` is not
//! the hash of the record before), a gap (records missing), a fork (two records after the same
//! one, or two with the same `seq`). The schema refuses forks and gaps; they appear only when
//! someone with the owner's rights went round it, which is what this check is for.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::Write;

use tokio_postgres::Client;

use super::{ClusterError, Database};
use crate::audit::verify::{parse_line, BreakKind, ChainHash};

/// Breaks named per node; beyond, they are counted.
pub const MAX_BREAKS_NAMED: usize = 20;
/// Rows fetched per round trip.
const PAGE_ROWS: i32 = 2000;

/// One node's chain as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeReport {
    pub node: String,
    pub records: u64,
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    /// The stored hash of the last record: keep it elsewhere to notice a removed end.
    pub head: ChainHash,
    pub breaks: Vec<DbBreak>,
    /// Breaks found beyond [`MAX_BREAKS_NAMED`].
    pub more_breaks: u64,
}

impl NodeReport {
    pub fn is_intact(&self) -> bool {
        self.breaks.is_empty()
    }
}

impl fmt::Display for NodeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node `{}`: {} records", self.node, self.records)?;
        if let (Some(first), Some(last)) = (self.first_seq, self.last_seq) {
            write!(f, ", seq {first}..{last}")?;
        }
        if self.is_intact() {
            write!(f, ", intact, head {}", self.head)
        } else {
            let n = self.breaks.len() as u64 + self.more_breaks;
            write!(f, ", BROKEN ({n} break{})", if n == 1 { "" } else { "s" })
        }
    }
}

/// One break of a node's chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbBreak {
    pub node: String,
    /// The record where it shows.
    pub seq: Option<u64>,
    pub kind: DbBreakKind,
}

/// What is wrong at a [`DbBreak`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DbBreakKind {
    #[error("record changed: its line no longer hashes to its stored hash")]
    Changed,
    #[error("record changed: its line says {what} `{line}` but its row `{row}`")]
    Disagrees {
        what: &'static str,
        line: String,
        row: String,
    },
    #[error("link broken: `prev` is not the hash of record {before}: one of the two was changed")]
    Unlinked { before: u64 },
    #[error("the first record's `prev` is not 64 zeros: record changed")]
    NotGenesis,
    #[error("gap: record(s) {from}..{to} missing")]
    Gap { from: u64, to: u64 },
    #[error("fork: records {} all follow the record whose hash is {prev}", list(.seqs))]
    Fork { prev: String, seqs: Vec<u64> },
    #[error("fork: {count} records numbered {seq}")]
    SameSeq { seq: u64, count: u64 },
    #[error("{0}")]
    BadLine(BreakKind),
}

fn list(seqs: &[u64]) -> String {
    seqs.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for DbBreak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node `{}`", self.node)?;
        if let Some(seq) = self.seq {
            write!(f, " seq {seq}")?;
        }
        write!(f, ": {}", self.kind)
    }
}

/// Checks every node's chain; the reports are in node order.
pub async fn verify(database: &Database) -> Result<Vec<NodeReport>, ClusterError> {
    let mut conn = connect(database, "tongban audit verify").await?;
    let query = |what| query_error(database, what);
    let client = &mut conn.client;
    let mut reports: BTreeMap<String, Checker> = BTreeMap::new();
    // nodes that took a lease but wrote nothing yet
    for row in client
        .query("SELECT node FROM tongban_nodes", &[])
        .await
        .map_err(query("the nodes"))?
    {
        let node = text(&row, 0).to_owned();
        reports.insert(node.clone(), Checker::new(node));
    }
    let forks = client
        .query(
            "SELECT node, prev, array_agg(seq ORDER BY seq) FROM tongban_audit \
             GROUP BY node, prev HAVING count(*) > 1",
            &[],
        )
        .await
        .map_err(query("forks"))?;
    let mut forked: BTreeSet<(String, String)> = BTreeSet::new();
    for row in forks {
        let (node, prev) = (text(&row, 0).to_owned(), text(&row, 1).to_owned());
        let seqs: Vec<u64> = row
            .try_get::<_, Option<Vec<Option<i64>>>>(2)
            .ok()
            .flatten()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|s| s.and_then(|s| u64::try_from(s).ok()))
            .collect();
        let checker = reports
            .entry(node.clone())
            .or_insert_with(|| Checker::new(node.clone()));
        checker.found(
            seqs.get(1).copied(),
            DbBreakKind::Fork {
                prev: prev.clone(),
                seqs,
            },
        );
        forked.insert((node, prev));
    }
    let same_seq = client
        .query(
            "SELECT node, seq, count(*) FROM tongban_audit GROUP BY node, seq HAVING count(*) > 1",
            &[],
        )
        .await
        .map_err(query("repeated seqs"))?;
    for row in same_seq {
        let (node, seq, count) = (text(&row, 0).to_owned(), seq(&row, 1), int(&row, 2));
        let seq = seq.unwrap_or(0);
        reports
            .entry(node.clone())
            .or_insert_with(|| Checker::new(node))
            .found(
                Some(seq),
                DbBreakKind::SameSeq {
                    seq,
                    count: u64::try_from(count).unwrap_or(0),
                },
            );
    }
    let tx = client.transaction().await.map_err(query("begin"))?;
    let portal = tx
        .bind(
            "SELECT node, seq, prev, hash, line FROM tongban_audit ORDER BY node, seq, hash",
            &[],
        )
        .await
        .map_err(query("read the records"))?;
    each_row(&tx, &portal, query("read the records"), |row| {
        let node = text(row, 0).to_owned();
        let checker = reports
            .entry(node.clone())
            .or_insert_with(|| Checker::new(node.clone()));
        let forked_prev = |prev: &str| forked.contains(&(node.clone(), prev.to_owned()));
        checker.row(
            seq(row, 1).unwrap_or(0),
            text(row, 2).to_owned(),
            text(row, 3).to_owned(),
            text(row, 4).to_owned(),
            forked_prev,
        );
        Ok(())
    })
    .await?;
    tx.commit().await.map_err(query("end the read"))?;
    Ok(reports.into_values().map(Checker::finish).collect())
}

/// Writes `node`'s chain to `out` as JSON Lines, oldest first; returns the number of records.
/// `Ok(None)` when the database holds no record of `node`.
pub async fn export(
    database: &Database,
    node: &str,
    out: &mut dyn Write,
) -> Result<Option<u64>, ClusterError> {
    let mut conn = connect(database, "tongban audit export").await?;
    let query = |what| query_error(database, what);
    let tx = conn.client.transaction().await.map_err(query("begin"))?;
    let portal = tx
        .bind(
            "SELECT line FROM tongban_audit WHERE node = $1 ORDER BY seq, hash",
            &[&node],
        )
        .await
        .map_err(query("read the records"))?;
    let mut written = 0u64;
    let io = |e: std::io::Error| ClusterError::Config(format!("cannot write the export: {e}"));
    each_row(&tx, &portal, query("read the records"), |row| {
        let line: &str = row.try_get(0).map_err(query("read the records"))?;
        out.write_all(line.as_bytes()).map_err(io)?;
        out.write_all(b"\n").map_err(io)?;
        written += 1;
        Ok(())
    })
    .await?;
    out.flush().map_err(io)?;
    tx.commit().await.map_err(query("end the read"))?;
    Ok((written > 0).then_some(written))
}

/// The nodes that have records, in order.
pub async fn nodes(database: &Database) -> Result<Vec<String>, ClusterError> {
    let conn = connect(database, "tongban audit export").await?;
    let rows = conn
        .client
        .query(
            "SELECT node FROM tongban_nodes UNION SELECT DISTINCT node FROM tongban_audit \
             ORDER BY 1",
            &[],
        )
        .await
        .map_err(query_error(database, "the nodes"))?;
    rows.iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()
        .map_err(query_error(database, "the nodes"))
}

// Columns of a row that someone with the owner's rights may have changed behind the schema's
// back (a NOT NULL dropped, a NULL written): read without panicking; a row read as "" or 0 then
// fails its hash or sequence check and is named as a break.

/// A text column, "" when NULL.
fn text(row: &tokio_postgres::Row, i: usize) -> &str {
    row.try_get::<_, Option<&str>>(i)
        .ok()
        .flatten()
        .unwrap_or("")
}

/// A bigint column, 0 when NULL.
fn int(row: &tokio_postgres::Row, i: usize) -> i64 {
    row.try_get::<_, Option<i64>>(i).ok().flatten().unwrap_or(0)
}

/// A `seq` column, `None` when NULL or negative.
fn seq(row: &tokio_postgres::Row, i: usize) -> Option<u64> {
    u64::try_from(int(row, i)).ok()
}

/// A failed query about `what` in `database`.
fn query_error<'d>(
    database: &'d Database,
    what: &'static str,
) -> impl Fn(tokio_postgres::Error) -> ClusterError + 'd {
    move |source| ClusterError::Query {
        database: database.label().to_owned(),
        what,
        source,
    }
}

/// Calls `each` on every row of `portal`, fetched a page of [`PAGE_ROWS`] at a time.
async fn each_row(
    tx: &tokio_postgres::Transaction<'_>,
    portal: &tokio_postgres::Portal,
    query: impl Fn(tokio_postgres::Error) -> ClusterError,
    mut each: impl FnMut(&tokio_postgres::Row) -> Result<(), ClusterError>,
) -> Result<(), ClusterError> {
    loop {
        let rows = tx.query_portal(portal, PAGE_ROWS).await.map_err(&query)?;
        if rows.is_empty() {
            return Ok(());
        }
        rows.iter().try_for_each(&mut each)?;
    }
}

async fn connect(
    database: &Database,
    application: &str,
) -> Result<super::connect::Connection, ClusterError> {
    let conn = database
        .connect(application)
        .await
        .map_err(|source| ClusterError::Unreachable {
            database: database.label().to_owned(),
            source,
        })?;
    check_schema(&conn.client, database).await?;
    Ok(conn)
}

/// A database no gateway ever started on has no audit table: say so rather than fail a query.
async fn check_schema(client: &Client, database: &Database) -> Result<(), ClusterError> {
    let row = client
        .query_one("SELECT to_regclass('tongban_audit') IS NOT NULL", &[])
        .await
        .map_err(query_error(database, "the schema"))?;
    if row
        .try_get(0)
        .map_err(query_error(database, "the schema"))?
    {
        Ok(())
    } else {
        Err(ClusterError::Schema {
            database: database.label().to_owned(),
            reason: "no tongban audit here (no table `tongban_audit`): is this the cluster's \
                     database?"
                .into(),
        })
    }
}

/// The check of one node's rows, in `seq` order.
struct Checker {
    report: NodeReport,
    /// The stored hash of the row before.
    previous: Option<(u64, String)>,
}

impl Checker {
    fn new(node: String) -> Self {
        Checker {
            report: NodeReport {
                node,
                records: 0,
                first_seq: None,
                last_seq: None,
                head: ChainHash::ZERO,
                breaks: Vec::new(),
                more_breaks: 0,
            },
            previous: None,
        }
    }

    fn found(&mut self, seq: Option<u64>, kind: DbBreakKind) {
        if self.report.breaks.len() < MAX_BREAKS_NAMED {
            self.report.breaks.push(DbBreak {
                node: self.report.node.clone(),
                seq,
                kind,
            });
        } else {
            self.report.more_breaks += 1;
        }
    }

    fn row(
        &mut self,
        seq: u64,
        prev: String,
        hash: String,
        line: String,
        forked: impl Fn(&str) -> bool,
    ) {
        let at = Some(seq);
        let r = &mut self.report;
        r.records += 1;
        r.first_seq.get_or_insert(seq);
        r.last_seq = Some(seq);
        r.head = ChainHash::from_hex(&hash).unwrap_or(ChainHash::ZERO);
        if ChainHash::of_line(line.as_bytes()).to_string() != hash {
            self.found(at, DbBreakKind::Changed);
        }
        match parse_line(line.as_bytes()) {
            Err((kind, _)) => self.found(at, DbBreakKind::BadLine(kind)),
            Ok(envelope) => {
                let node = self.report.node.clone();
                for (what, in_line, in_row) in [
                    ("seq", envelope.seq.to_string(), seq.to_string()),
                    ("prev", envelope.prev.to_string(), prev.clone()),
                    ("node", envelope.node.unwrap_or_default(), node),
                ] {
                    if in_line != in_row {
                        self.found(
                            at,
                            DbBreakKind::Disagrees {
                                what,
                                line: in_line,
                                row: in_row,
                            },
                        );
                    }
                }
            }
        }
        let expected = self.previous.as_ref().map_or(1, |(s, _)| s + 1);
        if seq > expected {
            self.found(
                at,
                DbBreakKind::Gap {
                    from: expected,
                    to: seq - 1,
                },
            );
        }
        // a repeated seq is named by the fork query; the link is checked once per seq
        if seq >= expected && !forked(&prev) {
            match &self.previous {
                None if seq == 1 && prev != ChainHash::ZERO.to_string() => {
                    self.found(at, DbBreakKind::NotGenesis)
                }
                Some((before, hash_before)) if seq == expected && *hash_before != prev => {
                    self.found(at, DbBreakKind::Unlinked { before: *before })
                }
                _ => {}
            }
        }
        self.previous = Some((seq, hash));
    }

    fn finish(self) -> NodeReport {
        self.report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::record::{format_node_line, line_fields};
    use crate::audit::{CallerId, Outcome, Record};

    /// Rows of a chain of `n` records of `node`: (seq, prev, hash, line).
    fn chain(node: &str, n: u64) -> Vec<(u64, String, String, String)> {
        let mut prev = ChainHash::ZERO;
        (1..=n)
            .map(|seq| {
                let record = Record::exchange(
                    format!("r{seq}"),
                    CallerId::new("420100", "TAX", "org"),
                    "ITEM",
                    "P",
                    Outcome::Permit,
                );
                let mut line = format_node_line(
                    seq,
                    "2025-06-15T00:00:00Z",
                    &prev.to_string(),
                    Some(node),
                    &line_fields(&record).unwrap(),
                );
                line.pop();
                let line = String::from_utf8(line).unwrap();
                let hash = ChainHash::of_line(line.as_bytes());
                let row = (seq, prev.to_string(), hash.to_string(), line);
                prev = hash;
                row
            })
            .collect()
    }

    fn check(node: &str, rows: Vec<(u64, String, String, String)>) -> NodeReport {
        let mut c = Checker::new(node.into());
        for (seq, prev, hash, line) in rows {
            c.row(seq, prev, hash, line, |_| false);
        }
        c.finish()
    }

    #[test]
    fn an_intact_chain() {
        let report = check("gw-1", chain("gw-1", 5));
        assert!(report.is_intact(), "{:?}", report.breaks);
        assert_eq!(
            (report.first_seq, report.last_seq, report.records),
            (Some(1), Some(5), 5)
        );
        assert!(report
            .to_string()
            .starts_with("node `gw-1`: 5 records, seq 1..5, intact, head "));
    }

    #[test]
    fn each_break_is_named() {
        // a changed line
        let mut rows = chain("gw-1", 5);
        rows[2].3 = rows[2].3.replace("\"status\":200", "\"status\":201");
        let r = check("gw-1", rows);
        assert_eq!(r.breaks.len(), 1, "{:?}", r.breaks);
        assert_eq!(
            (r.breaks[0].seq, &r.breaks[0].kind),
            (Some(3), &DbBreakKind::Changed)
        );
        // a changed line whose stored hash was changed too: the next link shows it
        let mut rows = chain("gw-1", 5);
        rows[2].3 = rows[2].3.replace("\"status\":200", "\"status\":201");
        rows[2].2 = ChainHash::of_line(rows[2].3.as_bytes()).to_string();
        let r = check("gw-1", rows);
        assert_eq!(r.breaks[0].kind, DbBreakKind::Unlinked { before: 3 });
        assert_eq!(r.breaks[0].seq, Some(4));
        // a removed record
        let mut rows = chain("gw-1", 5);
        rows.remove(1);
        let r = check("gw-1", rows);
        assert_eq!(r.breaks[0].kind, DbBreakKind::Gap { from: 2, to: 2 });
        assert!(r.breaks[0]
            .to_string()
            .contains("node `gw-1` seq 3: gap: record(s) 2..2 missing"));
        // a record moved to another node's chain
        let rows = chain("gw-2", 2);
        let r = check("gw-1", rows);
        assert!(matches!(
            &r.breaks[0].kind,
            DbBreakKind::Disagrees { what: "node", .. }
        ));
        // a chain that does not start at its beginning
        let mut rows = chain("gw-1", 3);
        rows.remove(0);
        let r = check("gw-1", rows);
        assert_eq!(r.breaks[0].kind, DbBreakKind::Gap { from: 1, to: 1 });
    }
}
