//! tandem's own state: the `tandem` schema with the history of migrations and their progress.

use crate::error::{Error, Result};
use crate::rows::column;
use serde::Serialize;
use std::fmt;
use tandem_core::plan::Phase;
use tandem_core::Plan;
use tokio_postgres::GenericClient;

/// The schema holding tandem's state.
pub(crate) const STATE_SCHEMA: &str = "tandem";

const CREATE_STATE: &str = r#"
CREATE SCHEMA IF NOT EXISTS tandem;
CREATE TABLE IF NOT EXISTS tandem.migrations (
    schema          text        NOT NULL,
    name            text        NOT NULL,
    checksum        text        NOT NULL,
    parent          text,
    status          text        NOT NULL CHECK (status IN ('in_progress', 'complete', 'rolled_back')),
    version_schema  text        NOT NULL,
    migration       jsonb       NOT NULL,
    plan            jsonb       NOT NULL,
    phase           text        NOT NULL CHECK (phase IN ('start', 'complete', 'rollback')),
    steps_done      integer     NOT NULL DEFAULT 0,
    start_done      integer     NOT NULL DEFAULT 0,
    started_at      timestamptz NOT NULL DEFAULT now(),
    completed_at    timestamptz,
    rolled_back_at  timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (schema, name)
);
CREATE UNIQUE INDEX IF NOT EXISTS migrations_one_active_per_schema
    ON tandem.migrations (schema) WHERE status = 'in_progress';
CREATE TABLE IF NOT EXISTS tandem.backfills (
    schema      text        NOT NULL,
    migration   text        NOT NULL,
    step        integer     NOT NULL,
    table_name  text        NOT NULL,
    walk        text        NOT NULL,
    last_key    text[],
    max_key     text[],
    rows_done   bigint      NOT NULL DEFAULT 0,
    batches     integer     NOT NULL DEFAULT 0,
    done        boolean     NOT NULL DEFAULT false,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (schema, migration, step)
);
"#;

/// Where a migration is in its life, as `tandem.migrations.status` records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MigrationStatus {
    /// Started, not yet completed or rolled back (one per schema at most).
    InProgress,
    Complete,
    RolledBack,
}

impl MigrationStatus {
    const ALL: [MigrationStatus; 3] = [
        MigrationStatus::InProgress,
        MigrationStatus::Complete,
        MigrationStatus::RolledBack,
    ];

    /// The text stored in the state table (and shown by `tandem status`).
    pub fn as_str(self) -> &'static str {
        match self {
            MigrationStatus::InProgress => "in_progress",
            MigrationStatus::Complete => "complete",
            MigrationStatus::RolledBack => "rolled_back",
        }
    }

    fn parse(text: &str) -> Option<MigrationStatus> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

impl fmt::Display for MigrationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// The phase stored in the state table. Anything else is an error: guessing `start` would run
/// steps of the wrong phase.
fn parse_phase(text: &str, migration: &str) -> Result<Phase> {
    [Phase::Start, Phase::Complete, Phase::Rollback]
        .into_iter()
        .find(|p| p.as_str() == text)
        .ok_or_else(|| unreadable(migration, "phase", text))
}

/// A value in the state table this tandem does not know: written by another tandem version
/// (or by hand), never to be guessed at.
fn unreadable(migration: &str, field: &str, text: &str) -> Error {
    Error::usage(
        format!("tandem.migrations records an unknown {field} `{text}` for migration `{migration}`"),
        "this state was written by another tandem version (or changed by hand); finish the migration with that version",
    )
}

/// Creates the state schema when it is missing. Callers hold the runner lock, so two tandem
/// processes never race on it.
pub(crate) async fn ensure(client: &impl GenericClient) -> Result<()> {
    client
        .batch_execute(CREATE_STATE)
        .await
        .map_err(|e| Error::db("creating tandem's state schema", e))
}

pub(crate) async fn exists(client: &impl GenericClient) -> Result<bool> {
    crate::catalog::schema_exists(client, STATE_SCHEMA).await
}

/// One migration as the history records it.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    pub schema: String,
    pub name: String,
    pub checksum: String,
    pub parent: Option<String>,
    pub status: MigrationStatus,
    pub version_schema: String,
    pub phase: Phase,
    pub steps_done: i32,
    /// How many start steps had run when the migration left the start phase.
    pub start_done: i32,
    pub started_at: String,
    pub completed_at: Option<String>,
    pub rolled_back_at: Option<String>,
    #[serde(skip)]
    pub(crate) plan: serde_json::Value,
}

impl Record {
    /// The plan stored when the migration started.
    pub fn plan(&self) -> Result<Plan> {
        serde_json::from_value(self.plan.clone()).map_err(|e| {
            Error::usage(
                format!(
                    "the stored plan of migration {} cannot be read: {e}",
                    self.name
                ),
                "this state was written by another tandem version; finish it with that version",
            )
        })
    }
}

const SELECT: &str = "SELECT schema, name, checksum, parent, status, version_schema, phase, steps_done, \
    to_char(started_at, 'YYYY-MM-DD\"T\"HH24:MI:SS.MSOF'), to_char(completed_at, 'YYYY-MM-DD\"T\"HH24:MI:SS.MSOF'), \
    to_char(rolled_back_at, 'YYYY-MM-DD\"T\"HH24:MI:SS.MSOF'), plan, start_done FROM tandem.migrations";

fn record(row: &tokio_postgres::Row) -> Result<Record> {
    let what = "reading tandem's history";
    let name: String = column(row, 1, what)?;
    let status: String = column(row, 4, what)?;
    let phase: String = column(row, 6, what)?;
    Ok(Record {
        schema: column(row, 0, what)?,
        checksum: column(row, 2, what)?,
        parent: column(row, 3, what)?,
        status: MigrationStatus::parse(&status)
            .ok_or_else(|| unreadable(&name, "status", &status))?,
        version_schema: column(row, 5, what)?,
        phase: parse_phase(&phase, &name)?,
        steps_done: column(row, 7, what)?,
        started_at: column(row, 8, what)?,
        completed_at: column(row, 9, what)?,
        rolled_back_at: column(row, 10, what)?,
        plan: column(row, 11, what)?,
        start_done: column(row, 12, what)?,
        name,
    })
}

async fn query(client: &impl GenericClient, sql: String, schema: &str) -> Result<Vec<Record>> {
    let rows = client
        .query(sql.as_str(), &[&schema])
        .await
        .map_err(|e| Error::db("reading tandem's history", e))?;
    rows.iter().map(record).collect()
}

/// The migration in progress on `schema`, if any.
pub(crate) async fn active(client: &impl GenericClient, schema: &str) -> Result<Option<Record>> {
    Ok(query(
        client,
        format!("{SELECT} WHERE schema = $1 AND status = 'in_progress'"),
        schema,
    )
    .await?
    .into_iter()
    .next())
}

/// The newest migration that is in progress or complete.
pub(crate) async fn latest(client: &impl GenericClient, schema: &str) -> Result<Option<Record>> {
    Ok(query(
        client,
        format!("{SELECT} WHERE schema = $1 AND status <> 'rolled_back' ORDER BY started_at DESC, name DESC LIMIT 1"),
        schema,
    )
    .await?
    .into_iter()
    .next())
}

/// The newest complete migration: its version schema is what old clients use.
pub(crate) async fn latest_complete(
    client: &impl GenericClient,
    schema: &str,
) -> Result<Option<Record>> {
    Ok(query(
        client,
        format!("{SELECT} WHERE schema = $1 AND status = 'complete' ORDER BY completed_at DESC, name DESC LIMIT 1"),
        schema,
    )
    .await?
    .into_iter()
    .next())
}

pub(crate) async fn find(
    client: &impl GenericClient,
    schema: &str,
    name: &str,
) -> Result<Option<Record>> {
    let rows = client
        .query(
            format!("{SELECT} WHERE schema = $1 AND name = $2").as_str(),
            &[&schema, &name],
        )
        .await
        .map_err(|e| Error::db("reading tandem's history", e))?;
    rows.iter().map(record).next().transpose()
}

/// Every migration of `schema`, oldest first.
pub(crate) async fn history(client: &impl GenericClient, schema: &str) -> Result<Vec<Record>> {
    query(
        client,
        format!("{SELECT} WHERE schema = $1 ORDER BY started_at, name"),
        schema,
    )
    .await
}

pub(crate) struct NewMigration<'a> {
    pub schema: &'a str,
    pub name: &'a str,
    pub checksum: &'a str,
    pub parent: Option<&'a str>,
    pub version_schema: &'a str,
    pub migration: serde_json::Value,
    pub plan: serde_json::Value,
}

/// Records a migration as started (a rolled-back one of the same name is replaced).
pub(crate) async fn insert(client: &impl GenericClient, m: NewMigration<'_>) -> Result<()> {
    // A migration started again after a rollback begins afresh: no old checkpoints.
    for sql in [
        "DELETE FROM tandem.migrations WHERE schema = $1 AND name = $2 AND status = 'rolled_back'",
        "DELETE FROM tandem.backfills WHERE schema = $1 AND migration = $2",
    ] {
        client
            .execute(sql, &[&m.schema, &m.name])
            .await
            .map_err(|e| Error::db("recording the migration", e))?;
    }
    client
        .execute(
            "INSERT INTO tandem.migrations (schema, name, checksum, parent, status, version_schema, migration, plan, phase) \
             VALUES ($1, $2, $3, $4, 'in_progress', $5, $6, $7, 'start')",
            &[&m.schema, &m.name, &m.checksum, &m.parent, &m.version_schema, &m.migration, &m.plan],
        )
        .await
        .map_err(|e| Error::db("recording the migration", e))?;
    Ok(())
}

/// Enters a phase (steps done back to 0) unless the record is already in it.
pub(crate) async fn enter_phase(
    client: &impl GenericClient,
    schema: &str,
    name: &str,
    phase: Phase,
) -> Result<()> {
    client
        .execute(
            "UPDATE tandem.migrations SET start_done = CASE WHEN phase = 'start' THEN steps_done ELSE start_done END, \
                    phase = $3, steps_done = 0, updated_at = now() \
             WHERE schema = $1 AND name = $2 AND phase <> $3",
            &[&schema, &name, &phase.as_str()],
        )
        .await
        .map_err(|e| Error::db("recording the phase", e))?;
    Ok(())
}

/// Records that `done` steps of the current phase are done; run inside the step's transaction
/// so a step and its record commit together.
pub(crate) async fn set_steps_done(
    client: &impl GenericClient,
    schema: &str,
    name: &str,
    done: i32,
) -> Result<()> {
    client
        .execute(
            "UPDATE tandem.migrations SET steps_done = $3, updated_at = now() WHERE schema = $1 AND name = $2",
            &[&schema, &name, &done],
        )
        .await
        .map_err(|e| Error::db("recording progress", e))?;
    Ok(())
}

pub(crate) async fn finish(
    client: &impl GenericClient,
    schema: &str,
    name: &str,
    phase: Phase,
) -> Result<()> {
    let sql = match phase {
        Phase::Complete => "UPDATE tandem.migrations SET status = 'complete', completed_at = now(), updated_at = now() WHERE schema = $1 AND name = $2",
        Phase::Rollback => {
            client
                .execute("DELETE FROM tandem.backfills WHERE schema = $1 AND migration = $2", &[&schema, &name])
                .await
                .map_err(|e| Error::db("clearing the backfill checkpoints", e))?;
            "UPDATE tandem.migrations SET status = 'rolled_back', rolled_back_at = now(), updated_at = now() WHERE schema = $1 AND name = $2"
        }
        Phase::Start => return Ok(()),
    };
    client
        .execute(sql, &[&schema, &name])
        .await
        .map_err(|e| Error::db("recording the end of the phase", e))?;
    Ok(())
}
