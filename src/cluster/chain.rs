//! This node's audit chain in the database: the group-commit writer, the node's lease and
//! reconnection.
//!
//! One task writes the chain, on one connection that also holds the node's lease (a session
//! advisory lock): whoever writes holds the lease, and a lost connection loses both at once.
//! Requests serialize their records themselves, hand them to the task and wait; the task takes
//! everything waiting (up to `[cluster] max_batch` records), gives each its `seq`, `ts`, `prev`
//! and `node`, commits them in one statement, then answers every waiter. While a commit runs the
//! next batch gathers, so the batch grows with the load. When the connection is lost the task
//! refuses what waits, marks the node down (`/readyz` 503, requests refused at once) and
//! reconnects with back-off, taking the lease again and reading the chain's head back from the
//! database before it writes.
//!
//! [`batch`] builds a batch's rows and counts; [`lease`] takes the lease and reads the head.

mod batch;
mod lease;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tokio_postgres::Statement;

use self::batch::{Entry, Head, Rows, INSERT};
use self::lease::{lease, lease_timeout, read_head, LeaseError};
use super::connect::{Connection, Database};
use super::metrics::{DbMetrics, Op};
use super::migrate::is_guard;
use super::ClusterError;
use crate::audit::{AuditError, Pending, Record, Sink};
use crate::server::config::ClusterConfig;
use crate::time::SystemClock;

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
            // its request gave up waiting and answered 503: no record of an answer never sent
            // (one that gives up during the COMMIT is recorded all the same: a record without
            // its answer, never an answer without its record)
            if job.done.is_closed() {
                continue;
            }
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
                    "the database refused this node's records as a fork or a gap; \
                     reading its head again"
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
                tracing::error!(
                    node = %node,
                    error = %super::with_source(&e),
                    "audit commit failed"
                );
                refuse_all(accepted, "the commit failed");
                false
            }
            Err(_) => {
                tracing::error!(
                    node = %node,
                    ms = self.shared.timeout.as_millis() as u64,
                    "audit commit timed out"
                );
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
                    tracing::info!(
                        node = %self.shared.node,
                        attempts,
                        "cluster database back: serving again"
                    );
                    return Some(conn);
                }
                Err(e) => {
                    // the first failure and then one in ten, not one line per attempt
                    if attempts % 10 == 1 {
                        tracing::warn!(
                            node = %self.shared.node,
                            attempts,
                            error = %e,
                            "cluster database still unreachable"
                        );
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
                tracing::warn!(
                    node = %self.shared.node,
                    op = op.as_str(),
                    error = %super::with_source(&e),
                    "cluster database operation failed"
                );
                None
            }
            Err(_) => {
                tracing::warn!(
                    node = %self.shared.node,
                    op = op.as_str(),
                    "cluster database operation timed out"
                );
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
