//! The schema, as numbered migrations (`src/cluster/migrations/NNNN_name.sql`, compiled in),
//! applied at start in one transaction under an advisory lock, so that gateways starting
//! together apply each migration once. Each applied migration is recorded with the SHA-256 of its
//! text: a database whose migration differs from this build's, or that is newer than this build,
//! is refused rather than guessed at.

use std::time::{Duration, Instant};

use tokio_postgres::error::SqlState;

use super::{ClusterError, Database};
use crate::crypto::{hex, sha256};

/// One migration.
pub struct Migration {
    pub version: i32,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every migration, in order.
pub const MIGRATIONS: [Migration; 3] = [
    Migration {
        version: 1,
        name: "audit",
        sql: include_str!("migrations/0001_audit.sql"),
    },
    Migration {
        version: 2,
        name: "rate_limits",
        sql: include_str!("migrations/0002_rate_limits.sql"),
    },
    Migration {
        version: 3,
        name: "secrets",
        sql: include_str!("migrations/0003_secrets.sql"),
    },
];

/// Serializes migrations between gateways (`pg_advisory_xact_lock`; "tongban" in ASCII).
const MIGRATION_LOCK: i64 = 0x746f_6e67_6261_6e00;

/// How long a starting gateway waits for a database that cannot be reached yet (both started
/// together by the same init system, or the database restarting).
const START_WAIT: Duration = Duration::from_secs(15);

const SCHEMA_TABLE: &str = "CREATE TABLE IF NOT EXISTS tongban_schema (
    version integer PRIMARY KEY,
    name text NOT NULL,
    sha256 text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)";

/// What [`apply`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// Versions applied now.
    pub applied: Vec<i32>,
    /// The schema's version afterwards.
    pub version: i32,
}

/// [`apply`], retrying for [`START_WAIT`] while the database cannot be reached; an answer from
/// the server (a wrong password, a missing database) is final at once.
pub async fn apply_when_reachable(database: &Database) -> Result<Applied, ClusterError> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(100);
    loop {
        match apply(database).await {
            Err(ClusterError::Unreachable {
                database: d,
                source,
            }) if super::is_transient(&source) && started.elapsed() < START_WAIT => {
                tracing::warn!(
                    database = %d,
                    error = %super::with_source(&source),
                    "cluster database not reachable yet; retrying"
                );
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(2));
            }
            other => return other,
        }
    }
}

/// Brings the schema to the newest version of this build.
pub async fn apply(database: &Database) -> Result<Applied, ClusterError> {
    let label = || database.label().to_owned();
    let query = |what: &'static str| {
        move |source| ClusterError::Query {
            database: label(),
            what,
            source,
        }
    };
    let mut connection = database
        .connect("tongban migrate")
        .await
        .map_err(|source| ClusterError::Unreachable {
            database: label(),
            source,
        })?;
    check_encoding(&connection.client, database).await?;
    let tx = connection
        .client
        .transaction()
        .await
        .map_err(query("begin"))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(query("migration lock"))?;
    tx.batch_execute(SCHEMA_TABLE)
        .await
        .map_err(query("schema table"))?;
    let rows = tx
        .query(
            "SELECT version, name, sha256 FROM tongban_schema ORDER BY version",
            &[],
        )
        .await
        .map_err(query("schema versions"))?;
    let known: Vec<(i32, String, String)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let newest = MIGRATIONS.last().map_or(0, |m| m.version);
    if let Some((version, name, _)) = known.iter().find(|(v, _, _)| *v > newest) {
        return Err(ClusterError::Schema {
            database: label(),
            reason: format!(
                "the schema is at version {version} ({name}), newer than this gateway's {newest}: \
                 upgrade the gateway"
            ),
        });
    }
    let mut applied = Vec::new();
    for m in &MIGRATIONS {
        let digest = hex(&sha256(m.sql.as_bytes()));
        match known.iter().find(|(v, _, _)| *v == m.version) {
            Some((_, _, recorded)) if *recorded == digest => {}
            Some((_, name, _)) => {
                return Err(ClusterError::Schema {
                    database: label(),
                    reason: format!(
                        "migration {} ({name}) applied to this database differs from this \
                         gateway's `{}`: a released migration was edited",
                        m.version, m.name
                    ),
                })
            }
            None => {
                tx.batch_execute(m.sql)
                    .await
                    .map_err(|source| ClusterError::Schema {
                        database: label(),
                        reason: format!("migration {} ({}) failed: {source}", m.version, m.name),
                    })?;
                tx.execute(
                    "INSERT INTO tongban_schema (version, name, sha256) VALUES ($1, $2, $3)",
                    &[&m.version, &m.name, &digest],
                )
                .await
                .map_err(query("record a migration"))?;
                applied.push(m.version);
            }
        }
    }
    tx.commit().await.map_err(query("commit the migrations"))?;
    for version in &applied {
        tracing::info!(
            version,
            database = %database.label(),
            "cluster database: migration applied"
        );
    }
    Ok(Applied {
        applied,
        version: newest,
    })
}

/// The records' lines are UTF-8 (Chinese names of organisations): a database in another
/// encoding would refuse them one by one; refuse it once, at start.
async fn check_encoding(
    client: &tokio_postgres::Client,
    database: &Database,
) -> Result<(), ClusterError> {
    let row = client
        .query_one("SELECT current_setting('server_encoding')", &[])
        .await
        .map_err(|source| ClusterError::Query {
            database: database.label().to_owned(),
            what: "server encoding",
            source,
        })?;
    let encoding: String = row.get(0);
    if encoding == "UTF8" {
        Ok(())
    } else {
        Err(ClusterError::Schema {
            database: database.label().to_owned(),
            reason: format!(
                "the database's encoding is {encoding}; the audit needs UTF8 (`CREATE DATABASE … \
                 ENCODING 'UTF8'`)"
            ),
        })
    }
}

/// Whether `e` is the schema refusing a write (a guard of the chain).
pub fn is_guard(e: &tokio_postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(c) if *c == SqlState::UNIQUE_VIOLATION
            || *c == SqlState::FOREIGN_KEY_VIOLATION
            || *c == SqlState::CHECK_VIOLATION
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_from_one_without_holes() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1, "{}", m.name);
            assert!(m.sql.contains(&format!("schema version {}", m.version)));
        }
    }
}
