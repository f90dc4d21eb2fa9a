//! `add_column`: a new column, written by the new version; the old version never sees it.
//!
//! On an existing table the column is added without a table rewrite: CHECK and FOREIGN KEY are
//! added NOT VALID and validated at complete, UNIQUE is an index built CONCURRENTLY and attached
//! at complete. A NOT NULL column needs a constant default (or `up`, a backfill).

use super::column::{column_definition, references_clause, ColumnDef};
use super::create_index::{refuse_not_valid_foreign_key, refuse_unique_constraint};
use super::lifecycle::{check_identifier, default_key, PlanContext, Plannable};
use super::lookup;
use crate::ddl::{self, IndexBuild, IndexConstraint};
use crate::error::OpError;
use crate::expressions::{new_value, old_value, rewrite_logical};
use crate::locks::LockMode;
use crate::names::unique_key_name;
use crate::plan::{lock, OperationSteps, Step};
use crate::quote::qualified;
use crate::schema::{Column, NewCheck, NewColumn, Schema, SyncColumn};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddColumn {
    pub table: String,
    pub column: ColumnDef,
    /// SQL expression giving existing rows their value (a backfill).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub up: Option<String>,
}

impl Plannable for AddColumn {
    fn plan(&self, ctx: &PlanContext, schema: &mut Schema) -> Result<OperationSteps, OpError> {
        let col = &self.column;
        check_identifier("column", &col.name)?;
        let table = lookup::table(schema, &self.table)?;
        if table.physical_column_taken(&col.name) {
            return Err(OpError::new(
                format!("table `{}` already has a column `{}`", self.table, col.name),
                "choose another column name",
            ));
        }
        if col.pk {
            return Err(OpError::new(
                format!("add_column `{}.{}` with `pk: true` would build the primary key index under lock", self.table, col.name),
                "add the column, then create the key with create_constraint (type: primary_key) which builds its index CONCURRENTLY",
            ));
        }
        let physical_table = table.physical.clone();
        let fresh = table.created_here;
        let what = format!("add_column `{}.{}`", self.table, col.name);
        if !fresh && col.unique {
            refuse_unique_constraint(table, &what)?;
        }
        if !fresh && col.references.is_some() {
            refuse_not_valid_foreign_key(ctx, table, &what)?;
        }
        let q_table = qualified(&ctx.schema, &physical_table);
        if !fresh && self.up.is_some() {
            return self.plan_with_up(ctx, schema);
        }
        if !fresh {
            if !col.is_nullable() && col.default.is_none() && !col.is_generated() {
                return Err(OpError::new(
                    format!("column `{}.{}` is NOT NULL without a default: existing rows would have no value", self.table, col.name),
                    "add `default: <constant>`, or `nullable: true`, or an `up` expression to backfill existing rows",
                ));
            }
            if let Some(d) = &col.default {
                if ctx
                    .volatile_defaults
                    .contains(&default_key(&col.data_type, d))
                {
                    return Err(OpError::new(
                        format!("the default `{d}` of `{}.{}` is volatile: adding the column would rewrite the whole table under an ACCESS EXCLUSIVE lock", self.table, col.name),
                        "use a constant default, or add the column without a default and fill it with `up` (a batched backfill)",
                    ));
                }
            }
            if col.is_generated() {
                return Err(OpError::new(
                    format!("adding the generated or identity column `{}.{}` rewrites the whole table under an ACCESS EXCLUSIVE lock", self.table, col.name),
                    "add a plain column and fill it with `up` (a batched backfill) instead",
                ));
            }
        }
        let mut col = col.clone();
        let mut locks = vec![lock(
            &ctx.schema,
            &physical_table,
            LockMode::AccessExclusive,
        )];
        if let Some(fk) = &mut col.references {
            let target = lookup::table(schema, &fk.table)?;
            let target_col = lookup::column(target, &fk.column)?;
            fk.column = target_col.physical.clone();
            fk.table = target.physical.clone();
            locks.push(lock(&ctx.schema, &fk.table, LockMode::ShareRowExclusive));
        }

        let mut start_statements = vec![format!(
            "ALTER TABLE {q_table} ADD COLUMN {}",
            column_definition(&ctx.schema, &col, fresh)?
        )];
        let mut complete = Vec::new();
        let mut start_extra = Vec::new();
        if !fresh {
            if let Some(check) = &col.check {
                check_identifier("constraint", &check.name)?;
                start_statements.push(ddl::add_check_not_valid(
                    &q_table,
                    &check.name,
                    &check.constraint,
                    check.no_inherit,
                ));
                complete.push(ddl::validate_step(
                    &ctx.schema,
                    &physical_table,
                    &check.name,
                    None,
                ));
            }
            if let Some(fk) = &col.references {
                check_identifier("constraint", &fk.name)?;
                let references = references_clause(
                    &ctx.schema,
                    &fk.table,
                    std::slice::from_ref(&fk.column),
                    &fk.on_delete,
                    &fk.on_update,
                    &fk.match_type,
                    fk.deferrable,
                    fk.initially_deferred,
                )?;
                start_statements.push(ddl::add_foreign_key_not_valid(
                    &q_table,
                    &fk.name,
                    std::slice::from_ref(&col.name),
                    &references,
                ));
                complete.push(ddl::validate_step(
                    &ctx.schema,
                    &physical_table,
                    &fk.name,
                    Some(&fk.table),
                ));
            }
            if col.unique {
                let name = unique_key_name(&physical_table, &col.name);
                check_identifier("index", &name)?;
                start_extra.push(ddl::build_index_step(
                    format!("build the unique index {name} without blocking writes"),
                    &ctx.schema,
                    &physical_table,
                    &IndexBuild {
                        name: &name,
                        unique: true,
                        elements: IndexBuild::columns(std::slice::from_ref(&col.name)),
                        ..IndexBuild::default()
                    },
                ));
                complete.push(ddl::attach_index_step(
                    format!("attach the unique index {name} as a constraint"),
                    &ctx.schema,
                    &physical_table,
                    &name,
                    IndexConstraint::Unique,
                    &name,
                ));
            }
        }
        if let Some(comment) = &col.comment {
            start_statements.push(ddl::comment_on_column(&q_table, &col.name, comment));
        }

        let table = lookup::table_mut(schema, &self.table)?;
        table.columns.push(col.logical_column());
        table
            .constraints
            .extend(col.logical_constraints(&physical_table));

        let mut start = vec![Step::sql(
            format!("add column {}.{}", self.table, col.name),
            start_statements,
            locks,
        )];
        start.extend(start_extra);
        Ok(OperationSteps {
            start,
            complete,
            rollback: vec![ddl::drop_new_column_step(
                &self.table,
                &ctx.schema,
                &physical_table,
                &col.name,
            )],
            ..OperationSteps::default()
        })
    }
}

impl AddColumn {
    /// With `up`: the column is filled for existing rows by the backfill and, for rows the old
    /// version writes, by the dual-write trigger. Added without a default (a volatile default
    /// would rewrite the table), which is then set for new rows only.
    fn plan_with_up(
        &self,
        _ctx: &PlanContext,
        schema: &mut Schema,
    ) -> Result<OperationSteps, OpError> {
        let col = &self.column;
        if col.is_generated() {
            return Err(OpError::new(
                format!(
                    "add_column `{}.{}`: a generated or identity column cannot have `up`",
                    self.table, col.name
                ),
                "remove `up`, or make it a plain column",
            ));
        }
        let snapshot = schema.clone();
        let table = lookup::table(&snapshot, &self.table)?;
        let up_source = self.up.clone().unwrap_or_default();
        let up = rewrite_logical("up", &up_source, &snapshot, table, |c| old_value(table, c))?;
        let mut spec = NewColumn {
            data_type: col.data_type.clone(),
            default: col.default.clone(),
            not_null: !col.is_nullable(),
            comment: col.comment.clone(),
            ..NewColumn::default()
        };
        // The table as the new version sees it, with the column: checks may use it.
        let mut with_column = table.clone();
        with_column.columns.push(Column {
            name: col.name.clone(),
            physical: col.name.clone(),
            ..Column::default()
        });
        if let Some(check) = &col.check {
            check_identifier("constraint", &check.name)?;
            spec.checks.push(NewCheck {
                name: check.name.clone(),
                final_name: check.name.clone(),
                no_inherit: check.no_inherit,
                expression: rewrite_logical(
                    "check",
                    &check.constraint,
                    &snapshot,
                    &with_column,
                    new_value,
                )?,
            });
        }
        if let Some(fk) = &col.references {
            spec.foreign_keys.push(fk.resolve(&snapshot)?);
        }
        if col.unique {
            let name = unique_key_name(&table.physical, &col.name);
            check_identifier("constraint", &name)?;
            spec.unique.push(name);
        }
        let t = lookup::table_mut(schema, &self.table)?;
        t.columns.push(col.logical_column());
        t.sync.push(SyncColumn {
            old_physical: None,
            new_physical: Some(col.name.clone()),
            up: Some(up),
            down: None,
            new_column: Some(spec),
        });
        Ok(OperationSteps::default())
    }
}
