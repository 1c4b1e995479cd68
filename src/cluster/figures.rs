//! The statistics centre's figures for the whole cluster (contract sections 5 and 9), from the
//! counts every gateway writes with its records (`tongban_daily_counts`), through the same
//! [`Fact`]s and [`Figures::add`] a gateway alone feeds from its audit file.
//!
//! The query folds names the policies and the catalog do not know into [`UNKNOWN`], so what it
//! returns stays bounded (items × cities + licence types) whatever the records hold.

use std::time::{Duration, Instant};

use deadpool_postgres::Pool;

use super::metrics::{DbMetrics, Op};
use super::rate::pool_error;
use super::{ClusterError, Database};
use crate::audit::{Kind, Outcome};
use crate::policy::model::Day;
use crate::stats::{format_day, Fact, Figures, Resolver, UNKNOWN};

/// How often a gateway reads the cluster's figures again (the hall screen promises 2 s).
pub const REFRESH: Duration = Duration::from_millis(1000);

const QUERY: &str = "SELECT kind, decision, caller_city,
        CASE WHEN item = ANY($2) THEN item ELSE $4 END,
        CASE WHEN ltype = ANY($3) THEN ltype ELSE $4 END,
        sum(n)::int8
    FROM tongban_daily_counts
    WHERE day = $1::text::date
    GROUP BY 1, 2, 3, 4, 5";

/// The figures of `day` (Asia/Shanghai) of every node.
pub async fn read(
    pool: &Pool,
    database: &Database,
    day: Day,
    names: &Resolver<'_>,
    timeout: Duration,
    metrics: &DbMetrics,
) -> Result<Figures, ClusterError> {
    let started = Instant::now();
    let items: Vec<&str> = names
        .policies
        .items()
        .iter()
        .map(|i| i.id.as_str())
        .collect();
    let ltypes: Vec<&str> = names
        .catalog
        .licence_types()
        .iter()
        .map(|t| t.code.as_str())
        .collect();
    let day_text = format_day(day);
    let query = async {
        let client = pool.get().await.map_err(|e| pool_error(database, e))?;
        client
            .query(QUERY, &[&day_text, &items, &ltypes, &UNKNOWN])
            .await
            .map_err(|source| ClusterError::Query {
                database: database.label().to_owned(),
                what: "the day's counts",
                source,
            })
    };
    let result = match tokio::time::timeout(timeout, query).await {
        Ok(result) => result,
        Err(_) => Err(ClusterError::Timeout {
            database: database.label().to_owned(),
            what: "the day's counts",
            ms: timeout.as_millis(),
        }),
    };
    metrics.observe(Op::Statistics, started.elapsed(), result.is_ok());
    let mut figures = Figures::default();
    for row in result? {
        let (kind, decision): (&str, &str) = (row.get(0), row.get(1));
        let (Some(kind), Some(decision)) = (Kind::from_name(kind), Outcome::from_name(decision))
        else {
            continue;
        };
        let (city, item, ltype): (&str, &str, &str) = (row.get(2), row.get(3), row.get(4));
        let n = u64::try_from(row.get::<_, i64>(5)).unwrap_or(0);
        let ltype = (!ltype.is_empty()).then_some(ltype);
        if let Some(fact) = Fact::of(kind, decision, city, Some(item), ltype) {
            figures.add(fact, n, names);
        }
    }
    Ok(figures)
}
