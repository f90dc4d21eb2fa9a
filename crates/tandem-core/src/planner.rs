//! Compiles a migration into a plan against the logical schema, validating every operation
//! on the way. Pure: the schema and the facts about the server come in as values.

use crate::ddl;
use crate::migration::Migration;
use crate::operations::{check_identifier, Operation, PlanContext};
use crate::plan::{Action, Plan, Step};
use crate::quote::ident;
use crate::schema::Schema;
use crate::sync::{self, TableSteps, Versions};
use crate::versions::{default_version_schema_name, views_of, VersionSchema};

/// Why a migration cannot be planned: which operation, where in the file, what to do.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}{}: {}{message}", line.map(|l| format!(":{l}")).unwrap_or_default(), operation.as_ref().map(|(i, k)| format!("operation {} ({k}): ", i + 1)).unwrap_or_default())]
pub struct PlanError {
    pub file: String,
    pub line: Option<usize>,
    /// Index and kind of the operation at fault, if one is.
    pub operation: Option<(usize, String)>,
    pub message: String,
    pub help: String,
}

/// The plan and the logical schema the new version will see.
#[derive(Debug, Clone)]
pub struct Planned {
    pub plan: Plan,
    pub new_schema: Schema,
    /// Every SQL expression the plan will evaluate per row, to be checked by the server
    /// before anything runs.
    pub probes: Vec<Probe>,
}

/// An expression over a table's physical columns (existing ones and those start adds).
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    /// What it is, for the error message: "`up` of items.price".
    pub what: String,
    pub table: String,
    /// Columns start adds to the table: (name, type).
    pub new_columns: Vec<(String, String)>,
    pub expression: String,
    pub kind: ProbeKind,
}

/// What the expression is, which says how it is checked (in the shape of its real use).
#[derive(Debug, Clone, PartialEq)]
pub enum ProbeKind {
    /// `up`: assigned to this new column (`UPDATE ... SET column = expression`).
    Up(String),
    /// `down`: assigned to this old column for rows the new version writes.
    Down(String),
    /// A boolean condition (a CHECK).
    Condition,
    /// The default of this column.
    Default(String),
}

impl ProbeKind {
    /// Whether a failed check refuses the migration. A bad `down` only matters once the new
    /// version writes, and pgroll's own examples carry one, so it is a warning instead.
    pub fn must_hold(&self) -> bool {
        !matches!(self, ProbeKind::Down(_))
    }
}

/// Plans `migration` against `schema` (the schema as the previous version sees it).
pub fn plan_migration(
    migration: &Migration,
    schema: &Schema,
    ctx: &PlanContext,
    previous_version_schema: Option<String>,
) -> Result<Planned, PlanError> {
    let whole = |message: String, help: &str| PlanError {
        file: migration.file.clone(),
        line: None,
        operation: None,
        message,
        help: help.to_string(),
    };
    let version_schema = migration
        .version_schema
        .clone()
        .unwrap_or_else(|| default_version_schema_name(&ctx.schema, &migration.name));
    check_identifier("version schema", &version_schema).map_err(|e| {
        whole(
            e.message,
            "set a shorter `version_schema:` in the migration file, or shorten the file name",
        )
    })?;
    if version_schema == ctx.schema || Some(&version_schema) == previous_version_schema.as_ref() {
        return Err(whole(
            format!("the version schema `{version_schema}` is already in use"),
            "set another `version_schema:` in the migration file",
        ));
    }
    if migration.operations.len() > 1 {
        if let Some(i) = migration.operations.iter().position(Operation::is_isolated) {
            return Err(PlanError {
                file: migration.file.clone(),
                line: migration.line_of(i),
                operation: Some((i, "sql".into())),
                message: "a sql operation that runs at start must be the only operation of its migration".into(),
                help: "move it to a migration file of its own, or set `onComplete: true` to run it at complete".into(),
            });
        }
    }

    let mut logical = schema.clone();
    let mut start = Vec::new();
    let mut after_backfill = Vec::new();
    let mut complete = Vec::new();
    let mut contract = Vec::new();
    let mut finalize = Vec::new();
    let mut rollbacks = Vec::new();
    for (i, op) in migration.operations.iter().enumerate() {
        let steps = op
            .planner()
            .plan(ctx, &mut logical)
            .map_err(|e| PlanError {
                file: migration.file.clone(),
                line: migration.line_of(i),
                operation: Some((i, op.kind().to_string())),
                message: e.message,
                help: e.help,
            })?;
        start.extend(steps.start);
        let reached = start.len();
        after_backfill.extend(steps.after_backfill);
        complete.extend(steps.complete);
        contract.extend(steps.contract);
        finalize.extend(steps.finalize);
        // A rollback step of an operation runs only if the operation's start steps ran: raw SQL
        // `down` is not idempotent, and the others are guarded by IF EXISTS anyway.
        rollbacks.push(
            steps
                .rollback
                .into_iter()
                .map(|mut s| {
                    if op.is_isolated() {
                        s.needs_start_steps = Some(reached);
                    }
                    s
                })
                .collect::<Vec<_>>(),
        );
    }

    // Dual-write triggers, backfills and verification, per table with synced columns.
    let versions = Versions {
        schema: &ctx.schema,
        new: &version_schema,
        previous: previous_version_schema.as_deref(),
    };
    let mut generated = Vec::new();
    for table in &logical.tables {
        generated.push(
            sync::generate(&logical, table, &versions).map_err(|e| whole(e.message, &e.help))?,
        );
    }
    check_limits(schema, &logical).map_err(|m| {
        whole(
            m,
            "PostgreSQL refuses this at start; split the table or the index, or drop columns first (a table's dropped columns count too until it is rewritten)",
        )
    })?;
    let probes = probes_of(&logical);
    let mut gen = TableSteps::default();
    for g in generated {
        gen.start.extend(g.start);
        gen.backfill.extend(g.backfill);
        gen.verify.extend(g.verify);
        gen.after_backfill.extend(g.after_backfill);
        gen.complete.extend(g.complete);
        gen.teardown.extend(g.teardown);
        gen.contract.extend(g.contract);
        gen.finalize.extend(g.finalize);
        gen.rollback_first.extend(g.rollback_first);
        gen.rollback.extend(g.rollback);
    }
    start.extend(gen.start);
    start.extend(gen.backfill);
    start.extend(gen.verify);
    if !migration.verify.is_empty() {
        start.push(Step {
            description: format!(
                "run the migration's {} verify queries",
                migration.verify.len()
            ),
            action: Action::VerifyQueries {
                queries: verify_queries(migration)?,
            },
            locks: vec![],
            transactional: false,
            needs_start_steps: None,
        });
    }
    start.extend(after_backfill);
    start.extend(gen.after_backfill);

    let raw_sql_at_start = migration.operations.iter().any(Operation::is_isolated);
    let raw_sql_at_complete = migration
        .operations
        .iter()
        .any(|o| matches!(o, Operation::Sql(s) if s.on_complete));
    let security_invoker = ctx.server_version_num >= 150000;
    let new_version = VersionSchema {
        name: version_schema.clone(),
        physical_schema: ctx.schema.clone(),
        views: (!raw_sql_at_start).then(|| views_of(&logical)),
        security_invoker,
    };
    start.push(Step {
        description: format!("create version schema {version_schema} (one view per table)"),
        action: Action::CreateVersionSchema(new_version.clone()),
        locks: vec![],
        transactional: true,
        needs_start_steps: None,
    });

    let mut complete_all = Vec::new();
    if let Some(prev) = &previous_version_schema {
        complete_all.push(Step::sql(
            format!("drop the previous version schema {prev}"),
            vec![format!("DROP SCHEMA IF EXISTS {} CASCADE", ident(prev))],
            vec![],
        ));
    }
    complete_all.extend(complete);
    complete_all.extend(gen.complete);
    complete_all.extend(gen.teardown);
    complete_all.extend(contract);
    complete_all.extend(gen.contract);
    complete_all.extend(rename_pass(ctx, &logical));
    complete_all.extend(gen.finalize);
    complete_all.extend(finalize);
    if raw_sql_at_complete {
        complete_all.push(Step {
            description: format!("regenerate version schema {version_schema} after the raw SQL"),
            action: Action::CreateVersionSchema(VersionSchema {
                views: None,
                ..new_version
            }),
            locks: vec![],
            transactional: true,
            needs_start_steps: None,
        });
    }

    let mut rollback = vec![Step::sql(
        format!("drop the new version schema {version_schema}"),
        vec![format!(
            "DROP SCHEMA IF EXISTS {} CASCADE",
            ident(&version_schema)
        )],
        vec![],
    )];
    rollback.extend(gen.rollback_first);
    rollback.extend(rollbacks.into_iter().rev().flatten());
    rollback.extend(gen.rollback);

    // After complete the physical names are the logical ones.
    let mut new_schema = logical;
    for t in &mut new_schema.tables {
        t.physical = t.name.clone();
        t.created_here = false;
        t.sync.clear();
        t.new_constraints.clear();
        for c in &mut t.columns {
            c.physical = c.name.clone();
        }
    }
    Ok(Planned {
        probes,
        plan: Plan {
            migration: migration.name.clone(),
            schema: ctx.schema.clone(),
            version_schema,
            previous_version_schema,
            start,
            complete: complete_all,
            rollback,
        },
        new_schema,
    })
}

/// At complete, gives every renamed column and table its new physical name: columns first
/// (their table still has its old name), then tables.
fn rename_pass(ctx: &PlanContext, logical: &Schema) -> Vec<Step> {
    let mut steps = Vec::new();
    for t in &logical.tables {
        let renames: Vec<(&str, &str)> = t
            .columns
            .iter()
            .filter(|c| c.name != c.physical)
            .map(|c| (c.physical.as_str(), c.name.as_str()))
            .collect();
        if !renames.is_empty() {
            steps.push(ddl::rename_columns_step(
                format!("rename the columns of {} to their new names", t.name),
                &ctx.schema,
                &t.physical,
                &renames,
            ));
        }
    }
    for t in logical.tables.iter().filter(|t| t.name != t.physical) {
        steps.push(ddl::rename_table_step(&ctx.schema, &t.physical, &t.name));
    }
    steps
}

/// PostgreSQL's most columns per table (`MaxHeapAttributeNumber`).
pub const MAX_COLUMNS_PER_TABLE: usize = 1600;
/// PostgreSQL's most key columns per index, unique, primary or foreign key (`INDEX_MAX_KEYS`).
pub const MAX_INDEX_COLUMNS: usize = 32;

/// PostgreSQL's limits that `start` would otherwise hit half way: the columns a table has at
/// its widest (its old columns, the new version's and tandem's helpers, all at once between
/// start and complete), and the columns of every index and key.
fn check_limits(live: &Schema, logical: &Schema) -> Result<(), String> {
    for t in &logical.tables {
        let mut physical: std::collections::BTreeSet<&str> =
            t.columns.iter().map(|c| c.physical.as_str()).collect();
        for s in &t.sync {
            physical.extend(s.old_physical.as_deref());
            physical.extend(s.new_physical.as_deref());
        }
        if let Some(before) = live.tables.iter().find(|l| l.physical == t.physical) {
            physical.extend(before.columns.iter().map(|c| c.physical.as_str()));
        }
        if physical.len() > MAX_COLUMNS_PER_TABLE {
            return Err(format!(
                "table `{}` would have {} columns between start and complete; PostgreSQL allows at most {MAX_COLUMNS_PER_TABLE}",
                t.name,
                physical.len()
            ));
        }
        let keyed = t
            .indexes
            .iter()
            .map(|i| ("index", &i.name, i.columns.len()))
            .chain(
                t.constraints
                    .iter()
                    .map(|c| ("constraint", &c.name, c.columns.len())),
            )
            .chain(
                t.new_constraints
                    .iter()
                    .map(|c| ("constraint", &c.name, c.columns.len())),
            );
        for (kind, name, n) in keyed {
            if n > MAX_INDEX_COLUMNS {
                return Err(format!(
                    "{kind} `{name}` of table `{}` has {n} columns; PostgreSQL allows at most {MAX_INDEX_COLUMNS} in an index or key",
                    t.name
                ));
            }
        }
    }
    Ok(())
}

/// The migration's `verify` queries, each parsed as one read-only query and re-rendered: the
/// rendering is what runs, never the file's text.
fn verify_queries(migration: &Migration) -> Result<Vec<String>, PlanError> {
    migration
        .verify
        .iter()
        .enumerate()
        .map(|(i, q)| {
            tandem_sql::parse_query(q)
                .map(|f| f.sql().to_owned())
                .map_err(|e| PlanError {
                    file: migration.file.clone(),
                    line: None,
                    operation: None,
                    message: format!("verify entry {}: {e}", i + 1),
                    help: "each `verify` entry is one SELECT returning the offending rows (no `;`, no data-modifying WITH, no FOR UPDATE)".into(),
                })
        })
        .collect()
}

/// The expressions of every synced column and new constraint, with what they need to be checked.
fn probes_of(schema: &Schema) -> Vec<Probe> {
    let mut out = Vec::new();
    // A table this migration creates does not exist to copy yet; it has no rows to compute.
    for t in schema
        .tables
        .iter()
        .filter(|t| !t.sync.is_empty() && !t.created_here)
    {
        let new_columns: Vec<(String, String)> = t
            .sync
            .iter()
            .filter_map(|s| {
                Some((
                    s.new_physical.clone()?,
                    s.new_column.as_ref()?.data_type.clone(),
                ))
            })
            .collect();
        let mut push = |what: String, expression: &str, kind: ProbeKind| {
            out.push(Probe {
                what,
                table: t.physical.clone(),
                new_columns: new_columns.clone(),
                expression: expression.to_string(),
                kind,
            })
        };
        for s in &t.sync {
            if let (Some(new), Some(up)) = (&s.new_physical, &s.up) {
                push(
                    format!("`up` of {}.{new}", t.name),
                    up,
                    ProbeKind::Up(new.clone()),
                );
            }
            if let (Some(old), Some(down)) = (&s.old_physical, &s.down) {
                push(
                    format!("`down` for {}.{old}", t.name),
                    down,
                    ProbeKind::Down(old.clone()),
                );
            }
            if let Some(spec) = &s.new_column {
                for c in &spec.checks {
                    push(
                        format!("check {}", c.final_name),
                        &c.expression,
                        ProbeKind::Condition,
                    );
                }
                if let (Some(d), Some(new)) = (&spec.default, &s.new_physical) {
                    push(
                        format!("the default of {}.{new}", t.name),
                        d,
                        ProbeKind::Default(new.clone()),
                    );
                }
            }
        }
        for c in t.new_constraints.iter().filter(|c| c.expression.is_some()) {
            push(
                format!("check {}", c.name),
                c.expression.as_deref().unwrap_or("true"),
                ProbeKind::Condition,
            );
        }
    }
    out
}
