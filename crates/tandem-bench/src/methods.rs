//! The table every measurement starts from and the three ways of filling its new column.
//!
//! Each measurement gets a freshly loaded, vacuumed and checkpointed table, so no method pays
//! for the dead tuples, the grown heap or the dirty buffers another one left behind. Only the
//! backfill itself is timed; every method's result is checked afterwards (untimed), so a method
//! that silently skipped rows cannot look fast.

use crate::timer::StepTimer;
use crate::BoxError;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tandem_core::quote::ident;
use tandem_core::Migration;
use tandem_pg::{ConnectOptions, Engine, Settings};
use tokio_postgres::Client;

/// The migration tandem runs: the same type change the other two methods perform by hand.
const RETYPE_YAML: &str = "\
operations:
  - alter_column:
      table: items
      column: price
      type: numeric
      up: CAST(price AS numeric)
      down: CAST(price AS text)
";

/// pgroll's per-row trigger: the new column is computed in PL/pgSQL on every UPDATE.
const PGROLL_TRIGGER: &str = "
CREATE FUNCTION public.bench_pgroll_price_new() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.price_new := CAST(NEW.price AS numeric);
    RETURN NEW;
END
$$;
CREATE TRIGGER bench_pgroll_price_new BEFORE UPDATE ON public.items
    FOR EACH ROW EXECUTE FUNCTION public.bench_pgroll_price_new();
";

/// pgroll's batch: the next 1,000 keys, touched by a no-op UPDATE that fires the trigger.
const PGROLL_BATCH: &str = "
WITH batch AS (SELECT id FROM public.items WHERE id > $1 ORDER BY id LIMIT 1000)
UPDATE public.items SET id = items.id FROM batch WHERE items.id = batch.id RETURNING items.id";

/// A database error with the server's message (tokio-postgres's own `Display` only says
/// "db error") and what we were doing.
pub fn db(context: &'static str) -> impl FnOnce(tokio_postgres::Error) -> BoxError {
    move |e| {
        let detail = match e.as_db_error() {
            Some(d) => d.message().to_string(),
            None => e.to_string(),
        };
        format!("{context}: {detail}").into()
    }
}

/// Drops whatever the previous measurement left and loads `rows` fresh rows.
pub async fn fresh_table(client: &Client, rows: u64) -> Result<(), BoxError> {
    // CASCADE also takes the views of a version schema tandem left behind.
    client
        .batch_execute(
            "DROP TABLE IF EXISTS public.items CASCADE;
             DROP FUNCTION IF EXISTS public.bench_pgroll_price_new() CASCADE;
             CREATE TABLE public.items (id bigserial PRIMARY KEY, price text, note text);",
        )
        .await
        .map_err(db("creating the table"))?;
    // The load commits synchronously although the cluster runs with synchronous_commit=off:
    // VACUUM may neither set hint bits on, nor mark all-visible, rows whose inserting commit
    // is not yet flushed, and would then leave most pages out of the visibility map (measured:
    // 287 of 10,119 pages at 1M rows), so every method would start from a table no vacuumed
    // production table looks like. The row count is a number, so formatting it in is safe.
    client
        .batch_execute(&format!(
            "BEGIN;
             SET LOCAL synchronous_commit = on;
             INSERT INTO public.items (price, note)
             SELECT (g % 10000)::text || '.' || (g % 100)::text, md5(g::text)
             FROM generate_series(1, {rows}::bigint) AS g;
             COMMIT;"
        ))
        .await
        .map_err(db("loading the table"))?;
    // VACUUM sets hint bits and the visibility map, so the timed UPDATE does not pay for the
    // load's first-touch work; CHECKPOINT flushes the load so its dirty pages are not written
    // out during the measurement.
    // Separate calls: a multi-statement string is one implicit transaction, which VACUUM refuses.
    client
        .batch_execute("VACUUM ANALYZE public.items")
        .await
        .map_err(db("vacuuming the table"))?;
    client
        .batch_execute("CHECKPOINT")
        .await
        .map_err(db("checkpointing"))?;
    let row = client
        .query_one(
            "SELECT relpages::bigint, relallvisible::bigint FROM pg_class
             WHERE oid = 'public.items'::regclass",
            &[],
        )
        .await
        .map_err(db("reading the visibility map's coverage"))?;
    let pages: i64 = row.try_get(0).map_err(db("reading relpages"))?;
    let visible: i64 = row.try_get(1).map_err(db("reading relallvisible"))?;
    if visible < pages {
        // Not fatal (the figures still compare like with like), but worth knowing.
        eprintln!("  note: only {visible} of {pages} pages are all-visible after VACUUM");
    }
    Ok(())
}

/// (a) The whole table in one statement: the lower bound of any online method.
pub async fn single_update(client: &Client) -> Result<Duration, BoxError> {
    client
        .batch_execute("ALTER TABLE public.items ADD COLUMN price_new numeric")
        .await
        .map_err(db("adding the column"))?;
    let began = Instant::now();
    client
        .execute(
            "UPDATE public.items SET price_new = CAST(price AS numeric)",
            &[],
        )
        .await
        .map_err(db("the single UPDATE"))?;
    let took = began.elapsed();
    check_filled(client, "price_new").await?;
    Ok(took)
}

/// (b) pgroll's method: a PL/pgSQL trigger computes the column; keyset batches of 1,000 rows,
/// each its own (autocommit) transaction, fire it with a no-op UPDATE.
pub async fn pgroll(client: &Client) -> Result<Duration, BoxError> {
    client
        .batch_execute("ALTER TABLE public.items ADD COLUMN price_new numeric")
        .await
        .map_err(db("adding the column"))?;
    client
        .batch_execute(PGROLL_TRIGGER)
        .await
        .map_err(db("creating pgroll's trigger"))?;
    // Prepared once, as any real batcher would: parsing is not what is being compared.
    let batch = client
        .prepare(PGROLL_BATCH)
        .await
        .map_err(db("preparing pgroll's batch"))?;
    let began = Instant::now();
    let mut last: i64 = 0;
    loop {
        let rows = client
            .query(&batch, &[&last])
            .await
            .map_err(db("a pgroll batch"))?;
        let mut max = None;
        for row in &rows {
            let id: i64 = row.try_get(0).map_err(db("reading a batch's ids"))?;
            max = max.max(Some(id));
        }
        match max {
            Some(id) => last = id,
            None => break,
        }
    }
    let took = began.elapsed();
    check_filled(client, "price_new").await?;
    Ok(took)
}

/// What tandem's `start` took for its backfill and its verification.
#[derive(Debug, Clone, Copy)]
pub struct TandemTimes {
    pub backfill: Duration,
    pub verify: Option<Duration>,
}

/// (c) tandem: the real engine, `start` of an `alter_column` type change, then `rollback`.
/// Only the backfill step is timed (by the step events); verification is timed separately.
pub async fn tandem(client: &Client, url: &str) -> Result<TandemTimes, BoxError> {
    // Fresh state as well as a fresh table: nothing of an earlier run of the same migration
    // (its record, its backfill checkpoint) may shape this one.
    client
        .batch_execute("DROP SCHEMA IF EXISTS tandem CASCADE")
        .await
        .map_err(db("dropping tandem's state"))?;
    let migration = Migration::parse("02_retype", "02_retype.yaml", RETYPE_YAML, false)?;
    let timer = Arc::new(StepTimer::default());
    let options = ConnectOptions {
        url: Some(url.to_string()),
    };
    let mut engine = Engine::connect(&options, Settings::default(), timer.clone()).await?;
    engine.start(&migration).await?;
    let times = timer.times();
    let backfill = times.backfill.ok_or(
        "tandem's start ran no step named `backfill …`: the benchmark no longer matches the planner",
    )?;
    // Checked while the migration is in progress: rollback drops the new column.
    let column = new_numeric_column(client).await?;
    check_filled(client, &column).await?;
    engine.rollback().await?;
    Ok(TandemTimes {
        backfill,
        verify: times.verify,
    })
}

/// The column tandem added for the new type: the one numeric column of the table (its name is
/// tandem's business, so it is found rather than assumed).
async fn new_numeric_column(client: &Client) -> Result<String, BoxError> {
    let rows = client
        .query(
            "SELECT attname::text FROM pg_attribute
             WHERE attrelid = 'public.items'::regclass AND attnum > 0 AND NOT attisdropped
               AND atttypid = 'numeric'::regtype",
            &[],
        )
        .await
        .map_err(db("finding tandem's new column"))?;
    match rows.as_slice() {
        [row] => Ok(row.try_get(0).map_err(db("reading the column's name"))?),
        _ => Err(format!(
            "expected one numeric column in public.items while tandem's migration is in progress, found {}",
            rows.len()
        )
        .into()),
    }
}

/// Rows whose `column` differs from what the `up` expression gives.
async fn wrong_rows(client: &Client, column: &str) -> Result<i64, BoxError> {
    let sql = format!(
        "SELECT count(*) FROM public.items WHERE {} IS DISTINCT FROM CAST(price AS numeric)",
        ident(column)
    );
    client
        .query_one(sql.as_str(), &[])
        .await
        .map_err(db("checking the backfilled column"))?
        .try_get(0)
        .map_err(db("reading the check's count"))
}

/// Fails unless every row has the value the `up` expression gives; names a few offenders.
async fn check_filled(client: &Client, column: &str) -> Result<(), BoxError> {
    let wrong = wrong_rows(client, column).await?;
    if wrong > 0 {
        let sql = format!(
            "SELECT format('id %s: price %L, %s %L', id, price, $1::text, {col}) FROM public.items
             WHERE {col} IS DISTINCT FROM CAST(price AS numeric) ORDER BY id LIMIT 5",
            col = ident(column)
        );
        let examples: Vec<String> = client
            .query(sql.as_str(), &[&column])
            .await
            .map_err(db("listing the wrong rows"))?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()
            .map_err(db("reading the wrong rows"))?;
        return Err(format!(
            "{wrong} rows of public.items have a wrong or missing {column} after the backfill \
             (e.g. {}): this measurement would be meaningless",
            examples.join("; ")
        )
        .into());
    }
    Ok(())
}
