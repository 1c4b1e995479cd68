//! Every node of a cluster has the same secrets (contract section 9): the `hash` mask key and the
//! audit key, so that a masked value or a keyed hash is the same whichever node answered. The
//! first gateway to start records a check value of each (`tongban_secrets`); a gateway whose own
//! differs refuses to start, naming the secret and the node that recorded it.

use std::time::Duration;

use super::{ClusterError, Database};

/// Records `secrets` (name, check value) where no node has yet, and compares with what is there.
pub async fn check_same(
    database: &Database,
    node: &str,
    secrets: &[(&'static str, String)],
    timeout: Duration,
) -> Result<(), ClusterError> {
    let query = |what| {
        move |source| ClusterError::Query {
            database: database.label().to_owned(),
            what,
            source,
        }
    };
    let check = async {
        let conn = database
            .connect("tongban secrets")
            .await
            .map_err(|source| ClusterError::Unreachable {
                database: database.label().to_owned(),
                source,
            })?;
        for (name, value) in secrets {
            conn.client
                .execute(
                    "INSERT INTO tongban_secrets (name, check_value, node) VALUES ($1, $2, $3) \
                     ON CONFLICT (name) DO NOTHING",
                    &[name, value, &node],
                )
                .await
                .map_err(query("record the secrets' check values"))?;
            let row = conn
                .client
                .query_one(
                    "SELECT check_value, node FROM tongban_secrets WHERE name = $1",
                    &[name],
                )
                .await
                .map_err(query("the secrets' check values"))?;
            let recorded: &str = row.try_get(0).map_err(query("the secrets' check values"))?;
            if recorded != value {
                return Err(ClusterError::SecretDiffers {
                    secret: name,
                    node: row.try_get(1).unwrap_or_default(),
                });
            }
        }
        Ok(())
    };
    tokio::time::timeout(timeout, check)
        .await
        .map_err(|_| ClusterError::Timeout {
            database: database.label().to_owned(),
            what: "the secrets' check values",
            ms: timeout.as_millis(),
        })?
}
