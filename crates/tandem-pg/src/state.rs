//! tandem's own state: the `tandem` schema with the history of migrations and their progress.

use crate::error::{Error, Result};
use serde::Serialize;
use tandem_core::plan::Phase;
use tandem_core::Plan;
use tokio_postgres::GenericClient;

/// The schema holding tandem's state.
pub const STATE_SCHEMA: &str = "tandem";

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

/// Creates the state schema when it is missing. Callers hold the runner lock, so two tandem
/// processes never race on it.
pub async fn ensure(client: &impl GenericClient) -> Result<()> {
    client
        .batch_execute(CREATE_STATE)
        .await
        .map_err(|e| Error::db("creating tandem's state schema", e))
}

pub async fn exists(client: &impl GenericClient) -> Result<bool> {
    crate::catalog::schema_exists(client, STATE_SCHEMA).await
}

/// One migration as the history records it.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    pub schema: String,
    pub name: String,
    pub checksum: String,
    pub parent: Option<String>,
    pub status: String,
    pub version_schema: String,
    pub phase: String,
    pub steps_done: i32,
    /// How many start steps had run when the migration left the start phase.
    pub start_done: i32,
    pub started_at: String,
    pub completed_at: Option<String>,
    pub rolled_back_at: Option<String>,
    #[serde(skip)]
    pub plan: serde_json::Value,
}

impl Record {
    pub fn phase(&self) -> Phase {
        match self.phase.as_str() {
            "complete" => Phase::Complete,
            "rollback" => Phase::Rollback,
            _ => Phase::Start,
        }
    }

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

fn record(row: &tokio_postgres::Row) -> Record {
    Record {
        schema: row.get(0),
        name: row.get(1),
        checksum: row.get(2),
        parent: row.get(3),
        status: row.get(4),
        version_schema: row.get(5),
        phase: row.get(6),
        steps_done: row.get(7),
        started_at: row.get(8),
        completed_at: row.get(9),
        rolled_back_at: row.get(10),
        plan: row.get(11),
        start_done: row.get(12),
    }
}

async fn query(client: &impl GenericClient, sql: String, schema: &str) -> Result<Vec<Record>> {
    let rows = client
        .query(sql.as_str(), &[&schema])
        .await
        .map_err(|e| Error::db("reading tandem's history", e))?;
    Ok(rows.iter().map(record).collect())
}

/// The migration in progress on `schema`, if any.
pub async fn active(client: &impl GenericClient, schema: &str) -> Result<Option<Record>> {
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
pub async fn latest(client: &impl GenericClient, schema: &str) -> Result<Option<Record>> {
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
pub async fn latest_complete(client: &impl GenericClient, schema: &str) -> Result<Option<Record>> {
    Ok(query(
        client,
        format!("{SELECT} WHERE schema = $1 AND status = 'complete' ORDER BY completed_at DESC, name DESC LIMIT 1"),
        schema,
    )
    .await?
    .into_iter()
    .next())
}

pub async fn find(client: &impl GenericClient, schema: &str, name: &str) -> Result<Option<Record>> {
    let rows = client
        .query(
            format!("{SELECT} WHERE schema = $1 AND name = $2").as_str(),
            &[&schema, &name],
        )
        .await
        .map_err(|e| Error::db("reading tandem's history", e))?;
    Ok(rows.iter().map(record).next())
}

/// Every migration of `schema`, oldest first.
pub async fn history(client: &impl GenericClient, schema: &str) -> Result<Vec<Record>> {
    query(
        client,
        format!("{SELECT} WHERE schema = $1 ORDER BY started_at, name"),
        schema,
    )
    .await
}

pub struct NewMigration<'a> {
    pub schema: &'a str,
    pub name: &'a str,
    pub checksum: &'a str,
    pub parent: Option<&'a str>,
    pub version_schema: &'a str,
    pub migration: serde_json::Value,
    pub plan: serde_json::Value,
}

/// Records a migration as started (a rolled-back one of the same name is replaced).
pub async fn insert(client: &impl GenericClient, m: NewMigration<'_>) -> Result<()> {
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
pub async fn enter_phase(
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
pub async fn set_steps_done(
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

pub async fn finish(
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
