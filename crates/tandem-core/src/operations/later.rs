//! Index, constraint and replica identity operations. Those tandem does not plan yet say so
//! clearly instead of doing something half right.

use super::column::TableReferenceDef;
use super::{check_identifier, no_such_column, no_such_table, OpError, PlanContext, Plannable};
use crate::expressions::{new_value, rewrite_logical};
use crate::locks::LockMode;
use crate::plan::{lock, OperationSteps, Step};
use crate::quote::{ident, qualified};
use crate::schema::{Index, Schema};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateIndex {
    pub name: String,
    pub table: String,
    pub columns: Vec<IndexColumn>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_parameters: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unique: Option<bool>,
}

/// An index column: a name, or `{column, opclass, collate, sort, nulls}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum IndexColumn {
    Name(String),
    Detailed(IndexColumnDef),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexColumnDef {
    pub column: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opclass: Option<OpclassDef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nulls: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpclassDef {
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DropIndex {
    pub name: String,
}

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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DropConstraint {
    pub table: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub up: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub down: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DropMulticolumnConstraint {
    pub table: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub up: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub down: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenameConstraint {
    pub table: String,
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetReplicaIdentity {
    pub table: String,
    pub identity: ReplicaIdentityDef,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplicaIdentityDef {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<String>,
}

#[allow(dead_code)]
fn not_yet(kind: &str) -> OpError {
    OpError::new(
        format!("the `{kind}` operation is not supported by this version of tandem yet"),
        "run the change as a `sql` operation with `up` and `down` meanwhile",
    )
}

#[allow(unused_macros)]
macro_rules! not_planned_yet {
    ($($ty:ty => $kind:literal),* $(,)?) => {$(
        impl Plannable for $ty {
            fn plan(&self, _ctx: &PlanContext, _schema: &mut Schema) -> Result<OperationSteps, OpError> {
                Err(not_yet($kind))
            }
        }
    )*};
}

impl Plannable for DropConstraint {
    /// The constrained column gets a copy without the constraint, synced by `up` (old → new)
    /// and `down` (new → old, so the old version's constraint keeps holding), exactly like
    /// alter_column; complete drops the old column, and the constraint with it.
    fn plan(&self, _ctx: &PlanContext, schema: &mut Schema) -> Result<OperationSteps, OpError> {
        let constraint = droppable_constraint(schema, &self.table, &self.name)?;
        let [column] = constraint.columns.as_slice() else {
            return Err(OpError::new(
                format!(
                    "constraint `{}` covers {} columns",
                    self.name,
                    constraint.columns.len()
                ),
                "use drop_multicolumn_constraint for a constraint over several columns",
            ));
        };
        let alter = super::AlterColumn {
            table: self.table.clone(),
            column: column.clone(),
            name: None,
            data_type: None,
            up: self.up.clone(),
            down: self.down.clone(),
            nullable: None,
            default: None,
            comment: None,
            check: None,
            unique: None,
            references: None,
            without_constraint: Some(self.name.clone()),
        };
        alter.plan_change(schema)?;
        if let Some(t) = schema.table_mut(&self.table) {
            t.constraints.retain(|c| c.name != self.name);
        }
        Ok(OperationSteps::default())
    }
}

/// A keyword from a closed list (it is spliced into SQL), or an error naming the choices.
fn keyword(what: &str, value: &str, allowed: &[&str]) -> Result<String, OpError> {
    let v = value.trim().to_ascii_uppercase();
    if allowed.iter().any(|a| a.eq_ignore_ascii_case(&v)) {
        Ok(v)
    } else {
        Err(OpError::new(
            format!("`{what}: {value}` is not valid"),
            format!("use one of: {}", allowed.join(", ")),
        ))
    }
}

impl Plannable for CreateIndex {
    /// Built CONCURRENTLY (SHARE UPDATE EXCLUSIVE: reads and writes go on), after any backfill
    /// of the same migration so it indexes final values; an invalid leftover of a failed build
    /// is dropped first.
    fn plan(&self, ctx: &PlanContext, schema: &mut Schema) -> Result<OperationSteps, OpError> {
        check_identifier("index", &self.name)?;
        if schema.name_taken(&self.name) {
            return Err(OpError::new(
                format!("a table or index named `{}` already exists", self.name),
                "choose another index name",
            ));
        }
        let table = schema
            .table(&self.table)
            .ok_or_else(|| no_such_table(schema, &self.table))?
            .clone();
        if self.columns.is_empty() {
            return Err(OpError::new(
                format!("index `{}` has no columns", self.name),
                "list them under `columns:`",
            ));
        }
        let method = match &self.method {
            Some(m) => keyword(
                "method",
                m,
                &["btree", "hash", "gist", "spgist", "gin", "brin"],
            )?
            .to_ascii_lowercase(),
            None => "btree".to_string(),
        };
        let mut elements = Vec::new();
        let mut logical = Vec::new();
        for c in &self.columns {
            let (name, def) = match c {
                IndexColumn::Name(n) => (n.clone(), None),
                IndexColumn::Detailed(d) => (d.column.clone(), Some(d)),
            };
            let col = table
                .column(&name)
                .ok_or_else(|| no_such_column(&table, &name))?;
            let mut e = ident(&col.physical);
            if let Some(d) = def {
                if let Some(collate) = &d.collate {
                    e.push_str(&format!(" COLLATE {}", ident(collate)));
                }
                if let Some(op) = &d.opclass {
                    e.push_str(&format!(" {}", ident(&op.name)));
                    if !op.params.is_empty() {
                        e.push_str(&format!(" ({})", op.params.join(", ")));
                    }
                }
                if let Some(sort) = &d.sort {
                    e.push_str(&format!(" {}", keyword("sort", sort, &["ASC", "DESC"])?));
                }
                if let Some(nulls) = &d.nulls {
                    e.push_str(&format!(
                        " NULLS {}",
                        keyword("nulls", nulls, &["FIRST", "LAST"])?
                    ));
                }
            }
            elements.push(e);
            logical.push(name);
        }
        let mut sql = format!(
            "CREATE {}INDEX CONCURRENTLY {} ON {} USING {method} ({})",
            if self.unique == Some(true) {
                "UNIQUE "
            } else {
                ""
            },
            ident(&self.name),
            qualified(&ctx.schema, &table.physical),
            elements.join(", ")
        );
        if let Some(params) = &self.storage_parameters {
            sql.push_str(&format!(" WITH ({params})"));
        }
        if let Some(p) = &self.predicate {
            let predicate = rewrite_logical("predicate", p, schema, &table, new_value)?;
            sql.push_str(&format!(" WHERE {predicate}"));
        }
        let drop = format!(
            "DROP INDEX CONCURRENTLY IF EXISTS {}",
            qualified(&ctx.schema, &self.name)
        );
        if let Some(t) = schema.table_mut(&self.table) {
            t.indexes.push(Index {
                name: self.name.clone(),
                columns: logical,
                unique: self.unique == Some(true),
                method,
                plain: self.predicate.is_none(),
                constraint: None,
            });
        }
        let locks = vec![lock(
            &ctx.schema,
            &table.physical,
            LockMode::ShareUpdateExclusive,
        )];
        Ok(OperationSteps {
            after_backfill: vec![Step::sql(
                format!("build index {} without blocking writes", self.name),
                vec![drop.clone(), sql],
                locks.clone(),
            )
            .non_transactional()],
            rollback: vec![Step::sql(
                format!("drop the new index {}", self.name),
                vec![drop],
                locks,
            )
            .non_transactional()],
            ..OperationSteps::default()
        })
    }
}

impl Plannable for DropIndex {
    /// The index stays until complete (the old version may rely on it), then is dropped
    /// CONCURRENTLY.
    fn plan(&self, ctx: &PlanContext, schema: &mut Schema) -> Result<OperationSteps, OpError> {
        let Some(table) = schema
            .tables
            .iter_mut()
            .find(|t| t.indexes.iter().any(|i| i.name == self.name))
        else {
            return Err(OpError::new(
                format!(
                    "index `{}` does not exist in schema `{}`",
                    self.name, schema.name
                ),
                "check the index name (`\\di` in psql lists them)",
            ));
        };
        if let Some(c) = table
            .indexes
            .iter()
            .find(|i| i.name == self.name)
            .and_then(|i| i.constraint.clone())
        {
            return Err(OpError::new(
                format!("index `{}` backs constraint `{c}`", self.name),
                "drop the constraint instead (drop_constraint)",
            ));
        }
        let physical = table.physical.clone();
        table.indexes.retain(|i| i.name != self.name);
        Ok(OperationSteps {
            contract: vec![Step::sql(
                format!("drop index {}", self.name),
                vec![format!(
                    "DROP INDEX CONCURRENTLY IF EXISTS {}",
                    qualified(&ctx.schema, &self.name)
                )],
                vec![lock(&ctx.schema, &physical, LockMode::ShareUpdateExclusive)],
            )
            .non_transactional()],
            ..OperationSteps::default()
        })
    }
}

impl Plannable for RenameConstraint {
    /// Renamed at complete: the old version may name the constraint (in error handling).
    fn plan(&self, ctx: &PlanContext, schema: &mut Schema) -> Result<OperationSteps, OpError> {
        check_identifier("constraint", &self.to)?;
        let table = schema.table_mut(&self.table).ok_or_else(|| {
            OpError::new(
                format!("table `{}` does not exist", self.table),
                "check the table name",
            )
        })?;
        if table.constraint(&self.to).is_some() {
            return Err(OpError::new(
                format!(
                    "table `{}` already has a constraint `{}`",
                    self.table, self.to
                ),
                "choose another name",
            ));
        }
        let Some(c) = table.constraints.iter_mut().find(|c| c.name == self.from) else {
            return Err(OpError::new(
                format!("table `{}` has no constraint `{}`", self.table, self.from),
                format!(
                    "its constraints are: {}",
                    table
                        .constraints
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        };
        c.name = self.to.clone();
        let final_table = table.name.clone();
        Ok(OperationSteps {
            finalize: vec![Step::sql(
                format!("rename constraint {} to {}", self.from, self.to),
                vec![format!(
                    "ALTER TABLE {} RENAME CONSTRAINT {} TO {}",
                    qualified(&ctx.schema, &final_table),
                    ident(&self.from),
                    ident(&self.to)
                )],
                vec![lock(&ctx.schema, &final_table, LockMode::AccessExclusive)],
            )],
            ..OperationSteps::default()
        })
    }
}

impl Plannable for SetReplicaIdentity {
    /// Set at complete: it only matters to logical replication, which follows the final schema.
    fn plan(&self, ctx: &PlanContext, schema: &mut Schema) -> Result<OperationSteps, OpError> {
        let table = schema
            .table(&self.table)
            .ok_or_else(|| no_such_table(schema, &self.table))?;
        let clause = match self.identity.kind.trim().to_ascii_lowercase().as_str() {
            "nothing" => "NOTHING".to_string(),
            "default" => "DEFAULT".to_string(),
            "full" => "FULL".to_string(),
            "index" => {
                let Some(ix) = &self.identity.index else {
                    return Err(OpError::new(
                        "replica identity `index` names no index",
                        "add `index: <name>`",
                    ));
                };
                if !table.indexes.iter().any(|i| &i.name == ix) {
                    return Err(OpError::new(
                        format!("table `{}` has no index `{ix}`", self.table),
                        "name a unique index of the table",
                    ));
                }
                format!("USING INDEX {}", ident(ix))
            }
            other => {
                return Err(OpError::new(
                    format!("replica identity type `{other}` is not valid"),
                    "use nothing, default, full or index",
                ))
            }
        };
        let final_table = table.name.clone();
        Ok(OperationSteps {
            finalize: vec![Step::sql(
                format!("set the replica identity of {}", self.table),
                vec![format!(
                    "ALTER TABLE {} REPLICA IDENTITY {clause}",
                    qualified(&ctx.schema, &final_table)
                )],
                vec![lock(&ctx.schema, &final_table, LockMode::AccessExclusive)],
            )],
            ..OperationSteps::default()
        })
    }
}

/// Copies `columns` of `table` like alter_column (each with its `up`/`down`, identity when
/// absent), optionally leaving out constraint `without`.
fn copy_columns(
    schema: &mut Schema,
    table: &str,
    columns: &[String],
    up: &BTreeMap<String, String>,
    down: &BTreeMap<String, String>,
    without: Option<&str>,
) -> Result<(), OpError> {
    for key in up.keys().chain(down.keys()) {
        if !columns.contains(key) {
            return Err(OpError::new(
                format!("`up`/`down` name column `{key}`, which the constraint does not cover"),
                format!(
                    "give `up` and `down` for the constraint's columns only: {}",
                    columns.join(", ")
                ),
            ));
        }
    }
    for column in columns {
        let alter = super::AlterColumn {
            table: table.to_string(),
            column: column.clone(),
            name: None,
            data_type: None,
            up: Some(up.get(column).cloned().unwrap_or_else(|| ident(column))),
            down: Some(down.get(column).cloned().unwrap_or_else(|| ident(column))),
            nullable: None,
            default: None,
            comment: None,
            check: None,
            unique: None,
            references: None,
            without_constraint: without.map(String::from),
        };
        alter.plan_change(schema)?;
    }
    Ok(())
}

impl Plannable for CreateConstraint {
    /// The covered columns are copied (synced by `up`/`down`, backfilled and verified), and the
    /// constraint is put on the copies: CHECK and FOREIGN KEY NOT VALID then validated at
    /// complete, UNIQUE and PRIMARY KEY through an index built CONCURRENTLY and attached at
    /// complete. The old version keeps writing the old columns, unconstrained.
    fn plan(&self, _ctx: &PlanContext, schema: &mut Schema) -> Result<OperationSteps, OpError> {
        use crate::schema::{ConstraintKind, NewTableConstraint};
        check_identifier("constraint", &self.name)?;
        let table = schema
            .table(&self.table)
            .ok_or_else(|| no_such_table(schema, &self.table))?
            .clone();
        if table.constraint(&self.name).is_some() || schema.index_exists(&self.name) {
            return Err(OpError::new(
                format!("a constraint or index named `{}` already exists", self.name),
                "choose another name",
            ));
        }
        let kind = match self.kind.trim() {
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
        };
        if self.columns.is_empty() {
            return Err(OpError::new(
                format!("constraint `{}` lists no columns", self.name),
                "list them under `columns:`",
            ));
        }
        for c in &self.columns {
            if table.column(c).is_none() {
                return Err(no_such_column(&table, c));
            }
        }
        if kind == ConstraintKind::PrimaryKey && !table.primary_key.is_empty() {
            return Err(OpError::new(
                format!("table `{}` already has a primary key", self.table),
                "drop it first with a `sql` operation, or create a unique constraint instead",
            ));
        }
        copy_columns(
            schema,
            &self.table,
            &self.columns,
            &self.up,
            &self.down,
            None,
        )?;
        let copied = schema
            .table(&self.table)
            .ok_or_else(|| no_such_table(schema, &self.table))?
            .clone();
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
        };
        match kind {
            ConstraintKind::Check => {
                let Some(check) = &self.check else {
                    return Err(OpError::new(
                        format!("check constraint `{}` has no `check` expression", self.name),
                        "add `check: <boolean SQL expression>`",
                    ));
                };
                constraint.expression =
                    Some(rewrite_logical("check", check, schema, &copied, new_value)?);
            }
            ConstraintKind::ForeignKey => {
                let Some(r) = &self.references else {
                    return Err(OpError::new(
                        format!("foreign key `{}` has no `references`", self.name),
                        "add `references: {table: ..., columns: [...]}`",
                    ));
                };
                let target = schema
                    .table(&r.table)
                    .ok_or_else(|| no_such_table(schema, &r.table))?;
                if r.columns.len() != self.columns.len() {
                    return Err(OpError::new(
                        format!(
                            "foreign key `{}` has {} columns but references {}",
                            self.name,
                            self.columns.len(),
                            r.columns.len()
                        ),
                        "list as many referenced columns as constrained ones",
                    ));
                }
                let mut cols = Vec::new();
                for c in &r.columns {
                    cols.push(
                        target
                            .column(c)
                            .ok_or_else(|| no_such_column(target, c))?
                            .physical
                            .clone(),
                    );
                }
                let action = super::column::referential_action("on_delete", &r.on_delete)?;
                constraint.references = Some((target.physical.clone(), cols, action));
            }
            ConstraintKind::PrimaryKey => {
                // A primary key's columns are NOT NULL: the copies become so at complete.
                if let Some(t) = schema.table_mut(&self.table) {
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
            }
            _ => {}
        }
        if let Some(t) = schema.table_mut(&self.table) {
            t.new_constraints.push(constraint);
            t.constraints.push(crate::schema::Constraint {
                name: self.name.clone(),
                kind,
                columns: self.columns.clone(),
                expression: self.check.clone(),
                references: None,
            });
            if kind == ConstraintKind::PrimaryKey {
                t.primary_key = self.columns.clone();
            }
        }
        Ok(OperationSteps::default())
    }
}

impl Plannable for DropMulticolumnConstraint {
    /// Like drop_constraint, for a constraint over several columns: each is copied without it.
    fn plan(&self, _ctx: &PlanContext, schema: &mut Schema) -> Result<OperationSteps, OpError> {
        let constraint = droppable_constraint(schema, &self.table, &self.name)?;
        let columns = constraint.columns.clone();
        copy_columns(
            schema,
            &self.table,
            &columns,
            &self.up,
            &self.down,
            Some(&self.name),
        )?;
        if let Some(t) = schema.table_mut(&self.table) {
            t.constraints.retain(|c| c.name != self.name);
        }
        Ok(OperationSteps::default())
    }
}

/// A CHECK, UNIQUE or FOREIGN KEY constraint of `table` that drop_constraint or
/// drop_multicolumn_constraint may drop.
fn droppable_constraint(
    schema: &Schema,
    table: &str,
    name: &str,
) -> Result<crate::schema::Constraint, OpError> {
    let t = schema
        .table(table)
        .ok_or_else(|| no_such_table(schema, table))?;
    let Some(constraint) = t.constraint(name) else {
        return Err(OpError::new(
            format!("table `{table}` has no constraint `{name}`"),
            format!(
                "its constraints are: {}",
                t.constraints
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    };
    use crate::schema::ConstraintKind::*;
    if !matches!(constraint.kind, Check | Unique | ForeignKey) {
        return Err(OpError::new(
            format!("constraint `{name}` is not a CHECK, UNIQUE or FOREIGN KEY constraint"),
            "primary keys and exclusion constraints cannot be dropped this way; use a `sql` operation",
        ));
    }
    Ok(constraint.clone())
}
