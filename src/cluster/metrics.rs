//! The database's metrics (our extension of contract section 7), registered only by a gateway
//! with `[cluster]`. Labels are bounded: `op` is one of [`Op::ALL`], `state` `idle` or `in_use`.

use std::time::Duration;

use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry,
};

/// What a database round trip was for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// A group commit of audit records.
    AuditCommit,
    /// A rate-limit decision.
    RateLimit,
    /// Reading the cluster's figures.
    Statistics,
    /// The audit writer's liveness probe while idle.
    Ping,
    /// Connecting the audit writer and taking the node's lease.
    Connect,
}

impl Op {
    pub const ALL: [Op; 5] = [
        Op::AuditCommit,
        Op::RateLimit,
        Op::Statistics,
        Op::Ping,
        Op::Connect,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Op::AuditCommit => "audit_commit",
            Op::RateLimit => "rate_limit",
            Op::Statistics => "statistics",
            Op::Ping => "ping",
            Op::Connect => "connect",
        }
    }
}

/// The database metrics; cheap to clone.
#[derive(Clone)]
pub struct DbMetrics {
    /// 1 while this gateway holds its node's lease on a live connection (it serves), else 0.
    pub up: IntGauge,
    duration: HistogramVec,
    errors: IntCounterVec,
    pub reconnects: IntCounter,
    pool_connections: IntGaugeVec,
    pool_max: IntGauge,
    pool_waiting: IntGauge,
    /// Records per group commit.
    pub batch_records: Histogram,
}

impl DbMetrics {
    /// Registers every family in `registry`, each series present from the start.
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let up = IntGauge::new(
            "tongban_db_up",
            "1 while this gateway holds its node's lease on a live database connection",
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "tongban_db_operation_duration_seconds",
                "Database round trips, by operation",
            )
            .buckets(vec![
                0.000_5, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["op"],
        )?;
        let errors = IntCounterVec::new(
            Opts::new(
                "tongban_db_errors_total",
                "Database operations that failed or timed out, by operation",
            ),
            &["op"],
        )?;
        let reconnects = IntCounter::new(
            "tongban_db_reconnects_total",
            "Times the audit writer lost its database connection and set out to reconnect",
        )?;
        let pool_connections = IntGaugeVec::new(
            Opts::new(
                "tongban_db_pool_connections",
                "Connections of the database pool, by state (idle, in_use)",
            ),
            &["state"],
        )?;
        let pool_max = IntGauge::new(
            "tongban_db_pool_max_connections",
            "Most connections the database pool opens",
        )?;
        let pool_waiting = IntGauge::new(
            "tongban_db_pool_waiting",
            "Requests waiting for a connection of the database pool",
        )?;
        let batch_records = Histogram::with_opts(
            HistogramOpts::new(
                "tongban_audit_batch_records",
                "Audit records committed per database transaction (group commit)",
            )
            .buckets(vec![
                1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
            ]),
        )?;
        registry.register(Box::new(up.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        registry.register(Box::new(errors.clone()))?;
        registry.register(Box::new(reconnects.clone()))?;
        registry.register(Box::new(pool_connections.clone()))?;
        registry.register(Box::new(pool_max.clone()))?;
        registry.register(Box::new(pool_waiting.clone()))?;
        registry.register(Box::new(batch_records.clone()))?;
        for op in Op::ALL {
            duration.with_label_values(&[op.as_str()]);
            errors.with_label_values(&[op.as_str()]);
        }
        for state in ["idle", "in_use"] {
            pool_connections.with_label_values(&[state]);
        }
        Ok(Self {
            up,
            duration,
            errors,
            reconnects,
            pool_connections,
            pool_max,
            pool_waiting,
            batch_records,
        })
    }

    /// Counts one operation of `elapsed`, and an error when it failed.
    pub fn observe(&self, op: Op, elapsed: Duration, ok: bool) {
        self.duration
            .with_label_values(&[op.as_str()])
            .observe(elapsed.as_secs_f64());
        if !ok {
            self.errors.with_label_values(&[op.as_str()]).inc();
        }
    }

    /// Sets the pool gauges from its status.
    pub fn observe_pool(&self, status: &deadpool_postgres::Status) {
        let gauge = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        self.pool_connections
            .with_label_values(&["idle"])
            .set(gauge(status.available));
        self.pool_connections
            .with_label_values(&["in_use"])
            .set(gauge(status.size.saturating_sub(status.available)));
        self.pool_max.set(gauge(status.max_size));
        self.pool_waiting.set(gauge(status.waiting));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_is_exposed_at_zero() {
        let registry = Registry::new();
        let m = DbMetrics::register(&registry).unwrap();
        m.observe(Op::RateLimit, Duration::from_millis(3), false);
        let text = prometheus::TextEncoder::new()
            .encode_to_string(&registry.gather())
            .unwrap();
        for series in [
            "tongban_db_up 0",
            "tongban_db_operation_duration_seconds_count{op=\"rate_limit\"} 1",
            "tongban_db_operation_duration_seconds_count{op=\"audit_commit\"} 0",
            "tongban_db_errors_total{op=\"rate_limit\"} 1",
            "tongban_db_errors_total{op=\"connect\"} 0",
            "tongban_db_reconnects_total 0",
            "tongban_db_pool_connections{state=\"in_use\"} 0",
            "tongban_db_pool_max_connections 0",
            "tongban_db_pool_waiting 0",
            "tongban_audit_batch_records_count 0",
        ] {
            assert!(text.contains(series), "missing {series} in\n{text}");
        }
    }
}
