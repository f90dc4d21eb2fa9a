//! Runs the steps of a plan: each under a short `lock_timeout`, retried with exponential
//! backoff and jitter within a budget, and recorded as done in the same transaction, so a
//! crashed run resumes at the first step not done. It knows nothing about operations.

use crate::backfill::{BackfillRun, BackfillSettings};
use crate::catalog;
use crate::error::{Error, Result};
use crate::events::{Event, Reporter};
use crate::grants;
use crate::retry::{self, GaveUp, LockSettings};
use crate::rows::column;
use crate::state;
use crate::text::abbreviate;
use crate::verify;
use std::time::{Duration, Instant};
use tandem_core::plan::{Action, Phase, Step};
use tandem_core::versions::{views_of, View};
use tokio_postgres::{Client, GenericClient};

enum StepFailure {
    /// The server refused; `statement` is the statement that failed.
    Db {
        source: tokio_postgres::Error,
        statement: String,
    },
    Other(Error),
}

impl From<Error> for StepFailure {
    fn from(e: Error) -> Self {
        StepFailure::Other(e)
    }
}

impl StepFailure {
    fn is_lock_failure(&self) -> bool {
        matches!(self, StepFailure::Db { source, .. } if retry::is_lock_failure(source))
    }
}

pub(crate) struct Executor<'a> {
    pub client: &'a mut Client,
    pub settings: &'a LockSettings,
    pub backfill: &'a BackfillSettings,
    pub reporter: &'a dyn Reporter,
    pub schema: &'a str,
    pub migration: &'a str,
    /// How many start steps ran before a rollback began (steps that undo later ones are skipped).
    pub start_done: usize,
}

impl Executor<'_> {
    /// Runs `steps[done..]` of `phase`.
    pub(crate) async fn run_phase(
        &mut self,
        phase: Phase,
        steps: &[Step],
        done: usize,
    ) -> Result<()> {
        let begun = Instant::now();
        self.reporter.event(Event::PhaseStarted {
            phase,
            migration: self.migration.to_string(),
            total: steps.len(),
            resuming_at: done,
        });
        for (index, step) in steps.iter().enumerate().skip(done) {
            if step.needs_start_steps.is_some_and(|n| self.start_done < n) {
                state::set_steps_done(&*self.client, self.schema, self.migration, index as i32 + 1)
                    .await?;
                continue;
            }
            self.reporter.event(Event::StepStarted {
                phase,
                index,
                total: steps.len(),
                description: step.description.clone(),
                locks: step.locks.clone(),
            });
            let step_begun = Instant::now();
            self.run_step(phase, index, steps.len(), step).await?;
            self.reporter.event(Event::StepDone {
                phase,
                index,
                total: steps.len(),
                elapsed: step_begun.elapsed(),
            });
        }
        self.reporter.event(Event::PhaseDone {
            phase,
            migration: self.migration.to_string(),
            elapsed: begun.elapsed(),
        });
        Ok(())
    }

    async fn run_step(
        &mut self,
        phase: Phase,
        index: usize,
        total: usize,
        step: &Step,
    ) -> Result<()> {
        // Work on rows is not one statement to retry: the backfill retries each batch itself and
        // records its progress per batch; the step is recorded as done once all of it is.
        let row_work = match &step.action {
            Action::Backfill(spec) => {
                let mut run = BackfillRun {
                    client: &mut *self.client,
                    state_schema: self.schema,
                    migration: self.migration,
                    step: index as i32,
                    settings: self.backfill,
                    locks: self.settings,
                    reporter: self.reporter,
                };
                run.run(spec).await?;
                true
            }
            Action::Verify(spec) => {
                verify::verify_table(&*self.client, spec).await?;
                true
            }
            Action::VerifyQueries { queries } => {
                verify::verify_queries(&*self.client, queries).await?;
                true
            }
            Action::Sql { .. } | Action::CreateVersionSchema(_) => false,
        };
        if row_work {
            return state::set_steps_done(
                &*self.client,
                self.schema,
                self.migration,
                index as i32 + 1,
            )
            .await;
        }
        let (settings, reporter) = (self.settings, self.reporter);
        let outcome = retry::on_lock_failure(
            settings,
            reporter,
            &step.description,
            StepFailure::is_lock_failure,
            async || {
                if step.transactional {
                    self.try_in_transaction(step, index + 1).await
                } else {
                    self.try_outside_transaction(step, index + 1).await
                }
            },
        )
        .await;
        match outcome {
            Ok(()) => Ok(()),
            Err(GaveUp::Budget {
                attempts, waited, ..
            }) => Err(self
                .budget_exhausted(phase, index, total, step, attempts, waited)
                .await),
            Err(GaveUp::Failed(StepFailure::Db { source, statement })) => Err(Error::Database {
                context: format!(
                    "{phase} step {}/{total} ({}) failed on `{}`",
                    index + 1,
                    step.description,
                    abbreviate(&statement)
                ),
                help: format!(
                    "steps 1 to {index} of {phase} are done and recorded; fix the cause and run the same command again to continue{}",
                    if phase == Phase::Start { ", or `tandem rollback` to undo them" } else { "" }
                ),
                source,
            }),
            Err(GaveUp::Failed(StepFailure::Other(e))) => Err(e),
        }
    }

    async fn try_in_transaction(
        &mut self,
        step: &Step,
        done_after: usize,
    ) -> Result<(), StepFailure> {
        let schema = self.schema.to_string();
        let migration = self.migration.to_string();
        let timeout_ms = self.settings.lock_timeout.as_millis();
        let tx = self
            .client
            .transaction()
            .await
            .map_err(|source| StepFailure::Db {
                source,
                statement: "BEGIN".into(),
            })?;
        let set = format!("SET LOCAL lock_timeout = {timeout_ms}");
        tx.batch_execute(&set)
            .await
            .map_err(|source| StepFailure::Db {
                source,
                statement: set,
            })?;
        let (statements, views) = statements_of(&tx, step).await?;
        for statement in statements {
            tx.batch_execute(&statement)
                .await
                .map_err(|source| StepFailure::Db { source, statement })?;
        }
        if let (Action::CreateVersionSchema(v), Some(views)) = (&step.action, &views) {
            for statement in grants::version_schema(&tx, v, views).await? {
                tx.batch_execute(&statement)
                    .await
                    .map_err(|source| StepFailure::Db { source, statement })?;
            }
        }
        state::set_steps_done(&tx, &schema, &migration, done_after as i32).await?;
        tx.commit().await.map_err(|source| StepFailure::Db {
            source,
            statement: "COMMIT".into(),
        })?;
        Ok(())
    }

    /// CREATE/DROP INDEX CONCURRENTLY cannot run in a transaction. They take SHARE UPDATE
    /// EXCLUSIVE, which blocks neither reads nor writes, and they wait for older transactions
    /// to end; so they run without lock_timeout (a timeout would only leave invalid indexes
    /// behind). Such steps are written to be safe to run again.
    async fn try_outside_transaction(
        &mut self,
        step: &Step,
        done_after: usize,
    ) -> Result<(), StepFailure> {
        let (mut statements, views) = statements_of(&*self.client, step).await?;
        if let (Action::CreateVersionSchema(v), Some(views)) = (&step.action, &views) {
            statements.extend(grants::version_schema(&*self.client, v, views).await?);
        }
        for statement in statements {
            self.client
                .batch_execute(&statement)
                .await
                .map_err(|source| StepFailure::Db { source, statement })?;
        }
        state::set_steps_done(
            &*self.client,
            self.schema,
            self.migration,
            done_after as i32,
        )
        .await?;
        Ok(())
    }

    /// The lock budget ran out: say who holds the locks tandem wanted.
    async fn budget_exhausted(
        &self,
        phase: Phase,
        index: usize,
        total: usize,
        step: &Step,
        attempts: u32,
        waited: Duration,
    ) -> Error {
        let mut blockers = Vec::new();
        for l in &step.locks {
            if let Ok(rows) = self
                .client
                .query(
                    "SELECT format('pid %s (%s, %s, transaction open for %s): %s', a.pid, l.mode, a.state, \
                            date_trunc('second', now() - a.xact_start), left(a.query, 120)) \
                     FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                     WHERE l.relation = to_regclass($1) AND l.granted AND l.pid <> pg_backend_pid()",
                    &[&l.relation.quoted()],
                )
                .await
            {
                for r in &rows {
                    // A row that cannot be read only leaves one holder out of the message.
                    if let Ok(holder) = column::<String>(r, 0, "listing who holds a lock") {
                        blockers.push(format!("{}: {holder}", l.relation));
                    }
                }
            }
        }
        let locks = step
            .locks
            .iter()
            .map(|l| format!("{} on {}", l.mode, l.relation))
            .collect::<Vec<_>>()
            .join(", ");
        Error::LockBudget {
            message: format!(
                "{phase} step {}/{total} ({}) could not take its locks ({}) in {attempts} attempts over {:.1}s; {}",
                index + 1,
                step.description,
                if locks.is_empty() { "unknown".to_string() } else { locks },
                waited.as_secs_f64(),
                if blockers.is_empty() {
                    "the sessions holding them have since let go".to_string()
                } else {
                    format!("held by {}", blockers.join("; "))
                }
            ),
            help: format!(
                "steps 1 to {index} of {phase} are done and recorded; end the long transactions above (or wait), then run the same command again to continue; raise --lock-retry-budget to wait longer{}",
                if phase == Phase::Start { ", or run `tandem rollback`" } else { "" }
            ),
        }
    }
}

/// A step's statements; a version schema's views are generated now, from the live catalog when
/// the plan could not know the schema (after raw SQL), and come back with the statements (its
/// grants are read once the views exist). Columns tandem added to replace others take their
/// column privileges first, so the views' grants see them.
async fn statements_of(
    client: &impl GenericClient,
    step: &Step,
) -> Result<(Vec<String>, Option<Vec<View>>), StepFailure> {
    match &step.action {
        Action::Sql { statements } => Ok((statements.clone(), None)),
        Action::CreateVersionSchema(v) => {
            let views = match &v.views {
                Some(views) => views.clone(),
                None => views_of(&catalog::introspect(client, &v.physical_schema).await?),
            };
            let mut statements = grants::replacement_columns(client, v, &views).await?;
            statements.extend(v.render(&views));
            Ok((statements, Some(views)))
        }
        Action::Backfill(_) | Action::Verify(_) | Action::VerifyQueries { .. } => {
            Ok((Vec::new(), None))
        }
    }
}
