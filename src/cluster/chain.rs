//! This node's audit chain in the database: the group-commit writer, the node's lease and
//! reconnection.
//!
//! One task writes the chain, on one connection that also holds the node's lease (a session
//! advisory lock): whoever writes holds the lease, and a lost connection loses both at once.
//! Requests serialize their records themselves, hand them to the task and wait; the task takes
//! everything waiting (up to `[cluster] max_batch` records), gives each its `seq`, `ts`, `prev`
//! and `node`, and commits them in one statement, then answers every waiter. While a commit runs the next batch gathers, so the batch
//! grows with the load. When the connection is lost the task refuses what waits, marks the node
//! down (`/readyz` 503, requests refused at once) and reconnects with back-off, taking the lease
//! again and reading the chain's head back from the database before it writes.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tokio_postgres::Statement;

use super::connect::{Connection, Database};
use super::metrics::{DbMetrics, Op};
use super::migrate::is_guard;
use super::ClusterError;
use crate::audit::record::{format_node_line, line_fields};
use crate::audit::verify::{ChainHash, MAX_LINE_BYTES};
use crate::audit::{AuditError, Pending, Record, Sink};
use crate::crypto::sha256;
use crate::server::config::ClusterConfig;
use crate::stats::{day_of, format_day, Fact};
use crate::time::{format_rfc3339, Clock, SystemClock};

/// Longest pause between two attempts to reach the database again.
pub const MAX_BACKOFF: Duration = Duration::from_secs(2);
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// An idle writer checks its connection this often, so `/readyz` follows the database.
const PING_INTERVAL: Duration = Duration::from_secs(1);
/// At start, a lease held by another process is waited for this long before refusing: the
/// server side of a process killed a moment ago may not have noticed yet.
const LEASE_GRACE: Duration = Duration::from_secs(3);
/// Requests waiting for the writer at most; beyond, they are refused (memory stays bounded).
const QUEUE_JOBS: usize = 8192;

/// The records of a batch and their counts, in one statement: it commits as a whole.
const INSERT: &str = "WITH written AS (
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

const HEAD: &str = "SELECT seq, hash FROM tongban_audit WHERE node = $1 ORDER BY seq DESC LIMIT 1";

/// The last committed record of a chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Head {
    seq: u64,
    hash: ChainHash,
}

impl Head {
    const GENESIS: Head = Head {
        seq: 0,
        hash: ChainHash::ZERO,
    };
}

/// This node's chain: an [`audit::Sink`](Sink) whose appends resolve after their COMMIT.
pub struct AuditChain {
    shared: Arc<Shared>,
    /// To the writer task, which commits what waits and ends once this is dropped.
    queue: mpsc::Sender<Job>,
}

struct Shared {
    node: String,
    up: AtomicBool,
    timeout: Duration,
    metrics: DbMetrics,
}

/// Records of one request, committed together, and where to say so.
struct Job {
    entries: Vec<Entry>,
    done: oneshot::Sender<Result<(), AuditError>>,
}

/// One record as its requester prepared it: its fields serialized (the end of its line) and what
/// it adds to the day's figures (`day` left to the writer, which gives the record its time).
struct Entry {
    fields: Vec<u8>,
    fact: Option<CountKey>,
}

impl Entry {
    fn of(record: &Record) -> Result<Self, AuditError> {
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

impl AuditChain {
    /// Connects, takes the node's lease (refusing to start when another process holds it past
    /// [`LEASE_GRACE`]), reads the chain's head and starts the writer.
    pub async fn start(
        database: Arc<Database>,
        config: &ClusterConfig,
        metrics: DbMetrics,
    ) -> Result<AuditChain, ClusterError> {
        let node = config.node.clone();
        let started = Instant::now();
        let (connection, head) = loop {
            match lease(&database, &node, config.timeout).await {
                Ok(leased) => break leased,
                Err(LeaseError::Held(_)) if started.elapsed() < LEASE_GRACE => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(LeaseError::Held(holder)) => {
                    return Err(ClusterError::NodeRunning { node, holder })
                }
                Err(LeaseError::Query { what, source }) if super::is_transient(&source) => {
                    return Err(ClusterError::Unreachable {
                        database: format!("{} ({what})", database.label()),
                        source,
                    })
                }
                Err(LeaseError::Query { what, source }) => {
                    return Err(ClusterError::Query {
                        database: database.label().to_owned(),
                        what,
                        source,
                    })
                }
                Err(LeaseError::Timeout) => {
                    return Err(ClusterError::Timeout {
                        database: database.label().to_owned(),
                        what: "taking the node's lease",
                        ms: lease_timeout(config.timeout).as_millis(),
                    })
                }
            }
        };
        tracing::info!(node = %node, seq = head.seq, "cluster: the chain continues after its head");
        // up from here: the lease is held on `connection`, which the writer starts with
        metrics.up.set(1);
        let shared = Arc::new(Shared {
            node,
            up: AtomicBool::new(true),
            timeout: config.timeout,
            metrics,
        });
        let (queue, rx) = mpsc::channel(QUEUE_JOBS);
        let writer = Writer {
            database,
            shared: shared.clone(),
            rx,
            max_batch: config.max_batch,
            clock: SystemClock,
            head,
            held: None,
        };
        tokio::spawn(writer.run(connection));
        Ok(AuditChain { shared, queue })
    }

    /// Whether the writer holds the lease on a live connection.
    pub fn is_up(&self) -> bool {
        self.shared.up.load(Ordering::Acquire)
    }
}

impl Sink for AuditChain {
    fn append<'a>(&'a self, records: &'a [Record]) -> Pending<'a> {
        Box::pin(async move {
            if records.is_empty() {
                return Ok(());
            }
            if !self.is_up() {
                return Err(unavailable("the cluster database is unreachable"));
            }
            let entries = records.iter().map(Entry::of).collect::<Result<_, _>>()?;
            let (done, answer) = oneshot::channel();
            let job = Job { entries, done };
            self.queue.try_send(job).map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => {
                    unavailable("too many records are waiting for the database")
                }
                mpsc::error::TrySendError::Closed(_) => unavailable("the audit writer stopped"),
            })?;
            match tokio::time::timeout(self.shared.timeout, answer).await {
                Ok(Ok(result)) => result,
                Ok(Err(_)) => Err(unavailable("the audit writer stopped")),
                Err(_) => Err(unavailable(&format!(
                    "no commit within {} ms",
                    self.shared.timeout.as_millis()
                ))),
            }
        })
    }
}

fn unavailable(reason: &str) -> AuditError {
    AuditError::Unavailable {
        reason: reason.to_owned(),
    }
}

/// How the serving of one connection ended.
enum Served {
    /// Every [`AuditChain`] is gone: stop.
    Closed,
    /// The connection (and so the lease) is lost or in doubt.
    Lost,
}

struct Writer {
    database: Arc<Database>,
    shared: Arc<Shared>,
    rx: mpsc::Receiver<Job>,
    max_batch: usize,
    clock: SystemClock,
    /// The last committed record.
    head: Head,
    /// A job taken that did not fit the last batch.
    held: Option<Job>,
}

impl Writer {
    async fn run(mut self, first: Connection) {
        let mut connection = Some(first);
        loop {
            let mut conn = match connection.take() {
                Some(c) => c,
                None => match self.reconnect().await {
                    Some(c) => c,
                    None => return,
                },
            };
            self.set_up(true);
            match self.serve(&mut conn).await {
                Served::Closed => return,
                Served::Lost => {
                    self.set_up(false);
                    self.shared.metrics.reconnects.inc();
                    if let Some(job) = self.held.take() {
                        refuse(job, "the connection to the database was lost");
                    }
                    tracing::error!(
                        node = %self.shared.node,
                        "cluster database connection lost: refusing requests until it is back"
                    );
                }
            }
        }
    }

    fn set_up(&self, up: bool) {
        self.shared.up.store(up, Ordering::Release);
        self.shared.metrics.up.set(i64::from(up));
    }

    /// Writes batches on `conn` until it is lost or every [`AuditChain`] is gone.
    async fn serve(&mut self, conn: &mut Connection) -> Served {
        let insert = match self.timed(Op::Connect, conn.client.prepare(INSERT)).await {
            Some(statement) => statement,
            None => return Served::Lost,
        };
        let mut ping = tokio::time::interval(PING_INTERVAL);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ping.reset();
        loop {
            let job = match self.held.take() {
                Some(job) => Some(job),
                None => tokio::select! {
                    biased;
                    job = self.rx.recv() => match job {
                        Some(job) => Some(job),
                        None => return Served::Closed,
                    },
                    _ = &mut conn.task => return Served::Lost,
                    _ = ping.tick() => None,
                },
            };
            let alive = match job {
                Some(job) => {
                    let batch = self.gather(job);
                    let alive = self.commit(conn, &insert, batch).await;
                    ping.reset();
                    alive
                }
                None => self
                    .timed(Op::Ping, conn.client.simple_query("SELECT 1"))
                    .await
                    .is_some(),
            };
            if !alive {
                return Served::Lost;
            }
        }
    }

    /// `first` and whatever else waits, up to `max_batch` records (a job is never split).
    fn gather(&mut self, first: Job) -> Vec<Job> {
        let mut records = first.entries.len();
        let mut jobs = vec![first];
        while records < self.max_batch {
            match self.rx.try_recv() {
                Ok(job) if records + job.entries.len() > self.max_batch => {
                    self.held = Some(job);
                    break;
                }
                Ok(job) => {
                    records += job.entries.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        jobs
    }

    /// Commits the jobs' records after the head and answers them; `false` when the connection
    /// is lost or in doubt (every job then refused).
    async fn commit(&mut self, conn: &Connection, insert: &Statement, jobs: Vec<Job>) -> bool {
        let mut rows = Rows::default();
        let mut head = self.head;
        let mut accepted = Vec::with_capacity(jobs.len());
        for job in jobs {
            let (len, before) = (rows.seq.len(), head);
            match rows.push_all(&job.entries, &mut head, &self.shared.node, &self.clock) {
                Ok(()) => accepted.push(job),
                Err(e) => {
                    rows.truncate(len);
                    head = before;
                    tracing::error!(error = %e, "audit record refused before the database");
                    let _ = job.done.send(Err(e));
                }
            }
        }
        if accepted.is_empty() {
            return true;
        }
        let started = Instant::now();
        let counts = rows.counts();
        let node = self.shared.node.as_str();
        let result = tokio::time::timeout(
            self.shared.timeout,
            conn.client.execute(
                insert,
                &[
                    &node,
                    &rows.seq,
                    &rows.ts,
                    &rows.prev,
                    &rows.hash,
                    &rows.line,
                    &counts.day,
                    &counts.kind,
                    &counts.decision,
                    &counts.caller_city,
                    &counts.item,
                    &counts.ltype,
                    &counts.n,
                ],
            ),
        )
        .await;
        let metrics = &self.shared.metrics;
        metrics.observe(
            Op::AuditCommit,
            started.elapsed(),
            matches!(result, Ok(Ok(_))),
        );
        match result {
            Ok(Ok(_)) => {
                metrics.batch_records.observe(rows.seq.len() as f64);
                self.head = head;
                for job in accepted {
                    let _ = job.done.send(Ok(()));
                }
                true
            }
            Ok(Err(e)) if is_guard(&e) => {
                // the schema refused a fork or a gap: someone else wrote this node's chain
                tracing::error!(
                    node = %node, error = %super::with_source(&e),
                    "the database refused this node's records as a fork or a gap; reading its head again"
                );
                refuse_all(accepted, "the database refused the records (chain guard)");
                match self
                    .timed(Op::AuditCommit, read_head(&conn.client, node))
                    .await
                {
                    Some(head) => {
                        self.head = head;
                        true
                    }
                    None => false,
                }
            }
            Ok(Err(e)) => {
                tracing::error!(node = %node, error = %super::with_source(&e), "audit commit failed");
                refuse_all(accepted, "the commit failed");
                false
            }
            Err(_) => {
                tracing::error!(node = %node, ms = self.shared.timeout.as_millis() as u64, "audit commit timed out");
                refuse_all(accepted, "the commit did not complete in time");
                let token = conn.client.cancel_token();
                let _ =
                    tokio::time::timeout(self.shared.timeout, self.database.cancel(&token)).await;
                false
            }
        }
    }

    /// Reconnects with back-off, refusing the jobs that arrive meanwhile; `None` once every
    /// [`AuditChain`] is gone.
    async fn reconnect(&mut self) -> Option<Connection> {
        let mut pause = FIRST_BACKOFF;
        let mut attempts: u64 = 0;
        loop {
            attempts += 1;
            let started = Instant::now();
            let result = lease(&self.database, &self.shared.node, self.shared.timeout).await;
            let metrics = &self.shared.metrics;
            metrics.observe(Op::Connect, started.elapsed(), result.is_ok());
            match result {
                Ok((conn, head)) => {
                    if head != self.head {
                        tracing::warn!(
                            node = %self.shared.node,
                            ours = self.head.seq,
                            database = head.seq,
                            "the chain's head in the database differs from the last commit seen \
                             (a commit in doubt); continuing after the database's"
                        );
                    }
                    self.head = head;
                    tracing::info!(node = %self.shared.node, attempts, "cluster database back: serving again");
                    return Some(conn);
                }
                Err(e) => {
                    // the first failure and then one in ten, not one line per attempt
                    if attempts % 10 == 1 {
                        tracing::warn!(node = %self.shared.node, attempts, error = %e, "cluster database still unreachable");
                    }
                }
            }
            let wake = tokio::time::sleep(jitter(pause));
            tokio::pin!(wake);
            loop {
                tokio::select! {
                    _ = &mut wake => break,
                    job = self.rx.recv() => match job {
                        Some(job) => refuse(job, "the cluster database is unreachable"),
                        None => return None,
                    },
                }
            }
            pause = (pause * 2).min(MAX_BACKOFF);
        }
    }

    /// Runs `fut` within the timeout, counting it under `op`; `None` when it failed.
    async fn timed<T>(
        &self,
        op: Op,
        fut: impl std::future::Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> Option<T> {
        let started = Instant::now();
        let result = tokio::time::timeout(self.shared.timeout, fut).await;
        let ok = matches!(result, Ok(Ok(_)));
        self.shared.metrics.observe(op, started.elapsed(), ok);
        match result {
            Ok(Ok(value)) => Some(value),
            Ok(Err(e)) => {
                tracing::warn!(node = %self.shared.node, op = op.as_str(), error = %super::with_source(&e), "cluster database operation failed");
                None
            }
            Err(_) => {
                tracing::warn!(node = %self.shared.node, op = op.as_str(), "cluster database operation timed out");
                None
            }
        }
    }
}

fn refuse(job: Job, reason: &str) {
    let _ = job.done.send(Err(unavailable(reason)));
}

fn refuse_all(jobs: Vec<Job>, reason: &str) {
    for job in jobs {
        refuse(job, reason);
    }
}

/// `pause` ± 20 %, so that gateways that lost the database together do not return in step.
fn jitter(pause: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    pause.mul_f64(0.8 + 0.4 * f64::from(nanos % 1000) / 1000.0)
}

/// The rows of a batch, as the statement's arrays.
#[derive(Default)]
struct Rows {
    seq: Vec<i64>,
    ts: Vec<String>,
    prev: Vec<String>,
    hash: Vec<String>,
    line: Vec<String>,
    /// What each record adds to the day's figures.
    facts: Vec<Option<CountKey>>,
}

/// A row of `tongban_daily_counts` without its node.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct CountKey {
    day: String,
    kind: &'static str,
    decision: &'static str,
    caller_city: String,
    item: String,
    ltype: String,
}

/// The counts of a batch, as the statement's arrays.
#[derive(Default)]
struct Counts {
    day: Vec<String>,
    kind: Vec<&'static str>,
    decision: Vec<&'static str>,
    caller_city: Vec<String>,
    item: Vec<String>,
    ltype: Vec<String>,
    n: Vec<i64>,
}

impl Rows {
    /// Chains `entries` after `head` (moved along).
    fn push_all(
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

    fn truncate(&mut self, len: usize) {
        self.seq.truncate(len);
        self.ts.truncate(len);
        self.prev.truncate(len);
        self.hash.truncate(len);
        self.line.truncate(len);
        self.facts.truncate(len);
    }

    /// The facts summed by key (one upsert per key: a statement cannot update a row twice).
    fn counts(&self) -> Counts {
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

/// Why the lease could not be taken.
#[derive(Debug, thiserror::Error)]
enum LeaseError {
    #[error("held by {0}")]
    Held(String),
    #[error("{what}: {}", super::with_source(.source))]
    Query {
        what: &'static str,
        source: tokio_postgres::Error,
    },
    #[error("no answer in time")]
    Timeout,
}

/// Connecting and taking the lease may take a few round trips.
fn lease_timeout(timeout: Duration) -> Duration {
    timeout * 3
}

/// A connection holding `node`'s lease, and the chain's head.
async fn lease(
    database: &Database,
    node: &str,
    timeout: Duration,
) -> Result<(Connection, Head), LeaseError> {
    let attempt = async {
        let query = |what| move |source| LeaseError::Query { what, source };
        let conn = database
            .connect(&format!("tongban {node} audit"))
            .await
            .map_err(query("connect"))?;
        let row = conn
            .client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&lease_key(node)])
            .await
            .map_err(query("lease"))?;
        if !row.get::<_, bool>(0) {
            let holder = conn
                .client
                .query_opt(
                    "SELECT holder, to_char(since AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') \
                     FROM tongban_nodes WHERE node = $1",
                    &[&node],
                )
                .await
                .map_err(query("lease holder"))?
                .map_or_else(
                    || "another process".to_owned(),
                    |r| format!("`{}` (since {})", r.get::<_, String>(0), r.get::<_, String>(1)),
                );
            return Err(LeaseError::Held(holder));
        }
        // a COMMIT must mean the record is on disk (and on the synchronous standby, if any)
        let durability: String = conn
            .client
            .query_one("SELECT current_setting('synchronous_commit')", &[])
            .await
            .map_err(query("synchronous_commit"))?
            .get(0);
        if durability == "off" {
            tracing::warn!(
                node,
                "synchronous_commit is off for this role: set on for the audit writer"
            );
            conn.client
                .batch_execute("SET synchronous_commit = on")
                .await
                .map_err(query("synchronous_commit"))?;
        }
        conn.client
            .execute(
                "INSERT INTO tongban_nodes (node, holder, since) VALUES ($1, $2, now()) \
                 ON CONFLICT (node) DO UPDATE SET holder = excluded.holder, since = excluded.since",
                &[&node, &holder()],
            )
            .await
            .map_err(query("record the lease"))?;
        let head = read_head(&conn.client, node)
            .await
            .map_err(query("the chain's head"))?;
        Ok((conn, head))
    };
    tokio::time::timeout(lease_timeout(timeout), attempt)
        .await
        .unwrap_or(Err(LeaseError::Timeout))
}

/// The last record of `node`'s chain in the database.
async fn read_head(
    client: &tokio_postgres::Client,
    node: &str,
) -> Result<Head, tokio_postgres::Error> {
    let Some(row) = client.query_opt(HEAD, &[&node]).await? else {
        return Ok(Head::GENESIS);
    };
    let seq: i64 = row.get(0);
    let hash: String = row.get(1);
    // the schema's checks hold both to their form
    Ok(Head {
        seq: u64::try_from(seq).unwrap_or(0),
        hash: ChainHash::from_hex(&hash).unwrap_or(ChainHash::ZERO),
    })
}

/// The advisory lock of `node`: 64 bits of a SHA-256, so two names never share one.
fn lease_key(node: &str) -> i64 {
    let digest = sha256(format!("tongban node lease\n{node}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(digest.get(..8).unwrap_or(&[0; 8]));
    i64::from_be_bytes(first)
}

/// This process, as `tongban_nodes.holder` shows it.
fn holder() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown host".to_owned());
    format!("{host} pid {}", std::process::id())
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

    #[test]
    fn leases_differ_by_node() {
        assert_ne!(lease_key("gw-1"), lease_key("gw-2"));
        assert_eq!(lease_key("gw-1"), lease_key("gw-1"));
        assert!(holder().contains(" pid "));
    }
}
