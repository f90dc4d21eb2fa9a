//! start / complete / rollback / status for MySQL and MariaDB.

use crate::catalog::read_schema;
use crate::error::{Error, Result};
use crate::events::Event;
use crate::online::{run_locked, try_online_alter, LockPolicy};
use crate::plan::{plan, Change, ChangeKind};
use crate::quote::ident;
use crate::shadow::{self, binlog, CopyConfig, Job};
use crate::state::{self, MigrationState, ShadowState, Status};
use mysql_async::prelude::*;
use mysql_async::{Conn, Pool};
use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};
use tandem_core::Migration;

/// How the engine works.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub lock: LockPolicy,
    pub copy: CopyConfig,
    /// Copy through a shadow table even where the server could ALTER online (gh-ost's mode:
    /// no server-side rebuild load, throttled, and revertible after cut-over).
    pub force_copy: bool,
    /// Stop before the cut-over of the first table copy; `complete` cuts over and runs the
    /// changes after it.
    pub postpone_cut_over: bool,
}

/// What `status` shows.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusReport {
    pub migration: String,
    pub status: String,
    pub changes_done: usize,
    pub changes_total: usize,
    pub table: Option<String>,
    pub rows_copied: u64,
    pub rows_estimate: u64,
    pub copy_done: bool,
    pub cut_over: bool,
    /// Bytes of binary log not applied yet (same file), when a copy is under way.
    pub binlog_lag_bytes: Option<u64>,
    pub eta_seconds: Option<u64>,
    pub throttle: String,
    pub paused: bool,
}

/// The MySQL engine over one database.
pub struct Engine {
    pool: Pool,
    opts: mysql_async::Opts,
    options: Options,
}

fn nothing(_: Event) {}

impl Engine {
    pub async fn connect(url: &str, options: Options) -> Result<Engine> {
        let opts = crate::connect::options(url)?;
        Ok(Engine {
            pool: crate::connect::connect(url).await?,
            opts,
            options,
        })
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    async fn conn(&self) -> Result<Conn> {
        self.pool
            .get_conn()
            .await
            .map_err(Error::sql("getting a connection"))
    }

    /// Checks `migration` against the live schema, and every statement against the server (on
    /// empty temporary copies of the tables), without changing anything.
    pub async fn validate(&self, migration: &Migration) -> Result<Vec<Change>> {
        let mut conn = self.conn().await?;
        let live = read_schema(&mut conn).await?;
        let changes = plan(migration, &live)?;
        probe(&mut conn, &changes, &live).await?;
        Ok(changes)
    }

    /// Applies a migration; returns once every change is done, or once the copy of the last
    /// one is ready for its cut-over when it is postponed.
    pub async fn start(
        &self,
        migration: &Migration,
        report: &(dyn Fn(Event) + Sync),
    ) -> Result<Status> {
        let mut conn = self.conn().await?;
        state::ensure(&mut conn).await?;
        let checksum = migration.checksum();
        let existing = state::get(&mut conn, &migration.name).await?;
        let resuming = match &existing {
            Some(m) if m.checksum != checksum => {
                return Err(Error::state(
                    format!("migration `{}` was started with different contents", m.name),
                    "a started migration must not change; roll it back first, or give the new version another file name",
                ))
            }
            Some(m) if m.status == Status::Complete => {
                return Err(Error::state(
                    format!("migration `{}` is already complete", m.name),
                    "nothing to do; write a new migration for further changes",
                ))
            }
            Some(m) if m.status == Status::ReadyForCutOver => {
                return Err(Error::state(
                    format!("migration `{}` waits for its cut-over", m.name),
                    "run `tandem complete` to cut over, or `tandem rollback` to abandon it",
                ))
            }
            Some(m) if m.status == Status::RolledBack => {
                conn.exec_drop(
                    format!("DELETE FROM {} WHERE name = ?", ident(state::STATE_TABLE)),
                    (&m.name,),
                )
                .await
                .map_err(Error::sql("clearing a rolled-back migration"))?;
                false
            }
            Some(_) => true,
            None => false,
        };
        if !resuming {
            if let Some(other) = state::latest(&mut conn).await? {
                if matches!(other.status, Status::InProgress | Status::ReadyForCutOver) {
                    return Err(Error::state(
                        format!("migration `{}` is still in progress", other.name),
                        "complete or roll it back first (tandem complete / tandem rollback)",
                    ));
                }
            }
        }
        // A resumed run checks only the changes not done yet, against today's schema.
        let mut done_before = existing.as_ref().map(|m| m.done).unwrap_or(0);
        // Killed after a cut-over but before recording the change as done: it is done.
        if let Some(s) = existing.as_ref().and_then(|m| m.shadow.as_ref()) {
            if s.cut_over && s.change == done_before {
                done_before += 1;
            }
        }
        let changes = if resuming {
            let live = read_schema(&mut conn).await?;
            let mut rest = migration.clone();
            rest.operations = migration
                .operations
                .get(done_before..)
                .map(|o| o.to_vec())
                .unwrap_or_default();
            rest.operation_lines = migration
                .operation_lines
                .get(done_before..)
                .map(|l| l.to_vec())
                .unwrap_or_default();
            // The table of an unfinished copy still has its old definition: plan from it.
            let mut planned = plan(&rest, &live)?;
            for c in &mut planned {
                c.index += done_before;
            }
            planned
        } else {
            let changes = self.validate(migration).await?;
            let json = serde_json::to_string(migration).map_err(|e| {
                Error::state(
                    format!("cannot record the migration: {e}"),
                    "report this as a bug",
                )
            })?;
            state::insert(&mut conn, &migration.name, &checksum, &json).await?;
            changes
        };
        let shadow_state = existing.and_then(|m| m.shadow);
        self.run_changes(&migration.name, &changes, shadow_state, report)
            .await
    }

    async fn run_changes(
        &self,
        name: &str,
        changes: &[Change],
        mut shadow_state: Option<ShadowState>,
        report: &(dyn Fn(Event) + Sync),
    ) -> Result<Status> {
        let mut conn = self.conn().await?;
        let total = changes.iter().map(|c| c.index + 1).max().unwrap_or(0);
        // Old tables this run's earlier copies left; a later copy of the same table replaces
        // its predecessor's (rollback after cut-over reverts the last copy).
        let mut left_old: Vec<String> = Vec::new();
        for change in changes {
            match &change.kind {
                ChangeKind::Statement { sql } | ChangeKind::Raw { sql } => {
                    run_locked(&mut conn, sql, &self.options.lock, &change.location).await?;
                    report(Event::Applied {
                        location: change.location.clone(),
                        how: "statement".into(),
                    });
                }
                ChangeKind::Alter {
                    table,
                    clauses,
                    renames,
                } => {
                    let resumed = shadow_state.take().filter(|s| s.change == change.index);
                    if resumed.is_none() && !self.options.force_copy {
                        if let Some(algorithm) = try_online_alter(
                            &mut conn,
                            table,
                            clauses,
                            &self.options.lock,
                            &change.location,
                        )
                        .await?
                        {
                            report(Event::Applied {
                                location: change.location.clone(),
                                how: algorithm.as_str().into(),
                            });
                            state::set_status(
                                &mut conn,
                                name,
                                Status::InProgress,
                                change.index + 1,
                            )
                            .await?;
                            continue;
                        }
                    }
                    let is_resumed = resumed.is_some();
                    let mut s = match resumed {
                        Some(s) => s,
                        None => {
                            binlog::check_server(&mut conn).await?;
                            let (shadow_name, old_name) = shadow::shadow_names(table);
                            if left_old.contains(&old_name) {
                                run_locked(
                                    &mut conn,
                                    &format!("DROP TABLE IF EXISTS {}", ident(&old_name)),
                                    &self.options.lock,
                                    "dropping the old table of an earlier copy in this migration",
                                )
                                .await?;
                            }
                            // A shadow left by a run killed before it saved its state is ours.
                            conn.query_drop(format!(
                                "DROP TABLE IF EXISTS {}",
                                ident(&shadow_name)
                            ))
                            .await
                            .map_err(Error::sql("dropping a leftover shadow table"))?;
                            let s =
                                shadow::prepare(&mut conn, change.index, table, clauses, renames)
                                    .await?;
                            state::save_shadow(&mut conn, name, Some(&s)).await?;
                            s
                        }
                    };
                    report(Event::CopyStarted {
                        location: change.location.clone(),
                        table: s.table.clone(),
                        shadow: s.shadow.clone(),
                        resumed: is_resumed,
                    });
                    if !s.cut_over {
                        let job = self.job(name, report);
                        let applier = job.copy(&mut s).await?;
                        let postpone = self.options.postpone_cut_over;
                        let cut = job.finish(&mut s, applier, postpone).await?;
                        if !cut {
                            state::set_status(
                                &mut conn,
                                name,
                                Status::ReadyForCutOver,
                                change.index,
                            )
                            .await?;
                            report(Event::WaitingForCutOver {
                                table: s.table.clone(),
                            });
                            return Ok(Status::ReadyForCutOver);
                        }
                        report(Event::CutOver {
                            table: s.table.clone(),
                            old: s.old.clone(),
                        });
                    }
                    left_old.push(s.old.clone());
                    // The last copy's state stays: rollback after cut-over needs it.
                    state::save_shadow(&mut conn, name, Some(&s)).await?;
                }
            }
            state::set_status(&mut conn, name, Status::InProgress, change.index + 1).await?;
        }
        state::set_status(&mut conn, name, Status::Complete, total).await?;
        Ok(Status::Complete)
    }

    fn job<'a>(&'a self, name: &'a str, report: &'a (dyn Fn(Event) + Sync)) -> Job<'a> {
        Job {
            pool: &self.pool,
            opts: &self.opts,
            migration: name,
            config: &self.options.copy,
            policy: &self.options.lock,
            report,
        }
    }

    /// The migration in progress, read back from the state table.
    async fn current(&self, conn: &mut Conn) -> Result<(MigrationState, Migration)> {
        let m = state::latest(conn).await?.ok_or_else(|| {
            Error::state(
                "no migration has been started here",
                "run `tandem start FILE` first",
            )
        })?;
        let migration: Migration = serde_json::from_str(&m.migration_json).map_err(|e| {
            Error::state(
                format!("the recorded migration `{}` cannot be read: {e}", m.name),
                format!("inspect {}", state::STATE_TABLE),
            )
        })?;
        Ok((m, migration))
    }

    /// Cuts over a postponed copy (and runs the changes after it).
    pub async fn complete(&self, report: &(dyn Fn(Event) + Sync)) -> Result<Status> {
        let mut conn = self.conn().await?;
        let (m, migration) = self.current(&mut conn).await?;
        match m.status {
            Status::ReadyForCutOver | Status::InProgress => {}
            Status::Complete => {
                return Err(Error::state(
                    format!("migration `{}` is already complete", m.name),
                    "nothing to do",
                ))
            }
            Status::RolledBack => {
                return Err(Error::state(
                    format!("migration `{}` was rolled back", m.name),
                    "start it again with `tandem start FILE`",
                ))
            }
        }
        let mut migration = migration;
        migration.file = m.name.clone();
        // Completing means cutting over now.
        let engine = Engine {
            pool: self.pool.clone(),
            opts: self.opts.clone(),
            options: Options {
                postpone_cut_over: false,
                ..self.options.clone()
            },
        };
        state::set_status(&mut conn, &m.name, Status::InProgress, m.done).await?;
        engine.start(&migration, report).await
    }

    /// Abandons a copy before its cut-over (drops the shadow), or reverts a cut-over: the old
    /// table comes back with every write made since the cut-over.
    pub async fn rollback(&self, report: &(dyn Fn(Event) + Sync)) -> Result<()> {
        let mut conn = self.conn().await?;
        let (m, _) = self.current(&mut conn).await?;
        if m.status == Status::RolledBack {
            return Err(Error::state(
                format!("migration `{}` is already rolled back", m.name),
                "nothing to do",
            ));
        }
        let Some(mut s) = m.shadow.clone() else {
            return Err(Error::state(
                format!(
                    "migration `{}` made no copy, so there is no old table to go back to",
                    m.name
                ),
                "its changes ran as online ALTERs; write a migration that reverses them",
            ));
        };
        if s.cut_over {
            let job = self.job(&m.name, report);
            job.revert(&mut s).await?;
            report(Event::RolledBack {
                what: format!(
                    "`{}` is the old table again, with every write made since the cut-over; the new one is kept as `{}`",
                    s.table, s.shadow
                ),
            });
        } else {
            shadow::abandon(&mut conn, &s, &self.options.lock).await?;
            report(Event::RolledBack {
                what: format!(
                    "the copy of `{}` is abandoned and `{}` dropped",
                    s.table, s.shadow
                ),
            });
        }
        state::save_shadow(&mut conn, &m.name, Some(&s)).await?;
        state::set_status(&mut conn, &m.name, Status::RolledBack, m.done).await?;
        Ok(())
    }

    /// The latest migration and its copy's progress.
    pub async fn status(&self) -> Result<Option<StatusReport>> {
        let mut conn = self.conn().await?;
        let Some(m) = state::latest(&mut conn).await? else {
            return Ok(None);
        };
        let total = serde_json::from_str::<Migration>(&m.migration_json)
            .map(|mig| mig.operations.len())
            .unwrap_or(0);
        let mut report = StatusReport {
            migration: m.name.clone(),
            status: m.status.as_str().into(),
            changes_done: m.done,
            changes_total: total,
            table: None,
            rows_copied: 0,
            rows_estimate: 0,
            copy_done: false,
            cut_over: false,
            binlog_lag_bytes: None,
            eta_seconds: None,
            throttle: String::new(),
            paused: m.paused,
        };
        if let Some(s) = &m.shadow {
            report.table = Some(s.table.clone());
            report.rows_copied = s.rows_copied;
            report.rows_estimate = s.rows_estimate;
            report.copy_done = s.copy_done;
            report.cut_over = s.cut_over;
            report.throttle = s.throttle.clone();
            if !s.cut_over {
                let now = binlog::current_position(&mut conn).await?;
                if now.file == s.applied.file {
                    report.binlog_lag_bytes = Some(now.pos.saturating_sub(s.applied.pos));
                }
                let elapsed = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0)
                    .saturating_sub(s.copy_started_unix)
                    .max(1);
                if !s.copy_done && s.rows_copied > 0 {
                    let rate = s.rows_copied as f64 / elapsed as f64;
                    let left = s.rows_estimate.saturating_sub(s.rows_copied) as f64;
                    report.eta_seconds = Some((left / rate).ceil() as u64);
                } else if s.copy_done {
                    report.eta_seconds = Some(0);
                }
            }
        }
        Ok(Some(report))
    }

    /// Sets the pause flag of the migration in progress; a running copy waits while it is set.
    pub async fn set_paused(&self, paused: bool) -> Result<String> {
        let mut conn = self.conn().await?;
        let m = state::latest(&mut conn).await?.ok_or_else(|| {
            Error::state("no migration has been started here", "nothing to pause")
        })?;
        state::set_paused(&mut conn, &m.name, paused).await?;
        Ok(m.name)
    }

    /// [`Engine::start`] without progress reports.
    pub async fn start_quietly(&self, migration: &Migration) -> Result<Status> {
        self.start(migration, &nothing).await
    }
}

/// Runs every ALTER of the migration on empty temporary copies of its tables, and prepares
/// (parses) every raw statement: the server rejects bad types, defaults and expressions here,
/// before anything changes. Temporary tables vanish with the session and are not replicated.
async fn probe(
    conn: &mut Conn,
    changes: &[Change],
    live: &crate::catalog::LiveSchema,
) -> Result<()> {
    let mut probes: BTreeMap<String, String> = BTreeMap::new();
    let mut created: Vec<String> = Vec::new();
    let result = async {
        for change in changes {
            let fail = |e: mysql_async::Error| Error::Invalid {
                location: change.location.clone(),
                message: format!("the server rejects it: {e}"),
                help: "fix the operation; nothing was changed".into(),
            };
            match &change.kind {
                ChangeKind::Alter { table, clauses, .. } => {
                    if clauses.contains("FOREIGN KEY") {
                        continue;
                    }
                    let probe = match probes.get(table) {
                        Some(p) => p.clone(),
                        None if live.table(table).is_some() => {
                            let p = format!("_tandem_probe_{}", probes.len() + created.len());
                            conn.query_drop(format!(
                                "CREATE TEMPORARY TABLE {} LIKE {}",
                                ident(&p),
                                ident(table)
                            ))
                            .await
                            .map_err(fail)?;
                            created.push(p.clone());
                            probes.insert(table.clone(), p.clone());
                            p
                        }
                        None => continue,
                    };
                    conn.exec_drop(format!("ALTER TABLE {} {clauses}", ident(&probe)), ())
                        .await
                        .map_err(fail)?;
                }
                ChangeKind::Raw { sql } => {
                    let stmt = conn.prep(sql.as_str()).await.map_err(fail)?;
                    conn.close(stmt).await.map_err(fail)?;
                }
                ChangeKind::Statement { sql } => {
                    if let Some(rest) = sql.strip_prefix("CREATE TABLE ") {
                        let stmt = conn
                            .prep(format!("CREATE TEMPORARY TABLE {rest}"))
                            .await
                            .map_err(fail)?;
                        conn.close(stmt).await.map_err(fail)?;
                    }
                    if sql.starts_with("RENAME TABLE ") || sql.starts_with("DROP TABLE ") {
                        // Later ALTERs of a renamed or dropped table are not probed.
                        probes.retain(|t, _| !sql.contains(&ident(t)));
                    }
                }
            }
        }
        Ok(())
    }
    .await;
    for p in created {
        let _ = conn
            .query_drop(format!("DROP TEMPORARY TABLE IF EXISTS {}", ident(&p)))
            .await;
    }
    result
}
