//! `create_constraint`: the covered columns are copied (synced by `up`/`down`, backfilled and
//! verified), and the constraint is put on the copies: CHECK and FOREIGN KEY NOT VALID then
//! validated at complete, UNIQUE and PRIMARY KEY through an index built CONCURRENTLY and
//! attached at complete (see `sync::constraints`). The old version keeps writing the old
//! columns, unconstrained.

use super::alter_column::{copy_columns, refuse_partitioned_foreign_keys};
use super::column::{require_check, require_columns, require_references, TableReferenceDef};
use super::create_index::refuse_unique_constraint;
use super::lifecycle::{check_identifier, PlanContext, Plannable};
use super::lookup;
use crate::error::OpError;
use crate::expressions::{new_value, rewrite_logical};
use crate::keywords::{MATCH_TYPES, REFERENTIAL_ACTIONS};
use crate::plan::OperationSteps;
use crate::schema::{Constraint, ConstraintKind, NewTableConstraint, Schema, Table};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateConstraint {
    pub table: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub references: Option<TableReferenceDef>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub up: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub down: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "super::column::is_false")]
    pub no_inherit: bool,
    #[serde(default, skip_serializing_if = "super::column::is_false")]
    pub nulls_not_distinct: bool,
}

impl Plannable for CreateConstraint {
    fn plan(&self, ctx: &PlanContext, schema: &mut Schema) -> Result<OperationSteps, OpError> {
        check_identifier("constraint", &self.name)?;
        let table = lookup::table(schema, &self.table)?.clone();
        if table.constraint(&self.name).is_some() || schema.index_exists(&self.name) {
            return Err(OpError::new(
                format!("a constraint or index named `{}` already exists", self.name),
                "choose another name",
            ));
        }
        let kind = self.constraint_kind()?;
        require_columns(&self.name, &self.columns)?;
        for c in &self.columns {
            lookup::column(&table, c)?;
        }
        if kind == ConstraintKind::PrimaryKey && !table.primary_key.is_empty() {
            return Err(OpError::new(
                format!("table `{}` already has a primary key", self.table),
                "drop it first with a `sql` operation, or create a unique constraint instead",
            ));
        }
        let what = format!("create_constraint `{}`", self.name);
        if matches!(kind, ConstraintKind::Unique | ConstraintKind::PrimaryKey) {
            refuse_unique_constraint(&table, &what)?;
        }
        copy_columns(
            schema,
            &self.table,
            &self.columns,
            &self.up,
            &self.down,
            None,
        )?;
        let copied = lookup::table(schema, &self.table)?.clone();
        let physical: Vec<String> = self
            .columns
            .iter()
            .map(|c| {
                copied
                    .column(c)
                    .map(|k| k.physical.clone())
                    .unwrap_or_else(|| c.clone())
            })
            .collect();
        let mut constraint = NewTableConstraint {
            name: self.name.clone(),
            final_name: None,
            kind,
            columns: physical.clone(),
            expression: None,
            references: None,
            nulls_not_distinct: self.nulls_not_distinct,
            no_inherit: self.no_inherit,
            on_update: None,
            match_type: None,
        };
        match kind {
            ConstraintKind::Check => {
                let check = require_check(&self.name, &self.check)?;
                constraint.expression =
                    Some(rewrite_logical("check", check, schema, &copied, new_value)?);
            }
            ConstraintKind::ForeignKey => {
                constraint.references = Some(self.references_of(schema)?);
                if let Some(r) = &self.references {
                    constraint.on_update = REFERENTIAL_ACTIONS
                        .pick_opt("on_update", r.on_update.as_deref())?
                        .map(String::from);
                    constraint.match_type = MATCH_TYPES
                        .pick_opt("match_type", r.match_type.as_deref())?
                        .map(String::from);
                }
            }
            ConstraintKind::PrimaryKey => {
                // A primary key's columns are NOT NULL: the copies become so at complete.
                let t = lookup::table_mut(schema, &self.table)?;
                for s in t.sync.iter_mut() {
                    if s.new_physical
                        .as_ref()
                        .is_some_and(|p| physical.contains(p))
                    {
                        if let Some(spec) = s.new_column.as_mut() {
                            spec.not_null = true;
                        }
                    }
                }
            }
            _ => {}
        }
        let t = lookup::table_mut(schema, &self.table)?;
        t.new_constraints.push(constraint);
        t.constraints.push(Constraint {
            name: self.name.clone(),
            kind,
            columns: self.columns.clone(),
            expression: self.check.clone(),
            references: None,
            no_inherit: self.no_inherit,
        });
        if kind == ConstraintKind::PrimaryKey {
            t.primary_key = self.columns.clone();
        }
        refuse_partitioned_foreign_keys(ctx, schema, &self.table, &what)?;
        Ok(OperationSteps::default())
    }
}

/// A foreign key's target: physical table and columns, and the ON DELETE action.
type Target = (String, Vec<String>, Option<String>);

impl CreateConstraint {
    fn constraint_kind(&self) -> Result<ConstraintKind, OpError> {
        Ok(match self.kind.trim() {
            "unique" => ConstraintKind::Unique,
            "check" => ConstraintKind::Check,
            "foreign_key" => ConstraintKind::ForeignKey,
            "primary_key" => ConstraintKind::PrimaryKey,
            other => {
                return Err(OpError::new(
                    format!("constraint type `{other}` is not supported by create_constraint"),
                    "use unique, check, foreign_key or primary_key",
                ))
            }
        })
    }

    fn references_of(&self, schema: &Schema) -> Result<Target, OpError> {
        let r = require_references(&self.name, &self.columns, &self.references)?;
        let target: &Table = lookup::table(schema, &r.table)?;
        let columns = r
            .columns
            .iter()
            .map(|c| Ok(lookup::column(target, c)?.physical.clone()))
            .collect::<Result<Vec<_>, OpError>>()?;
        let action = REFERENTIAL_ACTIONS
            .pick_opt("on_delete", r.on_delete.as_deref())?
            .map(String::from);
        Ok((target.physical.clone(), columns, action))
    }
}
