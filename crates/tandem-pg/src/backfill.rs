//! The backfill: fills columns of every existing row, in batches on the table's key, each
//! batch committed together with its checkpoint, so a killed backfill resumes where it stopped.
//!
//! The value is computed directly in the `UPDATE` (`SET new = <up>`): the dual-write trigger is
//! skipped for the backfill's own writes (its `WHEN` clause tests `tandem.backfill`), so no
//! PL/pgSQL function is called per row. Batch size adapts to a target batch duration.

use crate::error::{Error, Result};
use crate::events::{Event, Reporter};
use crate::keys::{key_of, max_key, TableKey, Walk};
use crate::retry::{self, GaveUp, LockSettings};
use crate::rows::column;
use crate::text::abbreviate;
use std::time::{Duration, Instant};
use tandem_core::plan::Backfill;
use tandem_core::quote::{ident, qualified};
use tokio_postgres::Client;

/// How fast and how hard a backfill goes.
#[derive(Debug, Clone)]
pub struct BackfillSettings {
    /// The duration each batch aims at; the batch size follows it.
    pub batch_time: Duration,
    /// A fixed batch size (rows, or pages when walking ctid), instead of the adaptive one.
    pub batch_size: Option<i64>,
    /// A pause between batches, to leave the server room.
    pub pause: Duration,
}

impl Default for BackfillSettings {
    fn default() -> Self {
        BackfillSettings {
            batch_time: Duration::from_millis(100),
            batch_size: None,
            pause: Duration::ZERO,
        }
    }
}

/// The next batch size: scaled towards the target duration, at most doubled or halved at once.
fn next_batch_size(size: i64, elapsed: Duration, target: Duration, min: i64, max: i64) -> i64 {
    let elapsed = elapsed.as_secs_f64().max(0.000_1);
    let scaled = (size as f64 * target.as_secs_f64() / elapsed).round() as i64;
    scaled
        .clamp(size / 2, size.saturating_mul(2))
        .clamp(min, max)
}

/// Where a backfill is: its checkpoint in `tandem.backfills`.
struct Checkpoint {
    last: Option<Vec<String>>,
    max: Option<Vec<String>>,
    rows_done: i64,
    done: bool,
}

pub(crate) struct BackfillRun<'a> {
    pub client: &'a mut Client,
    pub state_schema: &'a str,
    pub migration: &'a str,
    pub step: i32,
    pub settings: &'a BackfillSettings,
    pub locks: &'a LockSettings,
    pub reporter: &'a dyn Reporter,
}

impl BackfillRun<'_> {
    /// The dual-write trigger's `WHEN` clause keeps it from firing for the backfill's rows, but
    /// evaluating it costs about 6% per row. A session allowed to set
    /// `session_replication_role = replica` skips ordinary triggers before any `WHEN` is read.
    /// That also skips foreign key checks of the backfill's own writes, which verification then
    /// checks row by row (and VALIDATE at complete once more).
    async fn may_skip_triggers(&mut self) -> bool {
        let Ok(tx) = self.client.transaction().await else {
            return false;
        };
        let allowed = tx
            .batch_execute("SET LOCAL session_replication_role = replica")
            .await
            .is_ok();
        let _ = tx.rollback().await;
        allowed
    }

    pub(crate) async fn run(&mut self, spec: &Backfill) -> Result<i64> {
        let rel = qualified(&spec.schema, &spec.table);
        let key = key_of(&*self.client, &spec.schema, &spec.table).await?;
        let mut cp = self.checkpoint(spec, &key).await?;
        let what = "reading the table's size";
        let size_row = self
            .client
            .query_one(
                "SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = to_regclass($1)",
                &[&rel],
            )
            .await
            .map_err(|e| Error::db(what, e))?;
        let total_estimate: i64 = column(&size_row, 0, what)?;
        let set = spec
            .assignments
            .iter()
            .map(|(c, e)| format!("{} = {e}", ident(c)))
            .collect::<Vec<_>>()
            .join(", ");
        let (min, max_size, mut size) = match key {
            TableKey::Columns { .. } => (100, 500_000, 2_000),
            TableKey::Ctid => (1, 20_000, 20),
        };
        if let Some(fixed) = self.settings.batch_size {
            size = fixed.max(1);
        }
        let skip_triggers = self.may_skip_triggers().await;
        // `up` means what it meant at validation and in the trigger function: the same search
        // path, whatever this session's.
        let per_batch = format!(
            "SET LOCAL search_path TO {}{}",
            tandem_core::expression_search_path(&spec.schema),
            if skip_triggers {
                "; SET LOCAL session_replication_role = replica"
            } else {
                ""
            }
        );
        let began = Instant::now();
        let rows_at_start = cp.rows_done;
        let mut last_report = Instant::now() - Duration::from_secs(60);
        let end = cp.max.clone().unwrap_or_default();
        let walk = Walk::new(&spec.schema, &spec.table, &key, &end).with_integer_steps();
        while !cp.done {
            let batch_began = Instant::now();
            let batch = walk.next(&*self.client, cp.last.as_deref(), size).await?;
            let update = format!("UPDATE {rel} SET {set} WHERE {}", batch.predicate);
            let rows = self
                .batch(&spec.table, &update, &batch.upper, batch.last, &per_batch)
                .await?;
            cp.rows_done += rows;
            cp.done = batch.last;
            cp.last = Some(batch.upper);
            let elapsed = batch_began.elapsed();
            if self.settings.batch_size.is_none() {
                size = next_batch_size(size, elapsed, self.settings.batch_time, min, max_size);
            }
            if last_report.elapsed() >= Duration::from_millis(500) || cp.done {
                let done_now = cp.rows_done - rows_at_start;
                self.reporter.event(Event::BackfillProgress {
                    table: spec.table.clone(),
                    rows_done: cp.rows_done,
                    rows_estimate: total_estimate.max(cp.rows_done),
                    rows_per_second: done_now as f64 / began.elapsed().as_secs_f64().max(0.001),
                    finished: cp.done,
                });
                last_report = Instant::now();
            }
            if !self.settings.pause.is_zero() && !cp.done {
                tokio::time::sleep(self.settings.pause).await;
            }
        }
        Ok(cp.rows_done)
    }

    /// Reads the checkpoint, or creates it with the table's largest key as the end.
    async fn checkpoint(&mut self, spec: &Backfill, key: &TableKey) -> Result<Checkpoint> {
        let what = "reading the backfill checkpoint";
        let row = self
            .client
            .query_opt(
                "SELECT last_key, max_key, rows_done, done FROM tandem.backfills WHERE schema = $1 AND migration = $2 AND step = $3",
                &[&self.state_schema, &self.migration, &self.step],
            )
            .await
            .map_err(|e| Error::db(what, e))?;
        if let Some(r) = row {
            return Ok(Checkpoint {
                last: column(&r, 0, what)?,
                max: column(&r, 1, what)?,
                rows_done: column(&r, 2, what)?,
                done: column(&r, 3, what)?,
            });
        }
        let max = max_key(&*self.client, &spec.schema, &spec.table, key).await?;
        self.client
            .execute(
                "INSERT INTO tandem.backfills (schema, migration, step, table_name, walk, max_key, done) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[&self.state_schema, &self.migration, &self.step, &spec.table, &key.describe(), &max, &max.is_none()],
            )
            .await
            .map_err(|e| Error::db("recording the backfill checkpoint", e))?;
        Ok(Checkpoint {
            last: None,
            done: max.is_none(),
            max,
            rows_done: 0,
        })
    }

    /// One batch and its checkpoint, in one transaction, retried on lock failures.
    /// `per_batch`: tandem's own `SET LOCAL`s for the batch's transaction.
    async fn batch(
        &mut self,
        table: &str,
        update: &str,
        upper: &[String],
        last: bool,
        per_batch: &str,
    ) -> Result<i64> {
        let (locks, reporter) = (self.locks, self.reporter);
        let outcome = retry::on_lock_failure(
            locks,
            reporter,
            &format!("backfill batch of {table}"),
            retry::is_lock_failure,
            async || self.try_batch(update, upper, last, per_batch).await,
        )
        .await;
        match outcome {
            Ok(rows) => Ok(rows),
            Err(GaveUp::Failed(source) | GaveUp::Budget { last: source, .. }) => Err(Error::Database {
                context: format!("a backfill batch failed (`{}`)", abbreviate(update)),
                help: "the rows before this batch are done and recorded; fix the cause (an `up` expression that fails or violates a constraint for some row?) and run the same command again to continue, or `tandem rollback`".into(),
                source,
            }),
        }
    }

    async fn try_batch(
        &mut self,
        update: &str,
        upper: &[String],
        last: bool,
        per_batch: &str,
    ) -> Result<i64, tokio_postgres::Error> {
        let tx = self.client.transaction().await?;
        tx.batch_execute(&format!(
            // synchronous_commit off: a batch and its checkpoint commit together, so a crash
            // loses both and the rerun redoes the batch; nothing waits for the WAL flush.
            "SET LOCAL lock_timeout = {}; SET LOCAL tandem.backfill = 'on'; SET LOCAL synchronous_commit = off; {per_batch}",
            self.locks.lock_timeout.as_millis(),
        ))
        .await?;
        let rows = tx.execute(update, &[]).await? as i64;
        tx.execute(
            "UPDATE tandem.backfills SET last_key = $4, rows_done = rows_done + $5, batches = batches + 1, done = $6, updated_at = now() \
             WHERE schema = $1 AND migration = $2 AND step = $3",
            &[&self.state_schema, &self.migration, &self.step, &upper, &rows, &last],
        )
        .await?;
        tx.commit().await?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_size_follows_the_target_time_within_bounds() {
        let t = Duration::from_millis(100);
        assert_eq!(
            next_batch_size(1000, Duration::from_millis(100), t, 100, 100_000),
            1000
        );
        assert_eq!(
            next_batch_size(1000, Duration::from_millis(50), t, 100, 100_000),
            2000
        );
        assert_eq!(
            next_batch_size(1000, Duration::from_millis(10), t, 100, 100_000),
            2000,
            "at most doubled"
        );
        assert_eq!(
            next_batch_size(1000, Duration::from_secs(2), t, 100, 100_000),
            500,
            "at most halved"
        );
        assert_eq!(
            next_batch_size(150, Duration::from_secs(2), t, 100, 100_000),
            100,
            "never below the minimum"
        );
        assert_eq!(
            next_batch_size(90_000, Duration::from_millis(1), t, 100, 100_000),
            100_000
        );
    }
}
