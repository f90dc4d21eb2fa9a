//! Constraints create_constraint (or a carried-over foreign key) puts on the new columns,
//! possibly over several of them: CHECK and FOREIGN KEY added NOT VALID with the columns and
//! validated at complete, UNIQUE and PRIMARY KEY through an index built CONCURRENTLY after the
//! backfill and attached at complete.

use super::columns::build;
use super::parts::{StartParts, SyncedTable, TableSteps};
use crate::ddl::{self, IndexBuild, IndexConstraint, References};
use crate::keywords::DEFAULT_INDEX_METHOD;
use crate::locks::LockMode;
use crate::plan::lock;
use crate::quote::{ident, qualified};
use crate::schema::{ConstraintKind, NewTableConstraint, RowCheck};

/// Adds what constraint `c` needs to `parts` (the start step, verification) and `out`.
pub(super) fn add(
    t: &SyncedTable,
    c: &NewTableConstraint,
    parts: &mut StartParts,
    out: &mut TableSteps,
) {
    match c.kind {
        ConstraintKind::Check => {
            let expr = c.expression.clone().unwrap_or_else(|| "true".into());
            parts.statements.push(ddl::add_check_not_valid(
                &t.relation,
                &c.name,
                &expr,
                c.no_inherit,
            ));
            out.complete
                .push(ddl::validate_step(t.schema, t.physical, &c.name, None));
            parts.check_always(RowCheck {
                description: format!("check {}", c.name),
                condition: format!("({expr}) IS NOT FALSE"),
                if_immutable: None,
            });
        }
        ConstraintKind::ForeignKey => {
            let Some((target, target_columns, on_delete)) = &c.references else {
                return;
            };
            let references = ddl::references_clause(&References {
                schema: t.schema,
                table: target,
                columns: target_columns,
                on_delete: on_delete.as_deref(),
                on_update: c.on_update.as_deref(),
                match_type: c.match_type.as_deref(),
                ..References::default()
            });
            parts.statements.push(ddl::add_foreign_key_not_valid(
                &t.relation,
                &c.name,
                &c.columns,
                &references,
            ));
            parts
                .locks
                .push(lock(t.schema, target, LockMode::ShareRowExclusive));
            out.complete.push(ddl::validate_step(
                t.schema,
                t.physical,
                &c.name,
                Some(target),
            ));
            parts.check_always(RowCheck {
                description: format!("foreign key {}", c.final_name.as_ref().unwrap_or(&c.name)),
                condition: references_exist(t.schema, &c.columns, target, target_columns),
                if_immutable: None,
            });
            if let Some(final_name) = c.final_name.as_ref().filter(|f| **f != c.name) {
                out.finalize.push(ddl::constraint_name_back(
                    t.schema, t.name, &c.name, final_name,
                ));
            }
        }
        ConstraintKind::Unique | ConstraintKind::PrimaryKey => {
            out.after_backfill.push(build(
                t,
                &IndexBuild {
                    name: &c.name,
                    unique: true,
                    method: Some(DEFAULT_INDEX_METHOD),
                    elements: IndexBuild::columns(&c.columns),
                    nulls_not_distinct: c.nulls_not_distinct,
                    ..IndexBuild::default()
                },
            ));
            let (kind, what) = if c.kind == ConstraintKind::Unique {
                (IndexConstraint::Unique, "UNIQUE")
            } else {
                (IndexConstraint::PrimaryKey, "PRIMARY KEY")
            };
            out.finalize.push(ddl::attach_index_step(
                format!("attach the index {} as a {what} constraint", c.name),
                t.schema,
                t.name,
                &c.name,
                kind,
                &c.name,
            ));
        }
        _ => {}
    }
}

/// The row's key `columns` reference a row of `target` (MATCH SIMPLE, as the constraint: a key
/// with a NULL references nothing and passes).
fn references_exist(
    schema: &str,
    columns: &[String],
    target: &str,
    target_columns: &[String],
) -> String {
    let any_null = columns
        .iter()
        .map(|c| format!("_tandem_row.{} IS NULL", ident(c)))
        .collect::<Vec<_>>()
        .join(" OR ");
    let matches = columns
        .iter()
        .zip(target_columns)
        .map(|(c, r)| format!("_tandem_ref.{} = _tandem_row.{}", ident(r), ident(c)))
        .collect::<Vec<_>>()
        .join(" AND ");
    format!(
        "{any_null} OR EXISTS (SELECT 1 FROM {} AS _tandem_ref WHERE {matches})",
        qualified(schema, target)
    )
}
