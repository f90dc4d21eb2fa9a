//! Per table, everything that keeps the old and the new version's columns in sync: the new
//! columns and their NOT VALID constraints ([`columns`], [`constraints`]), the dual-write
//! trigger ([`trigger`]), the backfill and the verification ([`specs`]), the indexes built
//! after the backfill, and their contract and rollback.
//!
//! ## Which version wrote a row
//!
//! 1. An UPDATE that changes only old-version columns is the old version's; one that changes
//!    only new-version columns is the new version's. (Each version's view exposes only its own
//!    columns, so this is exact for writes through the views, and also right for UPDATEs that
//!    go straight to the table.)
//! 2. Otherwise (INSERTs, and UPDATEs that change neither or both sides) the session's
//!    effective search path decides, `current_schemas(false)`, which reflects `SET`,
//!    `SET LOCAL`, and role or database defaults: the write is the new version's when the new
//!    version schema comes before both the old version schema and the table's own schema
//!    (`SET search_path TO public_v2, public` is the new version; `public, public_v2` is not,
//!    since unqualified names then reach the table itself). Every other write is the old
//!    version's.

//!
//! ## Names in `up` and `down`
//!
//! Every expression tandem evaluates per row (the trigger function, the backfill's UPDATE, the
//! verification, and the server-side validation of the expressions) runs with the search path
//! [`expression_search_path`], whatever the writing session's own: see there for why.

mod columns;
mod constraints;
mod parts;
mod search_path;
mod specs;
mod trigger;

pub use search_path::expression_search_path;
pub use trigger::TRIGGER as DUAL_WRITE_TRIGGER;

use parts::{StartParts, SyncedTable};
pub(crate) use parts::{TableSteps, Versions};

use crate::error::OpError;
use crate::locks::LockMode;
use crate::names::temp_name;
use crate::plan::{lock, Step};
use crate::quote::qualified;
use crate::schema::{Schema, Table};

/// The steps for `table` (as the planner leaves it: logical names are final, physical names
/// are those at start).
pub(crate) fn generate(
    schema: &Schema,
    table: &Table,
    v: &Versions,
) -> Result<TableSteps, OpError> {
    let mut out = TableSteps::default();
    if table.sync.is_empty() {
        return Ok(out);
    }
    let t = SyncedTable {
        schema: v.schema,
        name: &table.name,
        physical: &table.physical,
        relation: qualified(v.schema, &table.physical),
        final_names: table
            .columns
            .iter()
            .filter(|c| c.physical != c.name)
            .map(|c| (c.physical.clone(), c.name.clone()))
            .collect(),
        partitions: crate::operations::partitions_of(table, &format!("table `{}`", table.name))?,
    };
    let function = qualified(v.schema, &temp_name("sync", &table.physical));
    let mut parts = StartParts {
        locks: vec![lock(t.schema, t.physical, LockMode::AccessExclusive)],
        ..StartParts::default()
    };
    for sync in &table.sync {
        columns::add(&t, sync, &mut parts, &mut out);
    }
    for c in &table.new_constraints {
        constraints::add(&t, c, &mut parts, &mut out);
    }
    // Types, defaults and CHECKs name things as `up` does: resolved under the same path the
    // validation used, not the one tandem's session happens to have (SET LOCAL: this step only).
    let mut statements = vec![format!(
        "SET LOCAL search_path TO {}",
        expression_search_path(v.schema)
    )];
    statements.extend(parts.add_columns);
    statements.extend(parts.statements);
    statements.extend(trigger::create(schema, table, v, &function)?);
    out.start.push(Step::sql(
        format!(
            "add the new version's columns of {} and the dual-write trigger",
            t.name
        ),
        statements,
        parts.locks,
    ));
    out.backfill.extend(specs::backfill(&t, parts.assignments));
    out.verify.extend(specs::verify(
        &t,
        parts.checks,
        format!("verify every row of {}", t.name),
    ));
    // First of complete: nothing permanent happens to a row that was not verified (a trigger of
    // the application added since start, or a write that slipped past the dual-write).
    if let Some(step) = specs::verify(
        &t,
        parts.complete_checks,
        format!("verify every row of {} again before complete", t.name),
    ) {
        out.complete.insert(0, step);
    }
    teardown_and_rollback(&t, &function, &mut out);
    Ok(out)
}

/// The trigger goes in the same transaction as the columns it fills: in between, a write
/// would meet a NOT NULL check (or an old NOT NULL column) that nothing fills any more. So the
/// contract steps (old columns) join the trigger's drop at complete, and the rollback steps
/// (new columns) join it at rollback.
fn teardown_and_rollback(t: &SyncedTable, function: &str, out: &mut TableSteps) {
    let drop_trigger = trigger::drop(&t.relation, function);
    let joined = |steps: Vec<Step>| {
        let mut statements = drop_trigger.clone();
        statements.extend(steps.into_iter().flat_map(|step| step.statements()));
        statements
    };
    out.teardown.push(Step::sql(
        format!(
            "drop the dual-write trigger of {} with the old columns",
            t.name
        ),
        joined(std::mem::take(&mut out.contract)),
        vec![lock(t.schema, t.physical, LockMode::AccessExclusive)],
    ));
    out.rollback_first.push(Step::sql(
        format!(
            "drop the dual-write trigger of {} with the new columns",
            t.name
        ),
        joined(std::mem::take(&mut out.rollback)),
        vec![lock(t.schema, t.physical, LockMode::AccessExclusive)],
    ));
}
