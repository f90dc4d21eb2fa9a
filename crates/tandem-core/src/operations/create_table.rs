//! `create_table`: a new table, visible only to the new version until complete.

use super::column::{
    column_definition, is_false, references_clause, require_check, require_columns,
    require_references, ColumnDef, TableConstraintDef,
};
use super::lifecycle::{check_identifier, PlanContext, Plannable};
use super::lookup;
use crate::ddl::{self, deferrable_clause};
use crate::error::OpError;
use crate::keywords::INDEX_METHODS;
use crate::locks::LockMode;
use crate::plan::{lock, OperationSteps, Step};
use crate::quote::{ident, literal, qualified};
use crate::schema::{Constraint, ConstraintKind, Schema, Table};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTable {
    pub name: String,
    pub columns: Vec<ColumnDef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<TableConstraintDef>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub unlogged: bool,
}

impl Plannable for CreateTable {
    fn plan(&self, ctx: &PlanContext, schema: &mut Schema) -> Result<OperationSteps, OpError> {
        check_identifier("table", &self.name)?;
        if schema.name_taken(&self.name) {
            return Err(OpError::new(
                format!("a table or index named `{}` already exists", self.name),
                "choose another name, or drop the existing table first (drop_table)",
            ));
        }
        if self.columns.is_empty() {
            return Err(OpError::new(
                format!("table `{}` has no columns", self.name),
                "list its columns under `columns:`",
            ));
        }
        let mut table = Table {
            name: self.name.clone(),
            physical: self.name.clone(),
            created_here: true,
            ..Table::default()
        };
        let mut locks = vec![lock(&ctx.schema, &self.name, LockMode::AccessExclusive)];
        let mut definitions = Vec::new();
        for col in &self.columns {
            check_identifier("column", &col.name)?;
            if table.column(&col.name).is_some() {
                return Err(OpError::new(
                    format!(
                        "column `{}` appears twice in table `{}`",
                        col.name, self.name
                    ),
                    "give each column a distinct name",
                ));
            }
            let mut col = col.clone();
            if let Some(fk) = &mut col.references {
                let (target, target_col) =
                    resolve_reference(schema, &self.name, &table, &fk.table, &fk.column)?;
                if target != self.name {
                    locks.push(lock(&ctx.schema, &target, LockMode::ShareRowExclusive));
                }
                fk.table = target;
                fk.column = target_col;
            }
            definitions.push(column_definition(&ctx.schema, &col, true)?);
            if col.pk {
                table.primary_key.push(col.name.clone());
            }
            table
                .constraints
                .extend(col.logical_constraints(&self.name));
            table.columns.push(col.logical_column());
        }
        if !table.primary_key.is_empty() {
            if self.constraints.iter().any(|c| c.kind == "primary_key") {
                return Err(OpError::new(
                    format!(
                        "table `{}` has `pk: true` columns and a primary_key constraint",
                        self.name
                    ),
                    "declare the primary key one way only",
                ));
            }
            let cols = table
                .primary_key
                .iter()
                .map(|c| ident(c))
                .collect::<Vec<_>>()
                .join(", ");
            definitions.push(format!("PRIMARY KEY ({cols})"));
        }
        for c in &self.constraints {
            definitions.push(self.table_constraint(ctx, schema, &mut table, c, &mut locks)?);
        }
        let mut statements = vec![format!(
            "CREATE {}TABLE {} ({})",
            if self.unlogged { "UNLOGGED " } else { "" },
            qualified(&ctx.schema, &self.name),
            definitions.join(", ")
        )];
        if let Some(comment) = &self.comment {
            statements.push(format!(
                "COMMENT ON TABLE {} IS {}",
                qualified(&ctx.schema, &self.name),
                literal(comment)
            ));
        }
        for col in self.columns.iter().filter(|c| c.comment.is_some()) {
            statements.push(ddl::comment_on_column(
                &qualified(&ctx.schema, &self.name),
                &col.name,
                col.comment.as_deref().unwrap_or_default(),
            ));
        }
        schema.tables.push(table);
        Ok(OperationSteps {
            start: vec![Step::sql(
                format!("create table {}", self.name),
                statements,
                locks,
            )],
            complete: vec![],
            rollback: vec![Step::sql(
                format!("drop the new table {}", self.name),
                vec![format!(
                    "DROP TABLE IF EXISTS {}",
                    qualified(&ctx.schema, &self.name)
                )],
                vec![lock(&ctx.schema, &self.name, LockMode::AccessExclusive)],
            )],
            ..OperationSteps::default()
        })
    }
}

impl CreateTable {
    fn table_constraint(
        &self,
        ctx: &PlanContext,
        schema: &Schema,
        table: &mut Table,
        c: &TableConstraintDef,
        locks: &mut Vec<crate::plan::TableLock>,
    ) -> Result<String, OpError> {
        check_identifier("constraint", &c.name)?;
        for col in c.columns.iter().chain(
            c.index_parameters
                .iter()
                .flat_map(|p| p.include_columns.iter()),
        ) {
            if table.column(col).is_none() {
                return Err(lookup::no_such_column(table, col));
            }
        }
        let cols = ddl::ident_list;
        let index_params = || {
            let mut s = String::new();
            if let Some(p) = &c.index_parameters {
                if !p.include_columns.is_empty() {
                    s.push_str(&format!(" INCLUDE ({})", cols(&p.include_columns)));
                }
                if let Some(sp) = &p.storage_parameters {
                    s.push_str(&format!(" WITH ({sp})"));
                }
                if let Some(ts) = &p.tablespace {
                    s.push_str(&format!(" USING INDEX TABLESPACE {}", ident(ts)));
                }
            }
            s
        };
        let need_columns = || require_columns(&c.name, &c.columns);
        let (kind, body) = match c.kind.as_str() {
            "primary_key" => {
                need_columns()?;
                table.primary_key = c.columns.clone();
                (
                    ConstraintKind::PrimaryKey,
                    format!("PRIMARY KEY ({}){}", cols(&c.columns), index_params()),
                )
            }
            "unique" => {
                need_columns()?;
                let nnd = if c.nulls_not_distinct {
                    " NULLS NOT DISTINCT"
                } else {
                    ""
                };
                (
                    ConstraintKind::Unique,
                    format!("UNIQUE{nnd} ({}){}", cols(&c.columns), index_params()),
                )
            }
            "check" => {
                let check = require_check(&c.name, &c.check)?;
                let ni = if c.no_inherit { " NO INHERIT" } else { "" };
                (ConstraintKind::Check, format!("CHECK ({check}){ni}"))
            }
            "foreign_key" => {
                need_columns()?;
                let r = require_references(&c.name, &c.columns, &c.references)?;
                let mut targets = Vec::new();
                let mut target_table = String::new();
                for col in &r.columns {
                    let (t, tc) = resolve_reference(schema, &self.name, table, &r.table, col)?;
                    target_table = t;
                    targets.push(tc);
                }
                if target_table != self.name {
                    locks.push(lock(
                        &ctx.schema,
                        &target_table,
                        LockMode::ShareRowExclusive,
                    ));
                }
                let refs = references_clause(
                    &ctx.schema,
                    &target_table,
                    &targets,
                    &r.on_delete,
                    &r.on_update,
                    &r.match_type,
                    false,
                    false,
                )?;
                (
                    ConstraintKind::ForeignKey,
                    format!(
                        "FOREIGN KEY ({}) {refs}{}",
                        cols(&c.columns),
                        deferrable_clause(c.deferrable, c.initially_deferred)
                    ),
                )
            }
            "exclude" => {
                let Some(e) = &c.exclude else {
                    return Err(OpError::new(
                        format!("exclusion constraint `{}` has no `exclude` section", c.name),
                        "add `exclude: {index_method: ..., elements: ..., predicate: ...}`",
                    ));
                };
                let method = INDEX_METHODS.pick("index_method", &e.index_method)?;
                let mut body = format!(
                    "EXCLUDE USING {} ({}){}",
                    ident(method),
                    e.elements,
                    index_params()
                );
                if let Some(p) = &e.predicate {
                    body.push_str(&format!(" WHERE ({p})"));
                }
                (ConstraintKind::Exclude, body)
            }
            other => {
                return Err(OpError::new(
                    format!("constraint `{}` has unknown type `{other}`", c.name),
                    "use primary_key, unique, check, foreign_key or exclude",
                ))
            }
        };
        table.constraints.push(Constraint {
            name: c.name.clone(),
            kind,
            columns: c.columns.clone(),
            expression: c.check.clone(),
            references: None,
            no_inherit: c.no_inherit,
        });
        Ok(format!(
            "CONSTRAINT {} {body}{}",
            ident(&c.name),
            if kind == ConstraintKind::ForeignKey {
                ""
            } else {
                deferrable_clause(c.deferrable, c.initially_deferred)
            }
        ))
    }
}

/// Resolves a referenced table and column (logical names) to physical ones. A table may
/// reference itself.
fn resolve_reference(
    schema: &Schema,
    this_table: &str,
    this: &Table,
    table: &str,
    column: &str,
) -> Result<(String, String), OpError> {
    if table == this_table {
        return match this.column(column) {
            Some(c) => Ok((this_table.to_string(), c.physical.clone())),
            None => Err(lookup::no_such_column(this, column)),
        };
    }
    let target = lookup::table(schema, table)?;
    let col = lookup::column(target, column)?;
    Ok((target.physical.clone(), col.physical.clone()))
}
