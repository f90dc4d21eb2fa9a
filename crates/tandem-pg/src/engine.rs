//! The commands: start, complete, rollback, migrate, status, history, validate, plan.
//!
//! Each takes the runner lock (when it changes anything), reads the state, decides which
//! phase to run or resume, and hands the plan's steps to the executor.

use crate::backfill::BackfillSettings;
use crate::catalog;
use crate::connect::{connect, ConnectOptions};
use crate::error::{Error, Result};
use crate::events::{Event, Reporter};
use crate::executor::Executor;
use crate::grants;
use crate::helpers;
use crate::probe;
use crate::retry::{self, GaveUp, LockSettings};
use crate::runner_lock;
use crate::state::{self, MigrationStatus, NewMigration, Record};
use crate::verify;
use serde::{Serialize, Serializer};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tandem_core::operations::default_key;
use tandem_core::plan::Phase;
use tandem_core::quote::ident;
use tandem_core::schema::Schema;
use tandem_core::versions::VersionSchema;
use tandem_core::{plan_migration, Action, Migration, Plan, PlanContext, Planned};
use tokio_postgres::Client;

#[derive(Debug, Clone)]
pub struct Settings {
    /// The physical schema migrations change.
    pub schema: String,
    pub locks: LockSettings,
    /// How long to wait for another tandem to finish.
    pub wait_for_runner: Duration,
    pub backfill: BackfillSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            schema: "public".into(),
            locks: LockSettings::default(),
            wait_for_runner: Duration::from_secs(60),
            backfill: BackfillSettings::default(),
        }
    }
}

/// What `tandem status` reports.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub schema: String,
    /// The newest migration that is in progress or complete.
    pub migration: Option<String>,
    /// The latest migration's status: `in_progress` or `complete` (`none` without one).
    #[serde(serialize_with = "status_or_none")]
    pub status: Option<MigrationStatus>,
    /// The version schema new clients should use.
    pub version_schema: Option<String>,
    /// While in progress: the version schema old clients still use.
    pub previous_version_schema: Option<String>,
    /// While in progress: `start`, `complete` or `rollback`, and how far it got.
    pub phase: Option<Phase>,
    pub steps_done: Option<i32>,
    pub steps_total: Option<usize>,
}

/// What `complete` or `rollback` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// The migration completed or rolled back.
    pub migration: String,
    /// It was already completed (or rolled back) before this call: nothing was done.
    pub already: bool,
}

fn status_or_none<S: Serializer>(
    status: &Option<MigrationStatus>,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    serializer.serialize_str(status.map_or("none", MigrationStatus::as_str))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartOutcome {
    Started,
    /// The same migration was already fully started; nothing was done.
    AlreadyStarted,
}

pub struct Engine {
    client: Client,
    target: String,
    settings: Settings,
    reporter: Arc<dyn Reporter>,
}

impl Engine {
    pub async fn connect(
        options: &ConnectOptions,
        settings: Settings,
        reporter: Arc<dyn Reporter>,
    ) -> Result<Engine> {
        let conn = connect(options).await?;
        Ok(Engine {
            client: conn.client,
            target: conn.target,
            settings,
            reporter,
        })
    }

    /// `--role`: tandem works as `role` (`SET ROLE` on its session), so the tables, columns,
    /// version schemas and views it creates belong to that role, and the role's default
    /// privileges apply to them. The user connecting must be a member of `role`.
    pub async fn set_role(&mut self, role: &str) -> Result<()> {
        self.client
            .batch_execute(&format!("SET ROLE {}", ident(role)))
            .await
            .map_err(|source| Error::Database {
                context: format!("cannot act as role `{role}` on {}", self.target),
                help: format!(
                    "check that role `{role}` exists and that the user tandem connects as is a member of it (GRANT \"{role}\" TO <user>)"
                ),
                source,
            })
    }

    /// At the end of complete: the new version schema takes a fresh copy of its USAGE and (where
    /// its views check as their owner, always on PostgreSQL 14) of its tables' privileges, so
    /// grants made while the migration ran reach it. Idempotent: a complete run again does it
    /// again.
    async fn refresh_grants(&mut self, plan: &Plan) -> Result<()> {
        let Some(v) = plan.start.iter().find_map(|s| match &s.action {
            Action::CreateVersionSchema(v) => Some(v.clone()),
            _ => None,
        }) else {
            return Ok(());
        };
        self.refresh_grants_of(&v).await
    }

    /// At start: the old version's views take the tables' grants made since it completed.
    async fn refresh_previous_grants(&mut self, plan: &Plan) -> Result<()> {
        let Some(previous) = &plan.previous_version_schema else {
            return Ok(());
        };
        let v = VersionSchema {
            name: previous.clone(),
            physical_schema: self.settings.schema.clone(),
            views: None,
            security_invoker: catalog::server_version_num(&self.client).await? >= 150000,
        };
        self.refresh_grants_of(&v).await
    }

    /// Each part (the schema's USAGE, then each view) in a short transaction of its own under
    /// the lock timeout, retried like a step: an `ALTER VIEW` waits for the application's
    /// writes through that view, and must neither make them queue behind it for long nor hold
    /// one view while waiting for another (a deadlock with a transaction that writes through
    /// both, which PostgreSQL would settle by failing the application's write).
    async fn refresh_grants_of(&mut self, v: &VersionSchema) -> Result<()> {
        let parts = grants::refresh_parts(&self.client, v).await?;
        let description = format!("refresh the privileges of version schema {}", v.name);
        let (client, settings, reporter) = (
            &mut self.client,
            &self.settings.locks,
            self.reporter.as_ref(),
        );
        for part in &parts {
            let outcome = retry::on_lock_failure(
                settings,
                reporter,
                &description,
                is_lock_failure,
                async || refresh_part(client, v, part, settings.lock_timeout).await,
            )
            .await;
            match outcome {
                Ok(()) => {}
                Err(GaveUp::Failed(e)) => return Err(e),
                Err(GaveUp::Budget {
                    attempts, waited, ..
                }) => {
                    return Err(Error::LockBudget {
                        message: format!(
                            "could not {description}: its views stayed locked by other sessions through {attempts} attempts over {:.1}s",
                            waited.as_secs_f64()
                        ),
                        help: "end the long transactions that use the version schema's views (or wait), then run the same command again; raise --lock-retry-budget to wait longer".into(),
                    })
                }
            }
        }
        Ok(())
    }

    /// `user@host:port/db`, without the password.
    pub fn target(&self) -> &str {
        &self.target
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The engine's own connection, for work beside tandem's (the demo loads its rows with it).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The tables of the schema migrations change, as they are now (as tandem reads them
    /// before planning).
    pub async fn live_schema(&self) -> Result<Schema> {
        catalog::introspect(&self.client, &self.settings.schema).await
    }

    /// Takes the runner lock. The state schema is created later, only by commands that get as
    /// far as changing something: an invalid migration leaves the database untouched.
    async fn lock(&mut self) -> Result<()> {
        runner_lock::acquire(
            &self.client,
            self.settings.wait_for_runner,
            self.reporter.as_ref(),
        )
        .await
    }

    async fn unlock<T>(&mut self, result: Result<T>) -> Result<T> {
        let released = runner_lock::release(&self.client).await;
        let value = result?;
        released?;
        Ok(value)
    }

    /// `tandem init`: creates the state schema.
    pub async fn init(&mut self) -> Result<()> {
        self.lock().await?;
        let result = state::ensure(&self.client).await;
        self.unlock(result).await
    }

    /// Plans `migration` against the live schema: the whole validation, changing nothing.
    pub async fn plan(&mut self, migration: &Migration) -> Result<Planned> {
        let previous = self.previous_version_schema(&migration.name).await?;
        let schema = catalog::introspect(&self.client, &self.settings.schema).await?;
        if !catalog::schema_exists(&self.client, &self.settings.schema).await? {
            return Err(Error::usage(
                format!(
                    "schema `{}` does not exist in {}",
                    self.settings.schema, self.target
                ),
                "create it first, or pass --schema with an existing schema",
            ));
        }
        let mut volatile_defaults = BTreeSet::new();
        for op in &migration.operations {
            for (data_type, default) in op.defaults_to_probe() {
                let rewrites = probe::default_rewrites_table(
                    &mut self.client,
                    &migration.file,
                    &self.settings.schema,
                    &data_type,
                    &default,
                )
                .await?;
                if rewrites {
                    volatile_defaults.insert(default_key(&data_type, &default));
                }
            }
        }
        let ctx = PlanContext {
            schema: self.settings.schema.clone(),
            server_version_num: catalog::server_version_num(&self.client).await?,
            volatile_defaults,
        };
        if ctx.server_version_num < 150000 {
            let tables = grants::row_security_tables(&self.client, &ctx.schema).await?;
            if !tables.is_empty() {
                self.reporter.event(Event::Warning(format!(
                    "{}: row-level security is on for {}; PostgreSQL 14's views read their table as the view's owner, so through the version schema a role's policies do not apply (PostgreSQL 15+ checks them as the querying role)",
                    migration.file,
                    tables.join(", ")
                )));
            }
        }
        let planned = plan_migration(migration, &schema, &ctx, previous)?;
        helpers::refuse_collisions(&self.client, &migration.file, &planned.plan).await?;
        let warnings = probe::check_probes(
            &mut self.client,
            &migration.file,
            &self.settings.schema,
            &planned.probes,
        )
        .await?;
        for step in &planned.plan.start {
            if let Action::VerifyQueries { queries } = &step.action {
                probe::check_verify_queries(
                    &mut self.client,
                    &migration.file,
                    &self.settings.schema,
                    queries,
                )
                .await?;
            }
        }
        for w in warnings {
            self.reporter
                .event(Event::Warning(format!("{}: {w}", migration.file)));
        }
        verify::refuse_triggers_after_dual_write(
            &self.client,
            &self.settings.schema,
            &planned,
            &migration.file,
        )
        .await?;
        if planned.plan.version_schema == state::STATE_SCHEMA {
            return Err(Error::usage(
                "the version schema cannot be named `tandem`: that is tandem's state schema",
                "set another `version_schema:` in the migration file",
            ));
        }
        Ok(planned)
    }

    /// The version schema old clients use: the newest complete migration's, if it still exists.
    async fn previous_version_schema(&self, except: &str) -> Result<Option<String>> {
        if !state::exists(&self.client).await? {
            return Ok(None);
        }
        let Some(prev) = state::latest_complete(&self.client, &self.settings.schema).await? else {
            return Ok(None);
        };
        if prev.name == except
            || !catalog::schema_exists(&self.client, &prev.version_schema).await?
        {
            return Ok(None);
        }
        Ok(Some(prev.version_schema))
    }

    /// `tandem start`: expands; resumes a start that stopped half way.
    pub async fn start(&mut self, migration: &Migration) -> Result<StartOutcome> {
        self.lock().await?;
        let result = self.start_locked(migration).await;
        self.unlock(result).await
    }

    async fn start_locked(&mut self, migration: &Migration) -> Result<StartOutcome> {
        let schema = self.settings.schema.clone();
        let checksum = migration.checksum();
        let has_state = state::exists(&self.client).await?;
        let active = if has_state {
            state::active(&self.client, &schema).await?
        } else {
            None
        };
        if let Some(active) = active {
            if active.name != migration.name {
                return Err(Error::usage(
                    format!(
                        "migration `{}` is in progress on schema `{schema}`",
                        active.name
                    ),
                    "run `tandem complete` or `tandem rollback` first; one migration at a time",
                ));
            }
            if active.checksum != checksum {
                return Err(Error::usage(
                    format!("migration `{}` was started from a different version of {}", active.name, migration.file),
                    "run `tandem rollback`, then start the file again; or restore the file as it was",
                ));
            }
            let plan = active.plan()?;
            return match active.phase {
                Phase::Start if (active.steps_done as usize) < plan.start.len() => {
                    // The refresh may be what stopped the first run (its lock budget).
                    self.refresh_previous_grants(&plan).await?;
                    self.run(&active, &plan, Phase::Start).await?;
                    Ok(StartOutcome::Started)
                }
                Phase::Start => Ok(StartOutcome::AlreadyStarted),
                Phase::Complete => Err(Error::usage(
                    format!("migration `{}` is being completed", active.name),
                    "run `tandem complete` to finish it",
                )),
                Phase::Rollback => Err(Error::usage(
                    format!("migration `{}` is being rolled back", active.name),
                    "run `tandem rollback` to finish it",
                )),
            };
        }
        let done = if has_state {
            state::find(&self.client, &schema, &migration.name).await?
        } else {
            None
        };
        if let Some(done) = done {
            if done.status == MigrationStatus::Complete {
                return Err(Error::usage(
                    format!(
                        "migration `{}` is already complete on schema `{schema}`",
                        migration.name
                    ),
                    "a migration runs once; write a new migration file for a further change",
                ));
            }
        }
        let planned = self.plan(migration).await?;
        let plan = planned.plan;
        if catalog::schema_exists(&self.client, &plan.version_schema).await? {
            return Err(Error::usage(
                format!("the version schema `{}` already exists", plan.version_schema),
                "set another `version_schema:` in the migration file, or drop that schema if it is a leftover",
            ));
        }
        state::ensure(&self.client).await?;
        let parent = state::latest(&self.client, &schema).await?.map(|r| r.name);
        let to_json = |v: serde_json::Result<serde_json::Value>| {
            v.map_err(|e| Error::internal(format!("cannot record the migration: {e}")))
        };
        state::insert(
            &self.client,
            NewMigration {
                schema: &schema,
                name: &migration.name,
                checksum: &checksum,
                parent: parent.as_deref(),
                version_schema: &plan.version_schema,
                migration: to_json(serde_json::to_value(migration))?,
                plan: to_json(serde_json::to_value(&plan))?,
            },
        )
        .await?;
        let record = state::find(&self.client, &schema, &migration.name)
            .await?
            .ok_or_else(|| {
                Error::internal("the migration record vanished right after it was written")
            })?;
        self.refresh_previous_grants(&plan).await?;
        self.run(&record, &plan, Phase::Start).await?;
        Ok(StartOutcome::Started)
    }

    /// `tandem complete`: contracts the migration in progress; resumes a complete that stopped.
    pub async fn complete(&mut self) -> Result<Finished> {
        self.lock().await?;
        let result = self.finish(Phase::Complete).await;
        self.unlock(result).await
    }

    /// `tandem rollback`: undoes the start of the migration in progress.
    pub async fn rollback(&mut self) -> Result<Finished> {
        self.lock().await?;
        let result = self.finish(Phase::Rollback).await;
        self.unlock(result).await
    }

    async fn finish(&mut self, phase: Phase) -> Result<Finished> {
        let schema = self.settings.schema.clone();
        state::ensure(&self.client).await?;
        let Some(active) = state::active(&self.client, &schema).await? else {
            // Run again after it succeeded (a retried deploy step): nothing to do, and no error.
            let last = state::history(&self.client, &schema).await?.pop();
            if let Some(last) = last {
                let done = match phase {
                    Phase::Complete => last.status == MigrationStatus::Complete,
                    Phase::Rollback => last.status == MigrationStatus::RolledBack,
                    Phase::Start => false,
                };
                if done {
                    return Ok(Finished {
                        migration: last.name,
                        already: true,
                    });
                }
                if phase == Phase::Rollback && last.status == MigrationStatus::Complete {
                    return Err(Error::usage(
                        format!(
                            "migration `{}` is complete: there is no migration in progress to roll back",
                            last.name
                        ),
                        "a completed migration is undone by a new migration that reverses it",
                    ));
                }
            }
            return Err(Error::usage(
                format!("no migration is in progress on schema `{schema}`"),
                "`tandem status` shows the latest migration; `tandem start FILE` begins one",
            ));
        };
        let plan = active.plan()?;
        match (active.phase, phase) {
            (Phase::Start, Phase::Complete) if (active.steps_done as usize) < plan.start.len() => {
                return Err(Error::usage(
                    format!(
                        "the start of `{}` stopped after step {} of {}",
                        active.name,
                        active.steps_done,
                        plan.start.len()
                    ),
                    "run `tandem start FILE` again to finish starting it, or `tandem rollback`",
                ))
            }
            (Phase::Complete, Phase::Rollback) => {
                return Err(Error::usage(
                    format!(
                        "migration `{}` is being completed; a complete cannot be undone half way",
                        active.name
                    ),
                    "run `tandem complete` to finish it",
                ))
            }
            (Phase::Rollback, Phase::Complete) => {
                return Err(Error::usage(
                    format!("migration `{}` is being rolled back", active.name),
                    "run `tandem rollback` to finish it",
                ))
            }
            _ => {}
        }
        state::enter_phase(&self.client, &schema, &active.name, phase).await?;
        let record = state::find(&self.client, &schema, &active.name)
            .await?
            .ok_or_else(|| {
                Error::internal("the migration record vanished right after it was written")
            })?;
        self.run(&record, &plan, phase).await?;
        if phase == Phase::Complete {
            self.refresh_grants(&plan).await?;
        }
        state::finish(&self.client, &schema, &active.name, phase).await?;
        Ok(Finished {
            migration: active.name,
            already: false,
        })
    }

    async fn run(&mut self, record: &Record, plan: &Plan, phase: Phase) -> Result<()> {
        let mut executor = Executor {
            client: &mut self.client,
            settings: &self.settings.locks,
            backfill: &self.settings.backfill,
            reporter: self.reporter.as_ref(),
            schema: &record.schema,
            migration: &record.name,
            start_done: record.start_done.max(0) as usize,
        };
        executor
            .run_phase(phase, plan.steps(phase), record.steps_done.max(0) as usize)
            .await
    }

    /// `tandem migrate DIR`: applies, in order, every migration not yet applied. All but the
    /// last are completed; the last too with `complete`.
    pub async fn migrate(
        &mut self,
        migrations: &[Migration],
        complete: bool,
    ) -> Result<Vec<String>> {
        let mut applied = Vec::new();
        let schema = self.settings.schema.clone();
        for (i, m) in migrations.iter().enumerate() {
            let last = i + 1 == migrations.len();
            let known = if state::exists(&self.client).await? {
                state::find(&self.client, &schema, &m.name).await?
            } else {
                None
            };
            match known {
                Some(r) if r.status == MigrationStatus::Complete => {
                    if r.checksum != m.checksum() {
                        return Err(Error::usage(
                            format!("{} changed after migration `{}` was applied", m.file, m.name),
                            "restore the file as it was applied; write a new migration for a further change",
                        ));
                    }
                    continue;
                }
                Some(r) if r.status == MigrationStatus::InProgress && r.phase != Phase::Start => {
                    // A complete or rollback stopped half way: finish what was begun.
                    let phase = r.phase;
                    self.lock().await?;
                    let result = self.finish(phase).await;
                    self.unlock(result).await?;
                    if phase == Phase::Rollback {
                        return Err(Error::usage(
                            format!("migration `{}` was being rolled back; the rollback is now finished", m.name),
                            "run `tandem migrate` again to apply it afresh",
                        ));
                    }
                    applied.push(m.name.clone());
                    continue;
                }
                _ => {}
            }
            self.start(m).await?;
            if !last || complete {
                self.complete().await?;
            }
            applied.push(m.name.clone());
        }
        Ok(applied)
    }

    /// `tandem verify`: reruns the verification of the migration in progress (every row of the
    /// backfilled tables, and the migration's own `verify` queries). Changes nothing.
    pub async fn verify(&mut self) -> Result<String> {
        let schema = self.settings.schema.clone();
        let active = if state::exists(&self.client).await? {
            state::active(&self.client, &schema).await?
        } else {
            None
        };
        let Some(active) = active else {
            return Err(Error::usage(
                format!("no migration is in progress on schema `{schema}`"),
                "verification checks a migration between start and complete",
            ));
        };
        for step in &active.plan()?.start {
            match &step.action {
                Action::Verify(v) => {
                    verify::verify_table(&self.client, v).await?;
                }
                Action::VerifyQueries { queries } => {
                    verify::verify_queries(&self.client, queries).await?
                }
                _ => {}
            }
        }
        Ok(active.name)
    }

    /// `tandem status`.
    pub async fn status(&mut self) -> Result<Status> {
        let schema = self.settings.schema.clone();
        let none = Status {
            schema: schema.clone(),
            migration: None,
            status: None,
            version_schema: None,
            previous_version_schema: None,
            phase: None,
            steps_done: None,
            steps_total: None,
        };
        if !state::exists(&self.client).await? {
            return Ok(none);
        }
        let Some(latest) = state::latest(&self.client, &schema).await? else {
            return Ok(none);
        };
        let in_progress = latest.status == MigrationStatus::InProgress;
        let plan = latest.plan()?;
        Ok(Status {
            schema,
            migration: Some(latest.name.clone()),
            status: Some(latest.status),
            version_schema: Some(latest.version_schema.clone()),
            previous_version_schema: if in_progress {
                plan.previous_version_schema.clone()
            } else {
                None
            },
            phase: in_progress.then_some(latest.phase),
            steps_done: in_progress.then_some(latest.steps_done),
            steps_total: in_progress.then(|| plan.steps(latest.phase).len()),
        })
    }

    /// `tandem history`: every migration of the schema, oldest first.
    pub async fn history(&mut self) -> Result<Vec<Record>> {
        if !state::exists(&self.client).await? {
            return Ok(Vec::new());
        }
        state::history(&self.client, &self.settings.schema).await
    }
}

/// One part of a version schema's privilege refresh, in its own transaction under
/// `lock_timeout`, read from the catalog again on every attempt.
async fn refresh_part(
    client: &mut Client,
    v: &VersionSchema,
    part: &grants::RefreshPart,
    lock_timeout: Duration,
) -> Result<()> {
    let tx = client
        .transaction()
        .await
        .map_err(|e| Error::db("beginning the refresh of a version's grants", e))?;
    let set = format!("SET LOCAL lock_timeout = {}", lock_timeout.as_millis());
    tx.batch_execute(&set)
        .await
        .map_err(|e| Error::db("setting the lock timeout of the grants refresh", e))?;
    for statement in grants::refresh_statements(&tx, v, part).await? {
        tx.batch_execute(&statement).await.map_err(|e| {
            Error::db(
                format!(
                    "copying the tables' privileges onto {}: `{statement}`",
                    v.name
                ),
                e,
            )
        })?;
    }
    tx.commit()
        .await
        .map_err(|e| Error::db("committing a version's grants", e))
}

/// Whether an error is a statement that met another session's lock, and may be tried again.
fn is_lock_failure(e: &Error) -> bool {
    matches!(e, Error::Database { source, .. } if retry::is_lock_failure(source))
}
