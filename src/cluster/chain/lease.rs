//! The node's lease: a session advisory lock taken on the connection the writer uses, its holder
//! recorded for messages, and the chain's head read back before writing.

use std::time::Duration;

use super::batch::Head;
use crate::audit::verify::ChainHash;
use crate::cluster::connect::{Connection, Database};
use crate::crypto::sha256;

const HEAD: &str = "SELECT seq, hash FROM tongban_audit WHERE node = $1 ORDER BY seq DESC LIMIT 1";

/// Why the lease could not be taken.
#[derive(Debug, thiserror::Error)]
pub(super) enum LeaseError {
    #[error("held by {0}")]
    Held(String),
    #[error("{what}: {}", crate::cluster::with_source(.source))]
    Query {
        what: &'static str,
        source: tokio_postgres::Error,
    },
    #[error("no answer in time")]
    Timeout,
}

/// Connecting and taking the lease may take a few round trips.
pub(super) fn lease_timeout(timeout: Duration) -> Duration {
    timeout.saturating_mul(3)
}

/// A connection holding `node`'s lease, and the chain's head.
pub(super) async fn lease(
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
        // `on` waits for the standby's flush, `remote_apply` for more; anything else less
        if !matches!(durability.as_str(), "on" | "remote_apply") {
            tracing::warn!(
                node,
                synchronous_commit = %durability,
                "synchronous_commit is weaker than on for this role: set on for the audit writer"
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
pub(super) async fn read_head(
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

    #[test]
    fn leases_differ_by_node() {
        assert_ne!(lease_key("gw-1"), lease_key("gw-2"));
        assert_eq!(lease_key("gw-1"), lease_key("gw-1"));
        assert!(holder().contains(" pid "));
    }
}
