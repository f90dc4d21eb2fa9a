//! Verification: after a backfill, every row is checked, in batches on the table's key, against
//! the new shape (the new column equals `up` of the old, NOT NULL, the constraints still to be
//! validated); the first offending keys are reported. A migration's own `verify` queries must
//! return no rows.

use crate::error::{Error, Result};
use crate::keys::{key_of, max_key, TableKey, Walk};
use crate::rows::{column, texts};
use tandem_core::plan::Verify;
use tandem_core::quote::qualified;
use tandem_core::schema::RowCheck;
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
    // The expressions are evaluated under the search path the trigger function and the backfill
    // use (not this session's), and the session's own is given back whatever happens.
    let what = "setting the search path of the verification";
    let previous: String = column(
        &client
            .query_one("SELECT pg_catalog.current_setting('search_path')", &[])
            .await
            .map_err(|e| Error::db(what, e))?,
        0,
        what,
    )?;
    set_search_path(client, &tandem_core::expression_search_path(&spec.schema)).await?;
    let outcome = check_rows(client, spec).await;
    set_search_path(client, &previous).await?;
    outcome
}

async fn set_search_path(client: &impl GenericClient, path: &str) -> Result<()> {
    client
        .query_one(
            "SELECT pg_catalog.set_config('search_path', $1, false)",
            &[&path],
        )
        .await
        .map_err(|e| Error::db("setting the search path of the verification", e))?;
    Ok(())
}

/// The checks that prove something: recomputing an expression that is not immutable (`now()`,
/// `random()`, `gen_random_uuid()`) gives another value than the one stored, so a check marked
/// `if_immutable` runs only when PostgreSQL accepts that expression in an index, tried on an
/// empty temporary copy of the table's columns that is dropped again.
async fn applicable<'a>(
    client: &impl GenericClient,
    spec: &'a Verify,
) -> Result<Vec<&'a RowCheck>> {
    let mut out = Vec::new();
    let probe = "pg_temp._tandem_immutable";
    let mut made = false;
    for check in &spec.checks {
        let Some(expression) = &check.if_immutable else {
            out.push(check);
            continue;
        };
        let what = "checking whether an expression is immutable";
        if !made {
            client
                .execute(
                    format!(
                        "CREATE TEMPORARY TABLE IF NOT EXISTS _tandem_immutable (LIKE {})",
                        qualified(&spec.schema, &spec.table)
                    )
                    .as_str(),
                    &[],
                )
                .await
                .map_err(|e| Error::db(what, e))?;
            made = true;
        }
        // Outside a transaction: a refused index is the answer, not an error to undo.
        let accepted = client
            .execute(
                format!("CREATE INDEX _tandem_immutable_probe ON {probe} (({expression}))")
                    .as_str(),
                &[],
            )
            .await
            .is_ok();
        if accepted {
            client
                .execute("DROP INDEX pg_temp._tandem_immutable_probe", &[])
                .await
                .map_err(|e| Error::db(what, e))?;
            out.push(check);
        }
    }
    if made {
        client
            .execute(format!("DROP TABLE IF EXISTS {probe}").as_str(), &[])
            .await
            .map_err(|e| Error::db("dropping the immutability probe", e))?;
    }
    Ok(out)
}

async fn check_rows(client: &impl GenericClient, spec: &Verify) -> Result<u64> {
    let rel = qualified(&spec.schema, &spec.table);
    let key = key_of(client, &spec.schema, &spec.table).await?;
    let Some(max) = max_key(client, &spec.schema, &spec.table, &key).await? else {
        return Ok(0);
    };
    let checks = applicable(client, spec).await?;
    if checks.is_empty() {
        return Ok(0);
    }
    let conditions: Vec<String> = checks
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
            for (i, check) in checks.iter().enumerate() {
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
            help: "each failed check is named after the row's key: for a constraint (foreign key, check, not null), fix the offending rows (insert the referenced rows, correct or NULL the value) or the `up` expression that computed them; for `equals up`, fix `up`/`down` or the application trigger that changed the row. Then `tandem verify` reruns the checks (or `tandem rollback` and start again)".into(),
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

/// Refuses, before anything runs, a table to sync that has a BEFORE trigger of the application
/// which would fire after the dual-write trigger: the dual-write would compute the other
/// version's columns from a row the application's trigger then changes, and the two versions
/// would silently hold different values.
pub(crate) async fn refuse_triggers_after_dual_write(
    client: &impl GenericClient,
    schema: &str,
    planned: &tandem_core::Planned,
    file: &str,
) -> Result<()> {
    let mut tables: Vec<String> = planned.probes.iter().map(|p| p.table.clone()).collect();
    tables.sort();
    tables.dedup();
    if tables.is_empty() {
        return Ok(());
    }
    let late = crate::catalog::triggers_firing_after_dual_write(client, schema, &tables).await?;
    let Some((table, trigger)) = late.first() else {
        return Ok(());
    };
    let all = late
        .iter()
        .map(|(t, g)| {
            format!(
                "{} on {}",
                tandem_core::quote::ident(g),
                qualified(schema, t)
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    Err(Error::usage(
        format!(
            "{file}: the trigger {all} would fire after tandem's dual-write trigger {} (PostgreSQL fires the BEFORE triggers of a row in the byte order of their names), so the two versions would hold different values",
            tandem_core::quote::ident(tandem_core::DUAL_WRITE_TRIGGER)
        ),
        format!(
            "rename it to a name that sorts before {} (plain ASCII, not starting with `~`), e.g. `ALTER TRIGGER {} ON {} RENAME TO {}`, then run the command again; nothing was changed",
            tandem_core::quote::ident(tandem_core::DUAL_WRITE_TRIGGER),
            tandem_core::quote::ident(trigger),
            qualified(schema, table),
            tandem_core::quote::ident(&format!("app_{}", trigger.trim_start_matches('~')))
        ),
    ))
}
