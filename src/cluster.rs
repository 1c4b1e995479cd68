//! Several gateways on one PostgreSQL (contract section 9): a city runs two or three gateways
//! behind a load balancer, and they share one database and nothing else.
//!
//! # Layout
//! - [`connect`]: the connection string, TLS to the database (rustls on ring, the configured
//!   roots), the pool and the dedicated connections;
//! - [`migrate`]: the versioned schema (`src/cluster/migrations/*.sql`), applied at start;
//! - [`chain`]: [`AuditChain`], this node's hash chain in the database: the group-commit writer,
//!   the node's lease, reconnection with back-off; an [`audit::Sink`](crate::audit::Sink);
//! - [`rate`]: [`GlobalRate`], one token bucket per organisation and item for the whole cluster,
//!   decided by the database with its clock (GCRA, one statement per decision);
//! - [`figures`]: the statistics centre's figures of the whole cluster's day;
//! - [`verify`](mod@verify): `tongban audit verify --database` and `tongban audit export`;
//! - [`metrics`]: the database's latency, errors, pool and batches, for Prometheus.
//!
//! # Guarantees
//! - No answer without its record: [`AuditChain`] resolves an append only after the COMMIT
//!   that holds it; a record that cannot be committed in `[cluster] timeout_ms` refuses its
//!   request (503 `AUDIT_UNAVAILABLE`), and while the database is away every request is refused
//!   at once and `/readyz` says 503.
//! - One chain per node, one writer per chain: the writer holds the node's lease (a session
//!   advisory lock) on the connection it writes with, so losing the connection loses the lease
//!   and nothing is written until both are back; the schema refuses forks and gaps whatever
//!   happens (`(node, seq)` and `(node, prev)` unique, every record linked to the one before).
//! - Service comes back by itself when the database does: the writer and the pool reconnect
//!   with back-off (at most [`chain::MAX_BACKOFF`] between attempts).

pub mod chain;
pub mod connect;
pub mod figures;
pub mod metrics;
pub mod migrate;
pub mod rate;
pub mod secrets;
pub mod verify;

use std::sync::Arc;

pub use chain::AuditChain;
pub use connect::Database;
pub use metrics::DbMetrics;
pub use rate::GlobalRate;

use crate::policy::model::Day;
use crate::server::config::ClusterConfig;
use crate::stats::{Figures, Resolver};

/// Why the cluster part of a gateway could not start, or a database command failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// `[cluster]` or a file it names is unusable.
    #[error("{0}")]
    Config(String),
    #[error("cannot reach the cluster database {database}: {}", with_source(.source))]
    Unreachable {
        database: String,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error("cluster database {database}: {what}: {}", with_source(.source))]
    Query {
        database: String,
        what: &'static str,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error("cluster database {database}: {what}: no answer within {ms} ms")]
    Timeout {
        database: String,
        what: &'static str,
        ms: u128,
    },
    #[error(
        "node `{node}` is already running: its lease in the database is held by {holder}; two \
         gateways must not share a `[cluster] node` name"
    )]
    NodeRunning { node: String, holder: String },
    #[error("cluster database {database}: {reason}")]
    Schema { database: String, reason: String },
    #[error(
        "this gateway's {secret} differs from the one node `{node}` recorded in the cluster \
         database: every node needs the same mask.key and audit.key (docs/deployment.md)"
    )]
    SecretDiffers { secret: &'static str, node: String },
    #[error("cannot register the database metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}

impl ClusterError {
    /// Whether the error is about what the gateway was asked to do rather than a failure to do
    /// it (the command line's exit status 1 instead of 2).
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            ClusterError::NodeRunning { .. } | ClusterError::SecretDiffers { .. }
        )
    }
}

/// Checks the syntax of a connection string (libpq `key=value` or a URL) without echoing it: it
/// may hold a password.
pub fn check_database(text: &str) -> Result<(), String> {
    text.parse::<tokio_postgres::Config>()
        .map(drop)
        .map_err(|e| with_source(&e))
}

/// Whether connecting may succeed later by itself: no answer from the server (it is down,
/// restarting or unreachable), as opposed to its refusal (a wrong password, a missing
/// database) or a TLS failure (a certificate the roots do not vouch for).
pub(crate) fn is_transient(e: &tokio_postgres::Error) -> bool {
    if e.code().is_some() {
        return false;
    }
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(c) = cause {
        let tls = c.is::<rustls::Error>()
            || c.downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .is_some_and(|inner| inner.is::<rustls::Error>());
        if tls {
            return false;
        }
        cause = c.source();
    }
    true
}

/// An error with its causes (tokio-postgres keeps the detail in the source).
pub(crate) fn with_source(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(&format!(": {c}"));
        cause = c.source();
    }
    text
}

/// Checks a node name (`[cluster] node`): it names a chain and a lease.
pub fn check_node(text: &str) -> Result<(), String> {
    if crate::audit::record::is_node_name(text) {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not a node name: 1 to 64 of A-Z a-z 0-9 . _ -",
            text.chars().take(80).collect::<String>()
        ))
    }
}

/// A gateway's part of the cluster: its audit chain, the global rate limits and the cluster's
/// figures, over one database.
pub struct Cluster {
    database: Arc<Database>,
    pool: deadpool_postgres::Pool,
    chain: Arc<AuditChain>,
    rate: GlobalRate,
    metrics: DbMetrics,
    timeout: std::time::Duration,
}

impl Cluster {
    /// Connects, migrates the schema, takes the node's lease (refusing to start when another
    /// process holds it) and starts the audit writer. Metrics go to `registry`.
    pub async fn start(
        config: &ClusterConfig,
        registry: &prometheus::Registry,
    ) -> Result<Cluster, ClusterError> {
        let database = Arc::new(Database::open(config)?);
        let metrics = DbMetrics::register(registry)?;
        let pool = database.pool(config.pool_size, config.timeout, &config.node)?;
        migrate::apply_when_reachable(&database).await?;
        let chain = Arc::new(AuditChain::start(database.clone(), config, metrics.clone()).await?);
        tracing::info!(
            node = %config.node,
            database = %database.label(),
            tls = database.uses_tls(),
            "cluster: audit chain and lease held"
        );
        Ok(Cluster {
            rate: GlobalRate::new(
                pool.clone(),
                database.clone(),
                config.timeout,
                metrics.clone(),
            ),
            database,
            pool,
            chain,
            metrics,
            timeout: config.timeout,
        })
    }

    /// The audit chain (the gateway's [`crate::audit::Sink`]).
    pub fn chain(&self) -> &Arc<AuditChain> {
        &self.chain
    }

    /// Checks that this gateway's `secrets` (name, check value) are the cluster's: refused
    /// ([`ClusterError::SecretDiffers`]) when another node recorded others.
    pub async fn check_same_secrets(
        &self,
        node: &str,
        secrets: &[(&'static str, String)],
    ) -> Result<(), ClusterError> {
        secrets::check_same(&self.database, node, secrets, self.timeout).await
    }

    /// The global rate limiter.
    pub fn rate(&self) -> &GlobalRate {
        &self.rate
    }

    /// Whether the node holds its lease on a live connection (`/readyz`).
    pub fn is_ready(&self) -> bool {
        self.chain.is_up()
    }

    /// The whole cluster's figures of `day`, named by `names`.
    pub async fn figures(&self, day: Day, names: &Resolver<'_>) -> Result<Figures, ClusterError> {
        figures::read(
            &self.pool,
            &self.database,
            day,
            names,
            self.timeout,
            &self.metrics,
        )
        .await
    }

    /// Sets the pool gauges (when `/metrics` is read).
    pub fn observe_pool(&self) {
        self.metrics.observe_pool(&self.pool.status());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names_and_connection_strings() {
        assert!(check_node("gw-1").is_ok());
        assert!(check_node("wuhan.gw_2").is_ok());
        for bad in ["", "gw 1", "网关", &"x".repeat(65)] {
            assert!(check_node(bad).is_err(), "{bad}");
        }
        assert!(check_database("host=127.0.0.1 port=5432 user=tongban dbname=tongban").is_ok());
        assert!(check_database("postgresql://tongban@db.example:5432/tongban").is_ok());
        let err = check_database("host=x colour=blue password=hunter2").unwrap_err();
        assert!(err.contains("colour") && !err.contains("hunter2"), "{err}");
        assert!(check_database("port=notaport").is_err());
    }
}
