//! Rate limits held for the whole cluster (contract sections 4 and 9): one bucket per calling
//! organisation and item, kept by the database and decided with its clock, so that a caller's
//! requests draw on the same bucket whichever gateway answers. Each decision is one statement,
//! `tongban_rate_take` (a GCRA over the UNLOGGED table `tongban_rate`, migration 2): a bucket of
//! `count` requests refilled at `count` per period, exactly the in-process
//! [`RateLimiter`](crate::policy::rate::RateLimiter)'s token bucket.
//!
//! Unlike a limiter that fails open when its store goes away, a decision that cannot be made is
//! an error: the request is refused (503), as it would be without its audit record anyway.

use std::sync::Arc;
use std::time::{Duration, Instant};

use deadpool_postgres::Pool;

use super::metrics::{DbMetrics, Op};
use super::{ClusterError, Database};
use crate::policy::model::Rate;

const TAKE: &str = "SELECT tongban_rate_take($1, $2, $3, $4)";

/// Buckets whose time has passed are dropped this often (they mean the same as no row).
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(60);

/// The cluster's rate limiter.
pub struct GlobalRate {
    pool: Pool,
    database: Arc<Database>,
    timeout: Duration,
    metrics: DbMetrics,
}

impl GlobalRate {
    pub fn new(pool: Pool, database: Arc<Database>, timeout: Duration, metrics: DbMetrics) -> Self {
        Self {
            pool,
            database,
            timeout,
            metrics,
        }
    }

    /// Takes one request from the bucket of (`org`, `item`) under `rate`:
    /// `Ok(Ok(()))` it may pass, `Ok(Err(retry_after_secs))` it may not, `Err` no decision.
    pub async fn take(
        &self,
        org: &str,
        item: &str,
        rate: Rate,
    ) -> Result<Result<(), u64>, ClusterError> {
        let started = Instant::now();
        let count = i32::try_from(rate.count).unwrap_or(i32::MAX);
        let period = f64::from(rate.period_secs);
        let decide = async {
            let client = self.pool.get().await.map_err(|e| self.pool_error(e))?;
            let statement = client
                .prepare_cached(TAKE)
                .await
                .map_err(|source| self.query_error(source))?;
            let row = client
                .query_one(&statement, &[&org, &item, &count, &period])
                .await
                .map_err(|source| self.query_error(source))?;
            Ok::<f64, ClusterError>(row.get(0))
        };
        let result = match tokio::time::timeout(self.timeout, decide).await {
            Ok(result) => result,
            Err(_) => Err(ClusterError::Timeout {
                database: self.database.label().to_owned(),
                what: "rate-limit decision",
                ms: self.timeout.as_millis(),
            }),
        };
        self.metrics
            .observe(Op::RateLimit, started.elapsed(), result.is_ok());
        let wait = result?;
        Ok(if wait <= 0.0 {
            Ok(())
        } else {
            Err((wait.ceil() as u64).max(1))
        })
    }

    /// Drops the buckets whose time has passed; returns how many.
    pub async fn sweep(&self) -> Result<u64, ClusterError> {
        let client = self.pool.get().await.map_err(|e| self.pool_error(e))?;
        let row = client
            .query_one("SELECT tongban_rate_sweep()", &[])
            .await
            .map_err(|source| self.query_error(source))?;
        Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
    }

    fn query_error(&self, source: tokio_postgres::Error) -> ClusterError {
        ClusterError::Query {
            database: self.database.label().to_owned(),
            what: "rate-limit decision",
            source,
        }
    }

    fn pool_error(&self, e: deadpool_postgres::PoolError) -> ClusterError {
        pool_error(&self.database, e)
    }
}

/// A connection the pool could not give.
pub(super) fn pool_error(database: &Database, e: deadpool_postgres::PoolError) -> ClusterError {
    match e {
        deadpool_postgres::PoolError::Backend(source) => ClusterError::Unreachable {
            database: database.label().to_owned(),
            source,
        },
        other => ClusterError::Config(format!(
            "cluster database {}: no connection from the pool: {other}",
            database.label()
        )),
    }
}
