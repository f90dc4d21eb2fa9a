//! `alter_column`: change a column's name, type, nullability, default, comment or constraints.
//!
//! A rename alone is planned like rename_column. Any other change adds a new physical column
//! beside the old one, kept in sync both ways by the table's dual-write trigger (`up` computes
//! the new value from an old-version write, `down` the old value from a new-version write) and
//! backfilled for existing rows; CHECK and FOREIGN KEY are added NOT VALID and validated at
//! complete, UNIQUE is an index built CONCURRENTLY and attached at complete, NOT NULL is a
//! validated CHECK turned into SET NOT NULL. The old column's indexes, constraints, default and
//! comment are carried over. Several alter_columns of one column compose: the later one's `up`
//! is applied to the earlier one's result, and the `down`s in reverse.

use super::column::{CheckDef, ForeignKeyDef};
use super::create_index::{refuse_not_valid_foreign_key, refuse_unique_constraint};
use super::lifecycle::{check_identifier, PlanContext, Plannable};
use super::lookup;
use super::rename_column::rename_column;
use crate::error::OpError;
use crate::expressions::{new_value, old_value, rewrite_logical, rewrite_physical};
use crate::integer_types::integer_type_rank;
use crate::keywords::DEFAULT_INDEX_METHOD;
use crate::names::temp_name;
use crate::plan::OperationSteps;
use crate::quote::{ident, literal, qualified};
use crate::schema::{
    CarriedIndex, CarriedSequence, ConstraintKind, NewCheck, NewColumn, Schema, SyncColumn,
};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlterColumn {
    pub table: String,
    pub column: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub data_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub up: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub down: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nullable: Option<bool>,
    /// `Some(None)` (`default: null`) drops the default.
    #[serde(
        default,
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub default: Option<Option<String>>,
    /// `Some(None)` (`comment: null`) removes the comment.
    #[serde(
        default,
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub comment: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<CheckDef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unique: Option<UniqueDef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub references: Option<ForeignKeyDef>,
    /// Set by drop_constraint: the copy of the column leaves this constraint out.
    #[serde(skip)]
    pub without_constraint: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UniqueDef {
    pub name: String,
}

/// Tells `key: null` (Some(None)) from an absent key (None, via `default`).
fn present_or_null<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Ok(Some(super::column::sql_text(d)?))
}

impl AlterColumn {
    /// An alter_column of `table.column` that changes nothing yet: the base of the copies
    /// drop_constraint, create_constraint and drop_multicolumn_constraint make.
    pub(crate) fn copy_of(table: &str, column: &str) -> AlterColumn {
        AlterColumn {
            table: table.to_string(),
            column: column.to_string(),
            name: None,
            data_type: None,
            up: None,
            down: None,
            nullable: None,
            default: None,
            comment: None,
            check: None,
            unique: None,
            references: None,
            without_constraint: None,
        }
    }

    fn changes_data(&self) -> bool {
        self.without_constraint.is_some()
            || self.data_type.is_some()
            || self.nullable.is_some()
            || self.default.is_some()
            || self.comment.is_some()
            || self.check.is_some()
            || self.unique.is_some()
            || self.references.is_some()
    }
}

impl Plannable for AlterColumn {
    fn plan(&self, ctx: &PlanContext, schema: &mut Schema) -> Result<OperationSteps, OpError> {
        // `up`/`down` alone rewrite the values (both versions keep seeing their own).
        if !self.changes_data() && self.up.is_none() && self.down.is_none() {
            let Some(name) = &self.name else {
                return Err(OpError::new(
                    format!("alter_column on `{}.{}` changes nothing", self.table, self.column),
                    "give at least one of: name, type, nullable, default, comment, check, unique, references",
                ));
            };
            rename_column(schema, &self.table, &self.column, name)?;
            return Ok(OperationSteps::default());
        }
        if self.name.is_some() {
            return Err(OpError::new(
                format!("alter_column on `{}.{}` renames the column and changes it in one operation", self.table, self.column),
                "split it: one alter_column (or rename_column) for the name, another for the other changes",
            ));
        }
        self.plan_change(schema)?;
        refuse_partitioned_foreign_keys(
            ctx,
            schema,
            &self.table,
            &format!("alter_column on `{}.{}`", self.table, self.column),
        )?;
        Ok(OperationSteps::default())
    }
}

/// After planning a change of `table`: the foreign keys it adds NOT VALID (new or carried
/// over) are refused on a partitioned table where PostgreSQL cannot do that.
pub(crate) fn refuse_partitioned_foreign_keys(
    ctx: &PlanContext,
    schema: &Schema,
    table: &str,
    what: &str,
) -> Result<(), OpError> {
    let t = lookup::table(schema, table)?;
    let adds_fk = t
        .new_constraints
        .iter()
        .any(|c| c.kind == ConstraintKind::ForeignKey)
        || t.sync
            .iter()
            .filter_map(|s| s.new_column.as_ref())
            .any(|c| !c.foreign_keys.is_empty());
    if adds_fk {
        refuse_not_valid_foreign_key(ctx, t, what)?;
    }
    Ok(())
}

impl AlterColumn {
    pub(crate) fn plan_change(&self, schema: &mut Schema) -> Result<(), OpError> {
        let snapshot = schema.clone();
        let table = lookup::table(&snapshot, &self.table)?;
        let col = lookup::column(table, &self.column)?;
        let what = format!("`{}.{}`", self.table, self.column);
        if table
            .partitioning
            .as_ref()
            .is_some_and(|p| p.key_has_expressions || p.key_columns.contains(&col.physical))
        {
            return Err(OpError::new(
                format!("alter_column on {what}: the table is partitioned and the column is (or may be, through an expression) part of the partition key"),
                "a partition key column cannot be copied: rows are routed by it. Create a new partitioned table (create_table) and move the data, or change it in a maintenance window with a `sql` operation",
            ));
        }
        if table.primary_key.contains(&self.column) {
            return Err(OpError::new(
                format!("alter_column on {what}: the column is part of the primary key"),
                "changing a key column is not supported; add a new column with add_column (with `up`) and move the key with create_constraint",
            ));
        }
        if col.referenced {
            return Err(OpError::new(
                format!("alter_column on {what}: a foreign key of another table references the column"),
                "drop that foreign key first (drop_constraint), then alter the column, then create the foreign key again",
            ));
        }
        if col.generated && col.identity_always.is_none() {
            return Err(OpError::new(
                format!("alter_column on {what}: the column is a generated column"),
                "change it with a `sql` operation, or add a new column and drop this one",
            ));
        }
        if col.identity_always.is_some() {
            identity_change_allowed(self, &what)?;
        }
        if let Some(fk) = table.constraints.iter().find(|c| {
            c.kind == ConstraintKind::ForeignKey
                && c.columns.contains(&self.column)
                && c.references.is_none()
                && Some(&c.name) != self.without_constraint.as_ref()
        }) {
            return Err(OpError::new(
                format!("alter_column on {what}: the foreign key `{}` cannot be read from the catalog", fk.name),
                "drop the foreign key first (drop_constraint) and give it again in this alter_column's `references`",
            ));
        }
        if let Some(ix) = table.indexes.iter().find(|i| {
            i.columns.contains(&self.column)
                && (!i.plain
                    || i.constraint.as_ref().is_some_and(|c| {
                        table
                            .constraint(c)
                            .is_some_and(|k| k.kind == ConstraintKind::Exclude)
                    }))
        }) {
            return Err(OpError::new(
                format!("alter_column on {what}: index `{}` uses the column in an expression, a predicate, INCLUDE or an exclusion constraint", ix.name),
                "drop the index before this migration and create it again after (create_index)",
            ));
        }

        let existing = table.sync.iter().position(|s| {
            s.new_physical.as_deref() == Some(col.physical.as_str()) && s.new_column.is_some()
        });
        let new_physical = match existing {
            Some(i) => table.sync[i].new_physical.clone().unwrap_or_default(),
            None => temp_name("new", &col.physical),
        };
        let old_type = col.data_type.clone();
        let new_type = self.data_type.clone().unwrap_or_else(|| old_type.clone());
        let type_changes = self
            .data_type
            .as_ref()
            .is_some_and(|t| t.trim() != old_type.trim());
        // Without `up`/`down` a value passes as it is (cast when the type changes).
        let up_source = match &self.up {
            Some(u) => u.clone(),
            None if type_changes => format!("CAST({} AS {new_type})", ident(&self.column)),
            None => ident(&self.column),
        };
        let down_source = match &self.down {
            Some(d) => d.clone(),
            None if type_changes => format!("CAST({} AS {old_type})", ident(&self.column)),
            None => ident(&self.column),
        };
        let up = rewrite_logical("up", &up_source, &snapshot, table, |c| old_value(table, c))?;
        let down = rewrite_logical("down", &down_source, &snapshot, table, |c| {
            if c.name == self.column {
                ident(&new_physical)
            } else {
                new_value(c)
            }
        })?;

        let mut sync = match existing {
            Some(i) => {
                // Compose with the earlier change of the same column.
                let earlier = table.sync[i].clone();
                let composed_down = match &earlier.down {
                    Some(d) => Some(rewrite_physical(d, &snapshot, table, |p| {
                        (p == new_physical).then(|| format!("({down})"))
                    })?),
                    None => Some(down),
                };
                SyncColumn {
                    up: Some(up),
                    down: composed_down,
                    ..earlier
                }
            }
            None => SyncColumn {
                old_physical: Some(col.physical.clone()),
                new_physical: Some(new_physical.clone()),
                up: Some(up),
                down: Some(down),
                new_column: Some(self.carried_over(&snapshot, &new_physical)?),
            },
        };
        let Some(spec) = sync.new_column.as_mut() else {
            return Err(OpError::new(
                "internal: a synced column without its new column",
                "please report this bug",
            ));
        };
        spec.data_type = new_type.clone();
        if type_changes && self.default.is_none() {
            // The old default still applies, cast to the new type; where no cast exists (or
            // a constant does not convert) the default's probe refuses the plan at validate.
            spec.default = spec
                .default
                .as_ref()
                .map(|d| format!("CAST(({d}) AS {new_type})"));
        }
        if let Some(d) = &self.default {
            spec.default = d.clone();
        }
        if let Some(n) = self.nullable {
            spec.not_null = !n;
        }
        if let Some(c) = &self.comment {
            spec.comment = c.clone();
        }
        if let Some(check) = &self.check {
            check_identifier("constraint", &check.name)?;
            let expression = rewrite_logical("check", &check.constraint, &snapshot, table, |c| {
                if c.name == self.column {
                    ident(&new_physical)
                } else {
                    new_value(c)
                }
            })?;
            spec.checks.push(NewCheck {
                name: check.name.clone(),
                final_name: check.name.clone(),
                expression,
                no_inherit: check.no_inherit,
            });
        }
        if let Some(u) = &self.unique {
            check_identifier("constraint", &u.name)?;
            spec.unique.push(u.name.clone());
        }
        if let Some(fk) = &self.references {
            spec.foreign_keys.push(fk.resolve(&snapshot)?);
        }
        if !spec.unique.is_empty() || spec.indexes.iter().any(|i| i.constraint.is_some()) {
            refuse_unique_constraint(table, &what)?;
        }
        let (nullable, default, comment) =
            (!spec.not_null, spec.default.clone(), spec.comment.clone());

        let t = lookup::table_mut(schema, &self.table)?;
        if existing.is_none() {
            merge_shared_carry_overs(t, &mut sync, &col.physical, &new_physical);
            carry_foreign_keys(
                t,
                &snapshot,
                &self.column,
                &col.physical,
                &new_physical,
                self.without_constraint.as_deref(),
            );
        }
        match existing {
            Some(i) => t.sync[i] = sync,
            None => t.sync.push(sync),
        }
        if let Some(c) = t.column_mut(&self.column) {
            c.physical = new_physical;
            c.data_type = new_type;
            c.nullable = nullable;
            c.default = default;
            c.comment = comment;
        }
        Ok(())
    }

    /// The new column as a copy of the old one: default, NOT NULL, comment, CHECKs, indexes and
    /// unique constraints.
    fn carried_over(&self, schema: &Schema, new_physical: &str) -> Result<NewColumn, OpError> {
        let table = lookup::table(schema, &self.table)?;
        let col = lookup::column(table, &self.column)?;
        let mut spec = NewColumn {
            data_type: col.data_type.clone(),
            default: col.default.clone(),
            not_null: !col.nullable,
            comment: col.comment.clone(),
            sequence: col.sequence.clone().map(|sequence| CarriedSequence {
                sequence,
                identity_always: col.identity_always,
            }),
            ..NewColumn::default()
        };
        if let (Some(seq), Some(_)) = (&col.sequence, col.identity_always) {
            // One sequence for both versions: the new column draws from the identity's own
            // sequence until complete makes it an identity column in turn.
            spec.default = Some(format!(
                "nextval({}::regclass)",
                literal(&qualified(&seq.schema, &seq.name))
            ));
        }
        for c in table.constraints.iter().filter(|c| {
            c.kind == ConstraintKind::Check
                && c.columns.contains(&self.column)
                && Some(&c.name) != self.without_constraint.as_ref()
        }) {
            let Some(expr) = &c.expression else { continue };
            let old_physical = col.physical.clone();
            spec.checks.push(NewCheck {
                name: temp_name("check", &c.name),
                final_name: c.name.clone(),
                no_inherit: c.no_inherit,
                expression: rewrite_physical(expr, schema, table, |p| {
                    (p == old_physical).then(|| ident(new_physical))
                })?,
            });
        }
        for ix in table.indexes.iter().filter(|i| {
            i.columns.contains(&self.column)
                && (i.constraint.is_none() || i.constraint != self.without_constraint)
        }) {
            let columns = ix
                .columns
                .iter()
                .map(|c| {
                    if *c == self.column {
                        new_physical.to_string()
                    } else {
                        table
                            .column(c)
                            .map(|k| k.physical.clone())
                            .unwrap_or_else(|| c.clone())
                    }
                })
                .collect();
            spec.indexes.push(CarriedIndex {
                name: temp_name("index", &ix.name),
                final_name: ix.name.clone(),
                unique: ix.unique,
                method: if ix.method.is_empty() {
                    DEFAULT_INDEX_METHOD.into()
                } else {
                    ix.method.clone()
                },
                columns,
                constraint: ix.constraint.clone(),
            });
        }
        Ok(spec)
    }
}

/// An identity column stays one: its copy becomes an identity column at complete, which
/// PostgreSQL allows only on a NOT NULL column of an integer type.
fn identity_change_allowed(change: &AlterColumn, what: &str) -> Result<(), OpError> {
    if let Some(t) = &change.data_type {
        if integer_type_rank(t).is_none() {
            return Err(OpError::new(
                format!("alter_column on {what}: an identity column can only have an integer type, not `{t}`"),
                "keep smallint, integer or bigint, or add a new column (add_column with `up`) and drop this one",
            ));
        }
    }
    if change.nullable == Some(true) {
        return Err(OpError::new(
            format!("alter_column on {what}: an identity column cannot be nullable"),
            "leave `nullable` out, or drop the identity first with a `sql` operation",
        ));
    }
    if change.default.as_ref().is_some_and(Option::is_some) {
        return Err(OpError::new(
            format!("alter_column on {what}: an identity column cannot have a default"),
            "leave `default` out: the identity hands out the values",
        ));
    }
    Ok(())
}

/// Copies `columns` of `table` like alter_column (each with its `up`/`down`, identity when
/// absent), optionally leaving out constraint `without`.
pub(crate) fn copy_columns(
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
        AlterColumn {
            up: Some(up.get(column).cloned().unwrap_or_else(|| ident(column))),
            down: Some(down.get(column).cloned().unwrap_or_else(|| ident(column))),
            without_constraint: without.map(String::from),
            ..AlterColumn::copy_of(table, column)
        }
        .plan_change(schema)?;
    }
    Ok(())
}

/// A CHECK or index over several columns is carried over once: when a second of its columns is
/// copied, the copy made for the first is updated to use this column's copy too.
fn merge_shared_carry_overs(
    table: &mut crate::schema::Table,
    sync: &mut SyncColumn,
    old_physical: &str,
    new_physical: &str,
) {
    let Some(spec) = sync.new_column.as_mut() else {
        return;
    };
    let snapshot = table.clone();
    let schema = Schema {
        tables: vec![snapshot.clone()],
        ..Schema::default()
    };
    let mut others: Vec<&mut NewColumn> = table
        .sync
        .iter_mut()
        .filter_map(|s| s.new_column.as_mut())
        .collect();
    spec.checks.retain(|check| {
        for other in others.iter_mut() {
            if let Some(existing) = other
                .checks
                .iter_mut()
                .find(|c| c.final_name == check.final_name)
            {
                if let Ok(merged) =
                    rewrite_physical(&existing.expression, &schema, &snapshot, |p| {
                        (p == old_physical).then(|| ident(new_physical))
                    })
                {
                    existing.expression = merged;
                }
                return false;
            }
        }
        true
    });
    spec.indexes.retain(|ix| {
        for other in others.iter_mut() {
            if let Some(existing) = other
                .indexes
                .iter_mut()
                .find(|i| i.final_name == ix.final_name)
            {
                for c in existing.columns.iter_mut() {
                    if c == old_physical {
                        *c = new_physical.to_string();
                    }
                }
                return false;
            }
        }
        true
    });
}

/// The table's foreign keys over the copied column are carried to the copy (NOT VALID, then
/// validated at complete and given their names back); one over several copied columns is
/// carried once and follows each copy.
fn carry_foreign_keys(
    t: &mut crate::schema::Table,
    snapshot: &Schema,
    column: &str,
    old_physical: &str,
    new_physical: &str,
    without: Option<&str>,
) {
    let Some(before) = snapshot.table(&t.name) else {
        return;
    };
    for fk in before.constraints.iter().filter(|c| {
        c.kind == ConstraintKind::ForeignKey
            && c.columns.iter().any(|k| k == column)
            && Some(c.name.as_str()) != without
    }) {
        let Some(target) = &fk.references else {
            continue;
        };
        if let Some(existing) = t
            .new_constraints
            .iter_mut()
            .find(|c| c.final_name.as_deref() == Some(fk.name.as_str()))
        {
            for c in existing.columns.iter_mut() {
                if c == old_physical {
                    *c = new_physical.to_string();
                }
            }
            continue;
        }
        let columns = fk
            .columns
            .iter()
            .map(|k| {
                if k == column {
                    new_physical.to_string()
                } else {
                    before
                        .column(k)
                        .map(|c| c.physical.clone())
                        .unwrap_or_else(|| k.clone())
                }
            })
            .collect();
        t.new_constraints.push(crate::schema::NewTableConstraint {
            name: temp_name("fk", &fk.name),
            final_name: Some(fk.name.clone()),
            kind: ConstraintKind::ForeignKey,
            columns,
            expression: None,
            references: Some((
                target.table.clone(),
                target.columns.clone(),
                target.on_delete.clone(),
            )),
            nulls_not_distinct: false,
            no_inherit: false,
            on_update: None,
            match_type: None,
        });
    }
}
