//! Checks that need the server, for `validate` and `plan`, with no side effects.
//!
//! Every user fragment is first parsed in its slot (tandem-sql) and only its rendering is
//! sent. Statements go one at a time with the extended protocol (`execute`, `prepare`), never
//! `batch_execute`, inside a transaction that is always rolled back. User expressions are
//! never evaluated: they are only *prepared* (a Parse message: the server analyses the
//! statement, resolving names and types, and neither plans nor runs it). Volatility comes
//! from the catalog (see [`crate::volatility`]), not from running anything.

use crate::error::{Error, Result};
use crate::rows::column;
use crate::volatility;
use std::collections::BTreeMap;
use tandem_core::quote::{ident, qualified};
use tandem_core::{Probe, ProbeKind};
use tandem_sql::{parse_expression_in, parse_type_name, ExpressionSlot, Fragment, SlotError};
use tokio_postgres::Transaction;

/// The slot a probe's expression is used in.
fn slot_of(kind: &ProbeKind) -> ExpressionSlot {
    match kind {
        ProbeKind::Up(_) => ExpressionSlot::Up,
        ProbeKind::Down(_) => ExpressionSlot::Down,
        ProbeKind::Condition => ExpressionSlot::Check,
        ProbeKind::Default(_) => ExpressionSlot::Default,
    }
}

/// A fragment refused by its slot parser, with the file, the operation and the field.
fn refused(file: &str, what: &str, e: &SlotError) -> Error {
    Error::usage(
        format!("{file}: {what}: {e}"),
        "fix that field in the migration file; nothing was sent to the server",
    )
}

/// Parses a column type in its slot.
pub(crate) fn type_name(file: &str, what: &str, text: &str) -> Result<Fragment> {
    parse_type_name(text).map_err(|e| refused(file, &format!("{what}: the type"), &e))
}

/// Opens the probe transaction: always rolled back by the caller (and by the server if the
/// connection drops, since it is never committed).
async fn begin(client: &mut tokio_postgres::Client) -> Result<Transaction<'_>> {
    client
        .transaction()
        .await
        .map_err(|e| Error::db("opening a transaction for the checks", e))
}

/// Runs one statement with no user text outside parsed fragments.
async fn run(tx: &Transaction<'_>, sql: &str, what: &str) -> Result<()> {
    tx.execute(sql, &[])
        .await
        .map(|_| ())
        .map_err(|e| Error::db(what, e))
}

/// Whether adding a column of `data_type` with `default` would rewrite the table: the
/// default calls something volatile (read from the catalog), or the type is a domain with
/// constraints (PostgreSQL then checks every row). Also checks, by preparing an INSERT on an
/// empty temporary table, that the default is valid for the type; nothing is evaluated.
///
/// A fragment that fails its slot parser is refused before any SQL is sent.
pub(crate) async fn default_rewrites_table(
    client: &mut tokio_postgres::Client,
    file: &str,
    schema: &str,
    data_type: &str,
    default: &str,
) -> Result<bool> {
    let what = format!("add_column with type `{data_type}` and default `{default}`");
    let ty = type_name(file, &what, data_type)?;
    let expr = parse_expression_in(ExpressionSlot::Default, default)
        .map_err(|e| refused(file, &format!("{what}: the default"), &e))?;
    let tx = begin(client).await?;
    let result = async {
        search_path(&tx, schema).await?;
        let probe = qualified("pg_temp", "_tandem_default_probe");
        run(
            &tx,
            &format!(
                "CREATE TEMPORARY TABLE {probe} ({} {})",
                ident("probe"),
                ty.sql()
            ),
            "creating a temporary table to check a default",
        )
        .await
        .map_err(|e| {
            bad_fragment(
                e,
                file,
                &what,
                "fix the column's `type` in the migration file",
            )
        })?;
        let insert = format!(
            "INSERT INTO {probe} ({}) VALUES ({})",
            ident("probe"),
            expr.sql()
        );
        tx.prepare(&insert).await.map_err(|e| {
            bad_fragment(
                Error::db("checking a default", e),
                file,
                &what,
                "fix the column's `type` or `default` in the migration file",
            )
        })?;
        let volatile =
            volatility::volatile_calls(&tx, &expr.called_objects(), "checking a default").await?;
        let domain = domain_has_constraints(&tx, ty.sql()).await?;
        Ok(!volatile.is_empty() || domain)
    }
    .await;
    end(tx, result).await
}

/// Under the search path the trigger function, the backfill and the verification evaluate
/// expressions with, so an expression means at run time what it meant here (its `pg_temp`
/// comes last: the probe tables are found there, and nothing of the schema is shadowed).
async fn search_path(tx: &Transaction<'_>, schema: &str) -> Result<()> {
    run(
        tx,
        &format!(
            "SET LOCAL search_path TO {}",
            tandem_core::expression_search_path(schema)
        ),
        "setting the search path",
    )
    .await
}

/// Rolls the probe transaction back, keeping the first error.
async fn end<T>(tx: Transaction<'_>, result: Result<T>) -> Result<T> {
    let rolled_back = tx.rollback().await;
    let value = result?;
    rolled_back.map_err(|e| Error::db("ending the check", e))?;
    Ok(value)
}

/// A server error about a user fragment, reworded as a usage error naming the field.
fn bad_fragment(e: Error, file: &str, what: &str, help: &str) -> Error {
    match e {
        Error::Database { source, .. } => Error::Database {
            context: format!("{file}: {what} is not valid"),
            help: format!("{help}; nothing was changed"),
            source,
        },
        other => other,
    }
}

/// Whether `type_sql` (an already parsed type name, passed as a value, never as SQL) names a
/// domain, or a domain over a domain, with constraints.
async fn domain_has_constraints(tx: &Transaction<'_>, type_sql: &str) -> Result<bool> {
    let what = "looking up a column type";
    let row = tx
        .query_one(
            "WITH RECURSIVE d(oid) AS ( \
               SELECT t.oid FROM pg_type t WHERE t.oid = to_regtype($1) AND t.typtype = 'd' \
               UNION SELECT t.typbasetype FROM pg_type t JOIN d ON t.oid = d.oid \
               WHERE t.typtype = 'd') \
             SELECT EXISTS (SELECT 1 FROM pg_constraint c JOIN d ON c.contypid = d.oid)",
            &[&type_sql],
        )
        .await
        .map_err(|e| Error::db(what, e))?;
    column(&row, 0, what)
}

/// Checks, without touching the table, that every expression the plan evaluates per row is
/// valid: on a temporary copy of the table's columns (plus the columns start adds), each is
/// prepared by the server in the shape of its real use (never planned, never run). Unknown
/// functions, wrong column names and type mismatches surface here, before any step.
///
/// A bad `down` is returned as a warning instead: it only matters once the new version writes,
/// and pgroll's own examples carry one (35_alter_column_multiple names a column that does not
/// exist), so refusing it would refuse files pgroll applies.
pub(crate) async fn check_probes(
    client: &mut tokio_postgres::Client,
    file: &str,
    schema: &str,
    probes: &[Probe],
) -> Result<Vec<String>> {
    let mut warnings = Vec::new();
    if probes.is_empty() {
        return Ok(warnings);
    }
    // Every fragment is parsed before anything is sent.
    let mut parsed = Vec::with_capacity(probes.len());
    for p in probes {
        let mut columns = Vec::with_capacity(p.new_columns.len());
        for (name, ty) in &p.new_columns {
            columns.push((
                name.clone(),
                type_name(file, &format!("column {}.{name}", p.table), ty)?,
            ));
        }
        let expr = parse_expression_in(slot_of(&p.kind), &p.expression)
            .map_err(|e| refused(file, &p.what, &e))?;
        parsed.push((p, columns, expr));
    }
    let tx = begin(client).await?;
    let result = async {
        search_path(&tx, schema).await?;
        let mut made: BTreeMap<String, String> = BTreeMap::new();
        for (p, columns, expr) in &parsed {
            let probe = match made.get(&p.table) {
                Some(name) => name.clone(),
                None => {
                    let name = format!("_tandem_probe_{}", made.len());
                    run(
                        &tx,
                        &format!(
                            "CREATE TEMPORARY TABLE {} (LIKE {})",
                            ident(&name),
                            qualified(schema, &p.table)
                        ),
                        &format!("copying the columns of {}", p.table),
                    )
                    .await?;
                    for (column, ty) in columns {
                        run(
                            &tx,
                            &format!(
                                "ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} {}",
                                ident(&name),
                                ident(column),
                                ty.sql()
                            ),
                            &format!("checking the type of the new column {}.{column}", p.table),
                        )
                        .await
                        .map_err(|e| {
                            bad_fragment(
                                e,
                                file,
                                &format!("the type of {}.{column}", p.table),
                                "fix the column type in the migration file",
                            )
                        })?;
                    }
                    made.insert(p.table.clone(), name.clone());
                    name
                }
            };
            // The same statement shape as the real use, so the same coercions apply.
            let check = match &p.kind {
                ProbeKind::Up(column) | ProbeKind::Down(column) => format!(
                    "UPDATE {} SET {} = {}",
                    ident(&probe),
                    ident(column),
                    expr.sql()
                ),
                ProbeKind::Condition => {
                    format!("SELECT 1 FROM {} WHERE {}", ident(&probe), expr.sql())
                }
                ProbeKind::Default(column) => format!(
                    "INSERT INTO {} ({}) VALUES ({})",
                    ident(&probe),
                    ident(column),
                    expr.sql()
                ),
            };
            // A savepoint per probe, so a failed one does not end the others.
            run(&tx, "SAVEPOINT tandem_probe", "checking expressions").await?;
            if let Err(e) = tx.prepare(&check).await {
                if !p.kind.must_hold() {
                    warnings.push(format!(
                        "{} is not valid SQL for this table ({}): rows the new version writes will fail until it is fixed",
                        p.what,
                        crate::error::db_message(&e)
                    ));
                    run(&tx, "ROLLBACK TO SAVEPOINT tandem_probe", "checking expressions")
                        .await?;
                    continue;
                }
                return Err(Error::Database {
                    context: format!("{file}: {} is not valid SQL for this table", p.what),
                    help: "fix the expression in the migration file; nothing was changed".into(),
                    source: e,
                });
            }
            if let ProbeKind::Default(column) = &p.kind {
                fold_constant_default(&tx, &probe, column, expr, file, &p.what).await?;
            }
            run(&tx, "RELEASE SAVEPOINT tandem_probe", "checking expressions").await?;
        }
        Ok(())
    }
    .await;
    end(tx, result).await?;
    Ok(warnings)
}

/// A default carried across a type change is the old default cast to the new type
/// (`CAST(('yes'::text) AS integer)`); preparing it succeeds, and it would fail only on the first
/// insert that uses it, breaking the application's writes. When the default calls no function
/// and no subquery (literals, casts and operators only), planning the insert folds it to a
/// constant, which runs only built-in conversions; so tandem plans it (EXPLAIN, never executed)
/// and refuses a default that cannot convert. A default that calls a function is never planned
/// or run: it is prepared only, as every other expression.
async fn fold_constant_default(
    tx: &Transaction<'_>,
    probe: &str,
    column: &str,
    expr: &tandem_sql::Expression,
    file: &str,
    what: &str,
) -> Result<()> {
    let calls = expr.called_objects();
    if !calls.functions.is_empty() || calls.subqueries || !calls.value_functions.is_empty() {
        return Ok(());
    }
    let explain = format!(
        "EXPLAIN INSERT INTO {} ({}) VALUES ({})",
        ident(probe),
        ident(column),
        expr.sql()
    );
    if let Err(e) = tx.execute(explain.as_str(), &[]).await {
        return Err(Error::Database {
            context: format!("{file}: {what} cannot be converted to the column's new type"),
            help: "give a `default` of the new type in the same alter_column; nothing was changed"
                .into(),
            source: e,
        });
    }
    Ok(())
}

/// Plans nothing and runs nothing: prepares each `verify` query (already parsed by the planner
/// and re-rendered) as start will run it, so a query that cannot work (unknown function, type
/// mismatch) is refused now rather than after the whole backfill. A table or column the query
/// names may be one the migration creates, so those two errors are left for start.
pub(crate) async fn check_verify_queries(
    client: &mut tokio_postgres::Client,
    file: &str,
    schema: &str,
    queries: &[String],
) -> Result<()> {
    if queries.is_empty() {
        return Ok(());
    }
    use tokio_postgres::error::SqlState;
    let tx = begin(client).await?;
    let result = async {
        search_path(&tx, schema).await?;
        for (i, q) in queries.iter().enumerate() {
            run(&tx, "SAVEPOINT tandem_probe", "checking verify queries").await?;
            let sql = format!("SELECT row_to_json(q)::text FROM ({q}) AS q");
            match tx.prepare(&sql).await {
                Ok(_) => {}
                Err(e)
                    if e.code() == Some(&SqlState::UNDEFINED_TABLE)
                        || e.code() == Some(&SqlState::UNDEFINED_COLUMN) => {}
                Err(e) => {
                    return Err(Error::Database {
                        context: format!("{file}: verify entry {} cannot run", i + 1),
                        help: "fix that `verify` query in the migration file; nothing was changed"
                            .into(),
                        source: e,
                    })
                }
            }
            run(
                &tx,
                "ROLLBACK TO SAVEPOINT tandem_probe",
                "checking verify queries",
            )
            .await?;
        }
        Ok(())
    }
    .await;
    end(tx, result).await
}
