//! How tandem walks a table in batches: on the primary key, else a unique key over NOT NULL
//! columns, else physical ctid ranges (PostgreSQL 14+ scans TID ranges directly). Every batch is
//! a range, so no batch ever scans the whole table. The backfill and the verification both walk
//! with [`Walk`].

use crate::error::{Error, Result};
use crate::rows::{column, texts};
use tandem_core::quote::{ident, literal, qualified};
use tokio_postgres::GenericClient;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TableKey {
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
pub(crate) async fn key_of(
    client: &impl GenericClient,
    schema: &str,
    table: &str,
) -> Result<TableKey> {
    let rel = qualified(schema, table);
    let row = client
        .query_opt(FIND_KEY, &[&rel])
        .await
        .map_err(|e| Error::db(format!("finding a key to walk {rel} on"), e))?;
    let what = format!("finding a key to walk {rel} on");
    Ok(match row {
        Some(r) => TableKey::Columns {
            names: column(&r, 0, &what)?,
            types: column(&r, 1, &what)?,
        },
        None => TableKey::Ctid,
    })
}

impl TableKey {
    pub(crate) fn describe(&self) -> String {
        match self {
            TableKey::Columns { names, .. } => format!("key ({})", names.join(", ")),
            TableKey::Ctid => {
                "ctid page ranges (the table has no primary or unique NOT NULL key)".into()
            }
        }
    }

    /// `("a", "b")`.
    pub(crate) fn row(&self) -> String {
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
    pub(crate) fn value(&self, values: &[String]) -> String {
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
    pub(crate) fn select_text(&self) -> String {
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
    pub(crate) fn order(&self, descending: bool) -> String {
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
    pub(crate) fn range(&self, after: Option<&[String]>, upto: Option<&[String]>) -> String {
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
fn page_range(from: i64, to: i64) -> String {
    format!("ctid >= '({from},0)'::tid AND ctid < '({to},0)'::tid")
}

/// The largest key now (rows added later are kept right by the triggers, so the walk stops
/// there and always finishes, however fast the application inserts).
pub(crate) async fn max_key(
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
            let what = format!("reading the largest key of {rel}");
            let row = client
                .query_opt(sql.as_str(), &[])
                .await
                .map_err(|e| Error::db(&what, e))?;
            row.map(|r| texts(&r, names.len(), &what)).transpose()
        }
        TableKey::Ctid => {
            let what = format!("reading the size of {rel}");
            let row = client
                .query_one(
                    "SELECT (pg_relation_size(to_regclass($1)) / current_setting('block_size')::bigint)::bigint",
                    &[&rel],
                )
                .await
                .map_err(|e| Error::db(&what, e))?;
            let pages: i64 = column(&row, 0, &what)?;
            Ok((pages > 0).then(|| vec![pages.to_string()]))
        }
    }
}

impl TableKey {
    /// How many values one key has (ctid: one, the page).
    pub(crate) fn width(&self) -> usize {
        match self {
            TableKey::Columns { names, .. } => names.len(),
            TableKey::Ctid => 1,
        }
    }

    /// One integer column: its next bound can be computed instead of searched for.
    fn single_integer(&self) -> Option<&str> {
        match self {
            TableKey::Columns { names, types }
                if names.len() == 1
                    && matches!(types[0].as_str(), "smallint" | "integer" | "bigint") =>
            {
                Some(&names[0])
            }
            _ => None,
        }
    }
}

/// One batch of a walk: the rows after the previous batch's `upper`, up to and including its own.
pub(crate) struct Batch {
    /// The last key of the batch (text form); the next batch starts after it.
    pub upper: Vec<String>,
    /// `WHERE` condition selecting the batch's rows.
    pub predicate: String,
    /// Whether this batch reaches the end of the walk.
    pub last: bool,
}

/// A walk over a table, in key order, from its first row to `end`: the largest key when the
/// walk began (rows added later are kept right by the triggers, so the walk always finishes).
pub(crate) struct Walk<'a> {
    rel: String,
    key: &'a TableKey,
    end: &'a [String],
    integer_steps: bool,
}

impl<'a> Walk<'a> {
    pub(crate) fn new(schema: &str, table: &str, key: &'a TableKey, end: &'a [String]) -> Self {
        Walk {
            rel: qualified(schema, table),
            key,
            end,
            integer_steps: false,
        }
    }

    /// On a single integer key, step by arithmetic (`last + size`) instead of searching the
    /// index for the `size`-th next key. Gaps in the keys then make batches smaller: right for
    /// the backfill, whose adaptive size makes up for it, and cheaper than the search.
    pub(crate) fn with_integer_steps(mut self) -> Self {
        self.integer_steps = true;
        self
    }

    /// The batch after `after` (`None`: the first), of about `size` rows (pages on ctid).
    pub(crate) async fn next(
        &self,
        client: &impl GenericClient,
        after: Option<&[String]>,
        size: i64,
    ) -> Result<Batch> {
        let rel = &self.rel;
        let key = self.key;
        let upper = match key {
            TableKey::Columns { .. } if self.integer_steps && key.single_integer().is_some() => {
                let from = match first_number(after) {
                    Some(n) => n,
                    None => self.before_smallest_integer_key(client).await?,
                };
                let end = first_number(Some(self.end)).unwrap_or(from);
                let upper = vec![from.saturating_add(size).min(end).to_string()];
                let predicate = key.range(Some(&[from.to_string()]), Some(&upper));
                return Ok(self.batch(upper, predicate));
            }
            TableKey::Columns { .. } => {
                let sql = format!(
                    "SELECT {} FROM {rel} WHERE {} ORDER BY {} OFFSET {} LIMIT 1",
                    key.select_text(),
                    key.range(after, Some(self.end)),
                    key.order(false),
                    size.max(1) - 1
                );
                let what = format!("finding the next batch of {rel}");
                let row = client
                    .query_opt(sql.as_str(), &[])
                    .await
                    .map_err(|e| Error::db(&what, e))?;
                match row {
                    Some(r) => texts(&r, key.width(), &what)?,
                    None => self.end.to_vec(),
                }
            }
            TableKey::Ctid => {
                let from = first_number(after).unwrap_or(0);
                let end = first_number(Some(self.end)).unwrap_or(0);
                let to = from.saturating_add(size).min(end);
                return Ok(self.batch(vec![to.to_string()], page_range(from, to)));
            }
        };
        let predicate = key.range(after, Some(&upper));
        Ok(self.batch(upper, predicate))
    }

    fn batch(&self, upper: Vec<String>, predicate: String) -> Batch {
        Batch {
            last: upper.as_slice() == self.end,
            upper,
            predicate,
        }
    }

    /// One less than the smallest key, where a walk on a single integer key starts.
    async fn before_smallest_integer_key(&self, client: &impl GenericClient) -> Result<i64> {
        let Some(column_name) = self.key.single_integer() else {
            return Err(Error::internal(format!(
                "{} is not walked on a single integer key",
                self.rel
            )));
        };
        let sql = format!(
            "SELECT min({})::bigint FROM {}",
            ident(column_name),
            self.rel
        );
        let what = format!("reading the smallest key of {}", self.rel);
        let row = client
            .query_one(sql.as_str(), &[])
            .await
            .map_err(|e| Error::db(&what, e))?;
        Ok(column::<Option<i64>>(&row, 0, &what)?
            .unwrap_or(0)
            .saturating_sub(1))
    }
}

/// The first value of a key as a number (an integer key, or a ctid page).
fn first_number(key: Option<&[String]>) -> Option<i64> {
    key.and_then(|k| k.first()).and_then(|v| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_server::client;
    use tokio_postgres::Client;

    /// Walks `table` to its end in batches of `size`, marking each row a batch selects, as the
    /// backfill does; returns the key it walked on and how many batches it took.
    async fn walk_marking(
        c: &Client,
        schema: &str,
        table: &str,
        size: i64,
        integer_steps: bool,
    ) -> (TableKey, usize) {
        let key = key_of(c, schema, table).await.unwrap();
        let end = max_key(c, schema, table, &key).await.unwrap().unwrap();
        let mut walk = Walk::new(schema, table, &key, &end);
        if integer_steps {
            walk = walk.with_integer_steps();
        }
        let mut after: Option<Vec<String>> = None;
        let mut batches = 0;
        loop {
            let batch = walk.next(c, after.as_deref(), size).await.unwrap();
            c.execute(
                format!(
                    "UPDATE {} SET seen = seen + 1 WHERE {}",
                    qualified(schema, table),
                    batch.predicate
                )
                .as_str(),
                &[],
            )
            .await
            .unwrap();
            batches += 1;
            assert!(batches < 10_000, "the walk of {table} ends");
            if batch.last {
                break;
            }
            after = Some(batch.upper);
        }
        (key, batches)
    }

    async fn rows_not_seen_once(c: &Client, schema: &str, table: &str) -> i64 {
        c.query_one(
            format!(
                "SELECT count(*) FROM {} WHERE seen <> 1",
                qualified(schema, table)
            )
            .as_str(),
            &[],
        )
        .await
        .unwrap()
        .get(0)
    }

    #[tokio::test]
    async fn every_walk_selects_every_row_exactly_once() {
        let c = client().await;
        let schema = format!("walk_{}", std::process::id());
        c.batch_execute(&format!(
            "CREATE SCHEMA {s};
             CREATE TABLE {s}.gaps (id bigint PRIMARY KEY, seen int NOT NULL DEFAULT 0);
             INSERT INTO {s}.gaps (id) SELECT g * 7 FROM generate_series(1, 1000) g;
             INSERT INTO {s}.gaps (id) VALUES (-5);
             CREATE TABLE {s}.\"Pairs\" (a text, b int, seen int NOT NULL DEFAULT 0, PRIMARY KEY (a, b));
             INSERT INTO {s}.\"Pairs\" (a, b) SELECT 'k' || (g % 10), g FROM generate_series(1, 500) g;
             CREATE TABLE {s}.uniq (code text NOT NULL UNIQUE, note text, seen int NOT NULL DEFAULT 0);
             INSERT INTO {s}.uniq (code) SELECT md5(g::text) FROM generate_series(1, 300) g;
             CREATE TABLE {s}.heap (v text, seen int NOT NULL DEFAULT 0);
             INSERT INTO {s}.heap (v) SELECT repeat('x', 200) FROM generate_series(1, 3000) g;",
            s = ident(&schema)
        ))
        .await
        .unwrap();

        for integer_steps in [true, false] {
            c.batch_execute(&format!("UPDATE {}.gaps SET seen = 0", ident(&schema)))
                .await
                .unwrap();
            let (key, batches) = walk_marking(&c, &schema, "gaps", 100, integer_steps).await;
            assert_eq!(key.describe(), "key (id)");
            assert!(batches > 5, "{batches} batches");
            assert_eq!(rows_not_seen_once(&c, &schema, "gaps").await, 0);
        }

        let (key, batches) = walk_marking(&c, &schema, "Pairs", 37, true).await;
        assert_eq!(key.describe(), "key (a, b)");
        assert!(batches > 5, "{batches} batches");
        assert_eq!(rows_not_seen_once(&c, &schema, "Pairs").await, 0);

        let (key, batches) = walk_marking(&c, &schema, "uniq", 50, true).await;
        assert_eq!(key.describe(), "key (code)");
        assert!(batches > 3, "{batches} batches");
        assert_eq!(rows_not_seen_once(&c, &schema, "uniq").await, 0);

        // Read only (as verification walks): every row in exactly one batch.
        let key = key_of(&c, &schema, "heap").await.unwrap();
        assert_eq!(key, TableKey::Ctid);
        let end = max_key(&c, &schema, "heap", &key).await.unwrap().unwrap();
        let walk = Walk::new(&schema, "heap", &key, &end);
        let (mut after, mut counted, mut batches) = (None::<Vec<String>>, 0i64, 0);
        loop {
            let batch = walk.next(&c, after.as_deref(), 3).await.unwrap();
            let sql = format!(
                "SELECT count(*) FROM {}.heap WHERE {}",
                ident(&schema),
                batch.predicate
            );
            counted += c
                .query_one(sql.as_str(), &[])
                .await
                .unwrap()
                .get::<_, i64>(0);
            batches += 1;
            if batch.last {
                break;
            }
            after = Some(batch.upper);
        }
        assert_eq!(counted, 3000);
        assert!(batches > 3, "{batches} batches");
        // Updating (as the backfill does): an updated row may move to a later page and be
        // updated again there, which `SET new = up(old)` makes harmless; none is left out.
        walk_marking(&c, &schema, "heap", 3, true).await;
        let left_out = c
            .query_one(
                format!(
                    "SELECT count(*) FROM {}.heap WHERE seen = 0",
                    ident(&schema)
                )
                .as_str(),
                &[],
            )
            .await
            .unwrap()
            .get::<_, i64>(0);
        assert_eq!(left_out, 0);

        c.batch_execute(&format!("DROP SCHEMA {} CASCADE", ident(&schema)))
            .await
            .unwrap();
    }
}
