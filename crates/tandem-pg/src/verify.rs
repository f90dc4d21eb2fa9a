//! Verification: after a backfill, every row is checked, in batches on the table's key, against
//! the new shape (the new column equals `up` of the old, NOT NULL, the constraints still to be
//! validated); the first offending keys are reported. A migration's own `verify` queries must
//! return no rows.

use crate::error::{Error, Result};
use crate::keys::{key_of, max_key, TableKey, Walk};
use crate::rows::{column, texts};
use tandem_core::plan::Verify;
use tandem_core::quote::qualified;
use tokio_postgres::GenericClient;

/// Rows checked per verification batch (a read-only index range scan).
const VERIFY_BATCH: i64 = 20_000;
/// Pages checked per verification batch on a table walked by ctid.
const VERIFY_PAGES: i64 = 1_000;
/// Offending rows reported at most.
const REPORT: usize = 5;

pub(crate) async fn verify_table(client: &impl GenericClient, spec: &Verify) -> Result<u64> {
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
    let size = match key {
        TableKey::Columns { .. } => VERIFY_BATCH,
        TableKey::Ctid => VERIFY_PAGES,
    };
    // Counted steps, not integer arithmetic: with a fixed batch size, sparse keys would make
    // countless empty batches.
    let walk = Walk::new(&spec.schema, &spec.table, &key, &max);
    let what = format!("verifying {rel}");
    let mut last: Option<Vec<String>> = None;
    let mut checked = 0u64;
    let mut failures = Vec::new();
    loop {
        let batch = walk.next(client, last.as_deref(), size).await?;
        let sql = format!(
            "SELECT {}, {} FROM {rel} AS _tandem_row WHERE {} AND NOT ({all}) ORDER BY {} LIMIT {REPORT}",
            key.select_text(),
            conditions.join(", "),
            batch.predicate,
            key.order(false)
        );
        let rows = client
            .query(sql.as_str(), &[])
            .await
            .map_err(|e| Error::Database {
                context: what.clone(),
                help: "a check expression failed to evaluate; fix it in the migration file".into(),
                source: e,
            })?;
        let key_width = key.width();
        for r in &rows {
            let k = texts(r, key_width, &what)?;
            let mut failed = Vec::new();
            for (i, check) in spec.checks.iter().enumerate() {
                if !column::<bool>(r, key_width + i, &what)? {
                    failed.push(check.description.as_str());
                }
            }
            failures.push(format!(
                "{} = ({}): {}",
                key.row(),
                k.join(", "),
                failed.join("; ")
            ));
        }
        checked += 1;
        if failures.len() >= REPORT || batch.last {
            break;
        }
        last = Some(batch.upper);
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
pub(crate) async fn verify_queries(client: &impl GenericClient, queries: &[String]) -> Result<()> {
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
            let what = format!("verify query {} of the migration", i + 1);
            let sample = rows
                .iter()
                .map(|r| column::<String>(r, 0, &what))
                .collect::<Result<Vec<_>>>()?;
            return Err(Error::Verification {
                message: format!("verify query {} returned rows (it must return none): {}", i + 1, sample.join(", ")),
                help: "the migration's own check failed: fix the data or the `up` expressions, then `tandem rollback` and start again, or `tandem verify` once fixed".into(),
            });
        }
    }
    Ok(())
}
