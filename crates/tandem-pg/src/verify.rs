//! Verification: after a backfill, every row is checked, in batches on the table's key, against
//! the new shape (the new column equals `up` of the old, NOT NULL, the constraints still to be
//! validated); the first offending keys are reported. A migration's own `verify` queries must
//! return no rows.

use crate::error::{Error, Result};
use crate::keys::{key_of, max_key, page_range, TableKey};
use tandem_core::plan::Verify;
use tandem_core::quote::qualified;
use tokio_postgres::GenericClient;

/// Rows checked per verification batch (a read-only index range scan).
const VERIFY_BATCH: i64 = 20_000;
/// Offending rows reported at most.
const REPORT: usize = 5;

pub async fn verify_table(client: &impl GenericClient, spec: &Verify) -> Result<u64> {
    if spec.checks.is_empty() {
        return Ok(0);
    }
    let rel = qualified(&spec.schema, &spec.table);
    let key = key_of(client, &spec.schema, &spec.table).await?;
    let Some(max) = max_key(client, &spec.schema, &spec.table, &key).await? else {
        return Ok(0);
    };
    let conditions: Vec<String> = spec
        .checks
        .iter()
        .map(|c| format!("(({}) IS TRUE)", c.condition))
        .collect();
    let all = conditions.join(" AND ");
    let mut last: Option<Vec<String>> = None;
    let mut checked = 0u64;
    let mut failures = Vec::new();
    loop {
        let (upper, predicate) = match &key {
            TableKey::Columns { names, .. } => {
                let sql = format!(
                    "SELECT {} FROM {rel} WHERE {} ORDER BY {} OFFSET {} LIMIT 1",
                    key.select_text(),
                    key.range(last.as_deref(), Some(&max)),
                    key.order(false),
                    VERIFY_BATCH - 1
                );
                let row = client
                    .query_opt(sql.as_str(), &[])
                    .await
                    .map_err(|e| Error::db(format!("verifying {rel}"), e))?;
                let upper: Vec<String> = match row {
                    Some(r) => (0..names.len()).map(|i| r.get::<_, String>(i)).collect(),
                    None => max.clone(),
                };
                let p = key.range(last.as_deref(), Some(&upper));
                (upper, p)
            }
            TableKey::Ctid => {
                let from: i64 = last
                    .as_ref()
                    .and_then(|l| l.first())
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(0);
                let end: i64 = max.first().and_then(|p| p.parse().ok()).unwrap_or(0);
                let to = (from + 1000).min(end);
                (vec![to.to_string()], page_range(from, to))
            }
        };
        let sql = format!(
            "SELECT {}, {} FROM {rel} AS _tandem_row WHERE {predicate} AND NOT ({all}) ORDER BY {} LIMIT {REPORT}",
            key.select_text(),
            conditions.join(", "),
            key.order(false)
        );
        let rows = client
            .query(sql.as_str(), &[])
            .await
            .map_err(|e| Error::Database {
                context: format!("verifying {rel}"),
                help: "a check expression failed to evaluate; fix it in the migration file".into(),
                source: e,
            })?;
        let key_width = match &key {
            TableKey::Columns { names, .. } => names.len(),
            TableKey::Ctid => 1,
        };
        for r in &rows {
            let k: Vec<String> = (0..key_width).map(|i| r.get::<_, String>(i)).collect();
            let failed: Vec<&str> = spec
                .checks
                .iter()
                .enumerate()
                .filter(|(i, _)| !r.get::<_, bool>(key_width + i))
                .map(|(_, c)| c.description.as_str())
                .collect();
            failures.push(format!(
                "{} = ({}): {}",
                key.row(),
                k.join(", "),
                failed.join("; ")
            ));
        }
        checked += 1;
        if failures.len() >= REPORT || upper == max {
            break;
        }
        last = Some(upper);
    }
    if failures.is_empty() {
        Ok(checked)
    } else {
        Err(Error::Verification {
            message: format!(
                "verification of {rel} found rows that do not have the new shape; the first: {}",
                failures.join(" | ")
            ),
            help: "fix the `up` expression (or the data) so every row gets a valid value, then run `tandem rollback` and start again; `tandem verify` reruns the checks".into(),
        })
    }
}

/// Runs the migration's own verification queries; each must return no rows.
pub async fn verify_queries(client: &impl GenericClient, queries: &[String]) -> Result<()> {
    for (i, q) in queries.iter().enumerate() {
        let wrapped = format!("SELECT row_to_json(q)::text FROM ({q}) AS q LIMIT {REPORT}");
        let rows = client
            .query(wrapped.as_str(), &[])
            .await
            .map_err(|e| Error::Database {
                context: format!("verify query {} of the migration failed to run", i + 1),
                help:
                    "each `verify` entry is a SELECT that returns the offending rows; fix its SQL"
                        .into(),
                source: e,
            })?;
        if !rows.is_empty() {
            let sample: Vec<String> = rows.iter().map(|r| r.get::<_, String>(0)).collect();
            return Err(Error::Verification {
                message: format!("verify query {} returned rows (it must return none): {}", i + 1, sample.join(", ")),
                help: "the migration's own check failed: fix the data or the `up` expressions, then `tandem rollback` and start again, or `tandem verify` once fixed".into(),
            });
        }
    }
    Ok(())
}
