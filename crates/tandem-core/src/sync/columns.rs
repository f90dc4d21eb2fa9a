//! One synced column: the new column with its default, comment and constraints (NOT VALID,
//! validated at complete), the indexes rebuilt on it after the backfill, what the backfill
//! computes and the verification checks, and the drops of complete and rollback.

use super::parts::{StartParts, SyncedTable, TableSteps};
use crate::ddl::{self, IndexBuild, IndexConstraint, References};
use crate::keywords::DEFAULT_INDEX_METHOD;
use crate::locks::LockMode;
use crate::names::temp_name;
use crate::plan::{lock, Step};
use crate::quote::{ident, qualified};
use crate::schema::{NewColumn, RowCheck, SyncColumn};

/// Adds what `sync` needs to `parts` (the start step, backfill, verification) and `out`.
pub(super) fn add(
    t: &SyncedTable,
    sync: &SyncColumn,
    parts: &mut StartParts,
    out: &mut TableSteps,
) {
    let (Some(new), Some(spec)) = (&sync.new_physical, &sync.new_column) else {
        if let (Some(old), None) = (&sync.old_physical, &sync.new_physical) {
            // A dropped column whose `down` the trigger computes: dropped with the trigger.
            out.contract.push(Step::sql(
                format!("drop the column {}.{old}", t.name),
                vec![format!(
                    "ALTER TABLE {} DROP COLUMN IF EXISTS {}",
                    t.relation,
                    ident(old)
                )],
                vec![],
            ));
        }
        return;
    };
    let col = ident(new);
    let rel = &t.relation;
    parts.add_columns.push(format!(
        "ALTER TABLE {rel} ADD COLUMN {col} {}",
        spec.data_type
    ));
    if let Some(d) = &spec.default {
        // Set apart from ADD COLUMN: a volatile default there would rewrite the table.
        parts.statements.push(format!(
            "ALTER TABLE {rel} ALTER COLUMN {col} SET DEFAULT {d}"
        ));
    }
    if let Some(c) = &spec.comment {
        parts.statements.push(ddl::comment_on_column(rel, new, c));
    }
    if spec.not_null {
        not_null(t, new, parts, out);
    }
    checks(t, spec, parts, out);
    foreign_keys(t, new, spec, parts, out);
    indexes(t, new, spec, out);
    if let Some(up) = &sync.up {
        parts.assignments.push((new.clone(), up.clone()));
        if let Some(old) = &sync.old_physical {
            let up_holds = same_value(&col, up, &spec.data_type);
            parts.checks.push(RowCheck {
                description: format!("{new} equals `up` of the old column"),
                condition: up_holds.clone(),
                if_immutable: Some(up.clone()),
            });
            // By complete the new version has written rows too, and for those the trigger
            // computed the old column from the new (`down`), which need not give `up` back
            // (`up: lower(email)`, `down: email`). Each row must match the version that wrote
            // it: new = up(old), or old = down(new). Without `down` nothing can be said of
            // the new version's rows, so nothing is rechecked.
            if let Some(down) = &sync.down {
                let down_holds =
                    format!("({}::text IS NOT DISTINCT FROM ({down})::text)", ident(old));
                parts.complete_checks.push(RowCheck {
                    description: format!(
                        "{new} equals `up` of {old}, or {old} equals `down` of {new} (the row is consistent with the version that wrote it)"
                    ),
                    condition: format!("({up_holds}) OR {down_holds}"),
                    // Both expressions: an index accepts this only when both are immutable.
                    if_immutable: Some(format!("(({up}) IS NULL) AND (({down}) IS NULL)")),
                });
            }
        }
    }
    let mut after_drop = Vec::new();
    if let (Some(carried), Some(_)) = (&spec.sequence, &sync.old_physical) {
        let (before, after) = ddl::sequence_handoff(rel, new, &spec.data_type, carried);
        out.contract.push(Step::sql(
            format!(
                "hand sequence {} to {}.{new}",
                carried.sequence.name, t.name
            ),
            before,
            vec![lock(t.schema, t.physical, LockMode::AccessExclusive)],
        ));
        after_drop = after;
    }
    if let Some(old) = &sync.old_physical {
        out.contract.push(Step::sql(
            format!("drop the old column {}.{old}", t.name),
            vec![format!("ALTER TABLE {rel} DROP COLUMN {}", ident(old))],
            vec![lock(t.schema, t.physical, LockMode::AccessExclusive)],
        ));
    }
    if !after_drop.is_empty() {
        out.contract.push(Step::sql(
            format!("give {}.{new}'s sequence its old name", t.name),
            after_drop,
            vec![lock(t.schema, t.physical, LockMode::AccessExclusive)],
        ));
    }
    out.rollback
        .push(ddl::drop_new_column_step(t.name, t.schema, t.physical, new));
}

/// `column` holds exactly what `expression` gives, converted to the column's type: the binary
/// images compared (`*=`), which needs no equality operator of the type (json, xml, point, and
/// arrays, domains and composites of them have none) and takes two NULLs as equal.
fn same_value(column: &str, expression: &str, data_type: &str) -> String {
    format!("ROW({column})::record *= ROW(CAST(({expression}) AS {data_type}))::record")
}

/// NOT NULL without a scan under lock: a CHECK (`IS NOT NULL`) added NOT VALID, validated at
/// complete, then SET NOT NULL (which uses the validated CHECK) and the CHECK dropped.
fn not_null(t: &SyncedTable, new: &str, parts: &mut StartParts, out: &mut TableSteps) {
    let col = ident(new);
    let nn = temp_name("nn", new);
    parts.statements.push(ddl::add_check_not_valid(
        &t.relation,
        &nn,
        &format!("{col} IS NOT NULL"),
        false,
    ));
    out.complete
        .push(ddl::validate_step(t.schema, t.physical, &nn, None));
    out.contract.push(Step::sql(
        format!(
            "make {}.{} NOT NULL (its CHECK is validated, so no scan)",
            t.name, new
        ),
        vec![
            format!("ALTER TABLE {} ALTER COLUMN {col} SET NOT NULL", t.relation),
            format!("ALTER TABLE {} DROP CONSTRAINT {}", t.relation, ident(&nn)),
        ],
        vec![lock(t.schema, t.physical, LockMode::AccessExclusive)],
    ));
    parts.check_always(RowCheck {
        description: format!("{new} is not null"),
        condition: format!("{col} IS NOT NULL"),
        if_immutable: None,
    });
}

/// The column's CHECKs; a carried-over one takes its old name back at complete.
fn checks(t: &SyncedTable, spec: &NewColumn, parts: &mut StartParts, out: &mut TableSteps) {
    for c in &spec.checks {
        parts.statements.push(ddl::add_check_not_valid(
            &t.relation,
            &c.name,
            &c.expression,
            c.no_inherit,
        ));
        out.complete
            .push(ddl::validate_step(t.schema, t.physical, &c.name, None));
        if c.name != c.final_name {
            out.finalize.push(ddl::constraint_name_back(
                t.schema,
                t.name,
                &c.name,
                &c.final_name,
            ));
        }
        parts.check_always(RowCheck {
            description: format!("check {}", c.final_name),
            condition: format!("({}) IS NOT FALSE", c.expression),
            if_immutable: None,
        });
    }
}

/// The column's foreign keys (each over this one column).
fn foreign_keys(
    t: &SyncedTable,
    new: &str,
    spec: &NewColumn,
    parts: &mut StartParts,
    out: &mut TableSteps,
) {
    let col = ident(new);
    for fk in &spec.foreign_keys {
        let references = ddl::references_clause(&References {
            schema: t.schema,
            table: &fk.table,
            columns: std::slice::from_ref(&fk.column),
            on_delete: fk.on_delete.as_deref(),
            on_update: fk.on_update.as_deref(),
            match_type: fk.match_type.as_deref(),
            deferrable: fk.deferrable,
            initially_deferred: fk.initially_deferred,
        });
        parts.statements.push(ddl::add_foreign_key_not_valid(
            &t.relation,
            &fk.name,
            &[new.to_string()],
            &references,
        ));
        parts
            .locks
            .push(lock(t.schema, &fk.table, LockMode::ShareRowExclusive));
        out.complete.push(ddl::validate_step(
            t.schema,
            t.physical,
            &fk.name,
            Some(&fk.table),
        ));
        parts.check_always(RowCheck {
            description: format!("foreign key {}", fk.name),
            condition: format!(
                "_tandem_row.{col} IS NULL OR EXISTS (SELECT 1 FROM {} AS _tandem_ref WHERE _tandem_ref.{} = _tandem_row.{col})",
                qualified(t.schema, &fk.table),
                ident(&fk.column)
            ),
            if_immutable: None,
        });
    }
}

/// New UNIQUE constraints and carried-over indexes: built CONCURRENTLY after the backfill,
/// attached (or given their old names back) at complete.
fn indexes(t: &SyncedTable, new: &str, spec: &NewColumn, out: &mut TableSteps) {
    for name in &spec.unique {
        out.after_backfill.push(build(
            t,
            &IndexBuild {
                name,
                unique: true,
                method: Some(DEFAULT_INDEX_METHOD),
                elements: IndexBuild::columns(&[new.to_string()]),
                ..IndexBuild::default()
            },
        ));
        out.finalize
            .extend(index_column_names_back(t, name, &[new.to_string()]));
        out.finalize.push(ddl::attach_index_step(
            format!("attach the unique index {name} as a constraint"),
            t.schema,
            t.name,
            name,
            IndexConstraint::Unique,
            name,
        ));
    }
    for ix in &spec.indexes {
        out.after_backfill.push(build(
            t,
            &IndexBuild {
                name: &ix.name,
                unique: ix.unique,
                method: Some(&ix.method),
                elements: IndexBuild::columns(&ix.columns),
                ..IndexBuild::default()
            },
        ));
        out.finalize
            .extend(index_column_names_back(t, &ix.name, &ix.columns));
        out.finalize.push(match &ix.constraint {
            Some(constraint) => ddl::attach_index_step(
                format!("attach index {} as constraint {constraint}", ix.name),
                t.schema,
                t.name,
                constraint,
                IndexConstraint::Unique,
                &ix.name,
            ),
            None => ddl::index_name_back(t.schema, t.name, &ix.name, &ix.final_name),
        });
    }
}

/// An index keeps the names its columns had when it was built (PostgreSQL does not follow a
/// column's rename into its indexes): those built on helper columns take the final names.
fn index_column_names_back(t: &SyncedTable, index: &str, columns: &[String]) -> Option<Step> {
    let renames: Vec<(&str, &str)> = columns
        .iter()
        .filter_map(|c| Some((c.as_str(), t.final_names.get(c)?.as_str())))
        .collect();
    (!renames.is_empty())
        .then(|| ddl::index_column_names_back(t.schema, t.physical, index, &renames))
}

/// The step building an index of the synced table (per partition on a partitioned one).
pub(super) fn build(t: &SyncedTable, index: &IndexBuild) -> Step {
    let index = IndexBuild {
        partitions: t.partitions,
        ..index.clone()
    };
    ddl::build_index_step(
        format!("build index {} without blocking writes", index.name),
        t.schema,
        t.physical,
        &index,
    )
}
