//! How tandem walks a table in batches: on the primary key, else a unique key over NOT NULL
//! columns, else physical ctid ranges (PostgreSQL 14+ scans TID ranges directly). Every batch is
//! a range, so no batch ever scans the whole table.

use crate::error::{Error, Result};
use tandem_core::quote::{ident, literal, qualified};
use tokio_postgres::GenericClient;

#[derive(Debug, Clone, PartialEq)]
pub enum TableKey {
    /// Key columns and their types (as `format_type` prints them).
    Columns {
        names: Vec<String>,
        types: Vec<String>,
    },
    /// No usable key: page ranges of the table's ctid.
    Ctid,
}

const FIND_KEY: &str = r#"
SELECT array_agg(a.attname::text ORDER BY k.ord), array_agg(format_type(a.atttypid, a.atttypmod) ORDER BY k.ord)
FROM pg_index i
CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indisvalid AND i.indimmediate
  AND i.indpred IS NULL AND i.indexprs IS NULL
  AND (SELECT amname FROM pg_am WHERE oid = (SELECT relam FROM pg_class WHERE oid = i.indexrelid)) = 'btree'
GROUP BY i.indexrelid, i.indisprimary, i.indnkeyatts
HAVING bool_and(a.attnotnull) AND count(*) = i.indnkeyatts
ORDER BY i.indisprimary DESC, count(*) ASC
LIMIT 1
"#;

/// The key a table is walked on.
pub async fn key_of(client: &impl GenericClient, schema: &str, table: &str) -> Result<TableKey> {
    let rel = qualified(schema, table);
    let row = client
        .query_opt(FIND_KEY, &[&rel])
        .await
        .map_err(|e| Error::db(format!("finding a key to walk {rel} on"), e))?;
    Ok(match row {
        Some(r) => TableKey::Columns {
            names: r.get(0),
            types: r.get(1),
        },
        None => TableKey::Ctid,
    })
}

impl TableKey {
    pub fn describe(&self) -> String {
        match self {
            TableKey::Columns { names, .. } => format!("key ({})", names.join(", ")),
            TableKey::Ctid => {
                "ctid page ranges (the table has no primary or unique NOT NULL key)".into()
            }
        }
    }

    /// `("a", "b")`.
    pub fn row(&self) -> String {
        match self {
            TableKey::Columns { names, .. } => format!(
                "({})",
                names
                    .iter()
                    .map(|n| ident(n))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            TableKey::Ctid => "ctid".into(),
        }
    }

    /// A key value as SQL: `('1'::integer, 'x'::text)`, from its text form.
    pub fn value(&self, values: &[String]) -> String {
        match self {
            TableKey::Columns { types, .. } => format!(
                "({})",
                values
                    .iter()
                    .zip(types)
                    .map(|(v, t)| format!("{}::{t}", literal(v)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            TableKey::Ctid => format!(
                "'({},0)'::tid",
                values.first().map(String::as_str).unwrap_or("0")
            ),
        }
    }

    /// The key columns as text, for reading keys back: `"a"::text, "b"::text`.
    pub fn select_text(&self) -> String {
        match self {
            // Aliased: an output column named like the key would capture `ORDER BY key` and
            // sort the text.
            TableKey::Columns { names, .. } => names
                .iter()
                .enumerate()
                .map(|(i, n)| format!("{}::text AS _tandem_key_{i}", ident(n)))
                .collect::<Vec<_>>()
                .join(", "),
            TableKey::Ctid => "ctid::text AS _tandem_key_0".into(),
        }
    }

    /// `ORDER BY` for the key, ascending or descending.
    pub fn order(&self, descending: bool) -> String {
        let dir = if descending { " DESC" } else { "" };
        match self {
            TableKey::Columns { names, .. } => names
                .iter()
                .map(|n| format!("{}{dir}", ident(n)))
                .collect::<Vec<_>>()
                .join(", "),
            TableKey::Ctid => format!("ctid{dir}"),
        }
    }

    /// The predicate of a batch: `key > after AND key <= upto` (either bound optional).
    pub fn range(&self, after: Option<&[String]>, upto: Option<&[String]>) -> String {
        let mut parts = Vec::new();
        if let Some(a) = after {
            parts.push(format!("{} > {}", self.row(), self.value(a)));
        }
        if let Some(u) = upto {
            parts.push(format!("{} <= {}", self.row(), self.value(u)));
        }
        if parts.is_empty() {
            "true".into()
        } else {
            parts.join(" AND ")
        }
    }
}

/// The page range `[from, to)` of a ctid batch.
pub fn page_range(from: i64, to: i64) -> String {
    format!("ctid >= '({from},0)'::tid AND ctid < '({to},0)'::tid")
}

/// The largest key now (rows added later are kept right by the triggers, so the walk stops
/// there and always finishes, however fast the application inserts).
pub async fn max_key(
    client: &impl GenericClient,
    schema: &str,
    table: &str,
    key: &TableKey,
) -> Result<Option<Vec<String>>> {
    let rel = qualified(schema, table);
    match key {
        TableKey::Columns { names, .. } => {
            let sql = format!(
                "SELECT {} FROM {rel} ORDER BY {} LIMIT 1",
                key.select_text(),
                key.order(true)
            );
            let row = client
                .query_opt(sql.as_str(), &[])
                .await
                .map_err(|e| Error::db(format!("reading the largest key of {rel}"), e))?;
            Ok(row.map(|r| (0..names.len()).map(|i| r.get::<_, String>(i)).collect()))
        }
        TableKey::Ctid => {
            let pages: i64 = client
                .query_one(
                    "SELECT (pg_relation_size(to_regclass($1)) / current_setting('block_size')::bigint)::bigint",
                    &[&rel],
                )
                .await
                .map_err(|e| Error::db(format!("reading the size of {rel}"), e))?
                .get(0);
            Ok((pages > 0).then(|| vec![pages.to_string()]))
        }
    }
}
