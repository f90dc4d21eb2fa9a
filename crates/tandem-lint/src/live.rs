//! Reading [`Facts`] from a live database (`--url`): every table's row estimate and size, in
//! a read-only session. The caller connects; this module only asks.

use crate::facts::{Facts, TableFact};
use std::collections::HashMap;
use tokio_postgres::Client;

/// The database could not tell us its tables' sizes.
#[derive(Debug, thiserror::Error)]
#[error("cannot read table sizes from the database: {source}; check that the user may read pg_class and pg_stat_user_tables")]
pub struct LiveError {
    #[from]
    source: tokio_postgres::Error,
}

/// The tables of `schema`: rows (the larger of the planner's estimate and the live-tuple
/// count, as a table never analyzed has no estimate) and total size with indexes and TOAST.
pub async fn read_facts(client: &Client, schema: &str) -> Result<Facts, LiveError> {
    // Nothing this session runs may change the database.
    client
        .execute("SET default_transaction_read_only = on", &[])
        .await?;
    let rows = client
        .query(
            "SELECT c.relname::text, \
                    GREATEST(c.reltuples::int8, COALESCE(s.n_live_tup, 0), 0) AS rows, \
                    pg_total_relation_size(c.oid)::int8 AS bytes \
             FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid \
             WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname = $1",
            &[&schema],
        )
        .await?;
    let mut tables = HashMap::new();
    for row in rows {
        let name: String = row.try_get(0)?;
        let fact = TableFact {
            rows: row.try_get(1)?,
            bytes: row.try_get(2)?,
        };
        tables.insert(name, fact);
    }
    Ok(Facts::new(tables))
}
