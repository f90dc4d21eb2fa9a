//! What tandem reads about the tables of a schema, straight from the catalogs.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use tokio_postgres::Client;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    /// As `format_type` prints it with an empty search_path (schema-qualified user types).
    pub data_type: String,
    /// `GENERATED ALWAYS AS (...) STORED`: never replicated, computed on each side.
    pub generated: bool,
    /// `a` for GENERATED ALWAYS AS IDENTITY (cannot be set by UPDATE), `d`, or empty.
    #[serde(default)]
    pub identity: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Table {
    pub name: String,
    pub columns: Vec<Column>,
    /// The columns that identify a row for replication: the replica identity index (by
    /// default the primary key); empty with REPLICA IDENTITY FULL or without a key.
    pub key: Vec<String>,
    /// `d` default, `i` index, `f` full, `n` nothing (pg_class.relreplident).
    pub replica_identity: String,
    pub has_primary_key: bool,
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The columns replication carries (generated ones are computed on each side).
    pub fn replicated_columns(&self) -> impl Iterator<Item = &Column> {
        self.columns.iter().filter(|c| !c.generated)
    }

    /// Same columns with the same types, in any order.
    pub fn same_shape(&self, other: &Table) -> bool {
        let shape = |t: &Table| {
            let mut v: Vec<(String, String, bool)> = t
                .columns
                .iter()
                .map(|c| (c.name.clone(), c.data_type.clone(), c.generated))
                .collect();
            v.sort();
            v
        };
        shape(self) == shape(other)
    }
}

const TABLES: &str = r#"
SELECT c.relname::text,
       c.relreplident::text,
       EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisprimary),
       COALESCE((SELECT json_agg(json_build_object(
                    'name', a.attname::text,
                    'data_type', pg_catalog.format_type(a.atttypid, a.atttypmod),
                    'generated', a.attgenerated <> '',
                    'identity', a.attidentity::text) ORDER BY a.attnum)
                 FROM pg_catalog.pg_attribute a
                 WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '[]'::json)::text,
       COALESCE((SELECT json_agg(a.attname::text ORDER BY k.ord)
                 FROM pg_catalog.pg_index i
                 CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                 JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
                 WHERE i.indrelid = c.oid
                   AND CASE c.relreplident WHEN 'd' THEN i.indisprimary
                                           WHEN 'i' THEN i.indisreplident
                                           ELSE false END), '[]'::json)::text
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relkind = 'r' AND NOT c.relispartition
ORDER BY c.relname
"#;

/// Every ordinary table of `schema`, by name.
pub async fn tables(client: &Client, schema: &str) -> Result<Vec<Table>> {
    let rows = client
        .query(TABLES, &[&schema])
        .await
        .map_err(|e| Error::db(format!("reading the tables of schema {schema}"), e))?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let name: String = get(&row, 0)?;
        let columns: String = get(&row, 3)?;
        let key: String = get(&row, 4)?;
        out.push(Table {
            columns: json(&name, &columns)?,
            key: json(&name, &key)?,
            replica_identity: get(&row, 1)?,
            has_primary_key: get(&row, 2)?,
            name,
        });
    }
    Ok(out)
}

/// The partitioned tables of `schema`: not supported (named by the preconditions).
pub async fn partitioned_tables(client: &Client, schema: &str) -> Result<Vec<String>> {
    strings(
        client,
        "SELECT c.relname::text FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = $1 AND (c.relkind = 'p' OR c.relispartition) ORDER BY 1",
        schema,
    )
    .await
}

/// The sequences of `schema` with their state (`last_value`, `is_called`).
pub async fn sequences(client: &Client, schema: &str) -> Result<Vec<(String, Option<i64>)>> {
    let rows = client
        .query(
            "SELECT sequencename::text, last_value FROM pg_catalog.pg_sequences WHERE schemaname = $1 ORDER BY 1",
            &[&schema],
        )
        .await
        .map_err(|e| Error::db(format!("reading the sequences of schema {schema}"), e))?;
    rows.iter().map(|r| Ok((get(r, 0)?, get(r, 1)?))).collect()
}

pub async fn schema_exists(client: &Client, schema: &str) -> Result<bool> {
    let row = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1)",
            &[&schema],
        )
        .await
        .map_err(|e| Error::db(format!("looking for schema {schema}"), e))?;
    get(&row, 0)
}

/// One text column of every row of a query with one text parameter.
pub async fn strings(client: &Client, sql: &str, param: &str) -> Result<Vec<String>> {
    let rows = client
        .query(sql, &[&param])
        .await
        .map_err(|e| Error::db("reading the catalog", e))?;
    rows.iter().map(|r| get(r, 0)).collect()
}

/// `Row::try_get` with an error that says which column was unexpected.
pub fn get<'a, T: tokio_postgres::types::FromSql<'a>>(
    row: &'a tokio_postgres::Row,
    index: usize,
) -> Result<T> {
    row.try_get(index).map_err(|e| {
        Error::usage(
            format!("unexpected value in column {index} of a catalog query: {e}"),
            "this is a bug in tandem; please report it with your PostgreSQL version",
        )
    })
}

fn json<T: for<'de> Deserialize<'de>>(table: &str, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| {
        Error::usage(
            format!("unexpected catalog contents for table {table}: {e}"),
            "this is a bug in tandem; please report it with your PostgreSQL version",
        )
    })
}
