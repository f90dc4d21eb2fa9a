//! A plan is data: every statement `start`, `complete` and `rollback` will run, with its lock.
//!
//! The executor in `tandem-pg` runs plans and knows nothing about renames or type changes;
//! `tandem plan` prints them; the state table records how many steps of each phase are done,
//! so a crashed run resumes at the first step not done.

use crate::locks::LockMode;
use crate::versions::VersionSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Start,
    Complete,
    Rollback,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Start => "start",
            Phase::Complete => "complete",
            Phase::Rollback => "rollback",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The lock a step takes on one relation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableLock {
    pub relation: Relation,
    pub mode: LockMode,
}

/// A table (or other relation) of the database: its schema and its name, both exact.
///
/// Displayed as `schema.name` for people; [`Relation::quoted`] is the form for SQL, so a
/// mixed-case or oddly named table is found (`to_regclass('"public"."Users"')`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Relation {
    pub schema: String,
    pub name: String,
}

impl Relation {
    pub fn new(schema: impl Into<String>, name: impl Into<String>) -> Relation {
        Relation {
            schema: schema.into(),
            name: name.into(),
        }
    }

    /// `"schema"."name"`, through the one quoting function.
    pub fn quoted(&self) -> String {
        crate::quote::qualified(&self.schema, &self.name)
    }
}

impl fmt::Display for Relation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.schema, self.name)
    }
}

/// Plans stored before relations were typed hold `"schema.name"`: read it at the first dot
/// (the schema tandem was given; it has no dot in practice), so a migration started by an
/// older tandem can still be completed or rolled back.
impl<'de> Deserialize<'de> for Relation {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Stored {
            Typed { schema: String, name: String },
            Display(String),
        }
        Ok(match Stored::deserialize(deserializer)? {
            Stored::Typed { schema, name } => Relation { schema, name },
            Stored::Display(text) => match text.split_once('.') {
                Some((schema, name)) => Relation::new(schema, name),
                None => Relation::new("", text),
            },
        })
    }
}

/// What a step does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Statements run in order (in one transaction when the step is transactional).
    Sql { statements: Vec<String> },
    /// (Re)create a version schema of views. Its views are generated when the step runs, from
    /// the live catalog and the mapping, so they reflect every change made before them.
    CreateVersionSchema(VersionSchema),
    /// Fill columns of existing rows in batches, each committed with its checkpoint.
    Backfill(Backfill),
    /// Check, in batches, that every row meets the conditions; fail with the first offenders.
    Verify(Verify),
    /// The migration's own verification queries: each must return no rows.
    VerifyQueries { queries: Vec<String> },
}

/// What a backfill computes: `SET column = expression, ...` for every existing row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Backfill {
    pub schema: String,
    /// The physical table.
    pub table: String,
    /// (physical column, SQL over physical columns).
    pub assignments: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verify {
    pub schema: String,
    pub table: String,
    pub checks: Vec<crate::schema::RowCheck>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub description: String,
    pub action: Action,
    pub locks: Vec<TableLock>,
    /// False for statements PostgreSQL refuses inside a transaction (CREATE INDEX CONCURRENTLY).
    /// Such steps must be safe to run again after a crash.
    pub transactional: bool,
    /// For rollback steps that undo a non-idempotent start step (raw SQL `down`): run only if
    /// at least this many start steps had run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub needs_start_steps: Option<usize>,
}

impl Step {
    pub fn sql(
        description: impl Into<String>,
        statements: Vec<String>,
        locks: Vec<TableLock>,
    ) -> Step {
        Step {
            description: description.into(),
            action: Action::Sql { statements },
            locks,
            transactional: true,
            needs_start_steps: None,
        }
    }

    /// A step that must run outside a transaction block.
    pub fn non_transactional(mut self) -> Step {
        self.transactional = false;
        self
    }

    /// The statements, for display (version schemas are rendered against the planned schema).
    pub fn statements(&self) -> Vec<String> {
        match &self.action {
            Action::Sql { statements } => statements.clone(),
            Action::CreateVersionSchema(v) => v.render_planned(),
            Action::Backfill(b) => vec![format!(
                "UPDATE {} SET {} WHERE <key range of one batch>  -- batches of about 100 ms, each committed with its checkpoint",
                crate::quote::qualified(&b.schema, &b.table),
                b.assignments
                    .iter()
                    .map(|(c, e)| format!("{} = {e}", crate::quote::ident(c)))
                    .collect::<Vec<_>>()
                    .join(", ")
            )],
            Action::Verify(v) => v
                .checks
                .iter()
                .map(|c| format!("-- every row of {}: {} ({})", v.table, c.description, c.condition))
                .collect(),
            Action::VerifyQueries { queries } => queries.iter().map(|q| format!("-- must return no rows: {q}")).collect(),
        }
    }
}

/// Every step of a migration, in the order they run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub migration: String,
    /// The physical schema, e.g. `public`.
    pub schema: String,
    /// The schema of views new clients use.
    pub version_schema: String,
    /// The version schema old clients use, dropped by complete (if there is one).
    pub previous_version_schema: Option<String>,
    pub start: Vec<Step>,
    pub complete: Vec<Step>,
    pub rollback: Vec<Step>,
}

impl Plan {
    pub fn steps(&self, phase: Phase) -> &[Step] {
        match phase {
            Phase::Start => &self.start,
            Phase::Complete => &self.complete,
            Phase::Rollback => &self.rollback,
        }
    }
}

/// What one operation adds to each phase.
///
/// The planner interleaves them with the steps it generates per table (dual-write triggers,
/// backfill, verification) in this order. Start: `start` of every operation, triggers,
/// backfills, verification, `after_backfill` (e.g. indexes built on backfilled columns), the
/// version schema. Complete: the previous version schema is dropped, `complete` (validations,
/// while the triggers still run), the triggers are dropped, `contract` (old columns and tables
/// dropped), the rename pass, `finalize` (what needs the final names).
#[derive(Debug, Default)]
pub struct OperationSteps {
    pub start: Vec<Step>,
    pub after_backfill: Vec<Step>,
    pub complete: Vec<Step>,
    pub contract: Vec<Step>,
    pub finalize: Vec<Step>,
    /// Undo steps in the order they must run; the planner runs the operations' rollbacks in
    /// reverse operation order. Each must be safe on a start that stopped half way
    /// (`IF EXISTS` guards), since rollback also undoes a crashed start.
    pub rollback: Vec<Step>,
}

/// A lock on a relation of the migrated schema.
pub fn lock(schema: &str, relation: &str, mode: LockMode) -> TableLock {
    TableLock {
        relation: Relation::new(schema, relation),
        mode,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relation_is_quoted_for_sql_and_plain_for_people() {
        let r = Relation::new("public", "Mixed Case");
        assert_eq!(r.quoted(), "\"public\".\"Mixed Case\"");
        assert_eq!(r.to_string(), "public.Mixed Case");
    }

    #[test]
    fn locks_of_plans_stored_by_older_versions_still_read() {
        let old: TableLock =
            serde_json::from_str(r#"{"relation":"public.Users","mode":"ACCESS_EXCLUSIVE"}"#)
                .unwrap();
        assert_eq!(old.relation, Relation::new("public", "Users"));
        let new = lock("s", "t.x", LockMode::RowShare);
        let json = serde_json::to_string(&new).unwrap();
        assert_eq!(serde_json::from_str::<TableLock>(&json).unwrap(), new);
    }
}
