//! `create_constraint`: the covered columns are copied (synced by `up`/`down`, backfilled and
//! verified), and the constraint is put on the copies: CHECK and FOREIGN KEY NOT VALID then
//! validated at complete, UNIQUE and PRIMARY KEY through an index built CONCURRENTLY and
//! attached at complete (see `sync::constraints`). The old version keeps writing the old
//! columns, unconstrained.

use super::alter_column::copy_columns;
use super::column::TableReferenceDef;
use super::{check_identifier, lookup, OpError, PlanContext, Plannable};
use crate::expressions::{new_value, rewrite_logical};
use crate::keywords::REFERENTIAL_ACTIONS;
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
    fn plan(&self, _ctx: &PlanContext, schema: &mut Schema) -> Result<OperationSteps, OpError> {
        check_identifier("constraint", &self.name)?;
        let table = lookup::table(schema, &self.table)?.clone();
        if table.constraint(&self.name).is_some() || schema.index_exists(&self.name) {
            return Err(OpError::new(
                format!("a constraint or index named `{}` already exists", self.name),
                "choose another name",
            ));
        }
        let kind = self.constraint_kind()?;
        if self.columns.is_empty() {
            return Err(OpError::new(
                format!("constraint `{}` lists no columns", self.name),
                "list them under `columns:`",
            ));
        }
        for c in &self.columns {
            lookup::column(&table, c)?;
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
                constraint.references = Some(self.references_of(schema)?);
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
        });
        if kind == ConstraintKind::PrimaryKey {
            t.primary_key = self.columns.clone();
        }
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
        let Some(r) = &self.references else {
            return Err(OpError::new(
                format!("foreign key `{}` has no `references`", self.name),
                "add `references: {table: ..., columns: [...]}`",
            ));
        };
        let target: &Table = lookup::table(schema, &r.table)?;
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

#[cfg(test)]
mod tests {
    use crate::testing::{error, locks, plan, plan_on, schema, statements, step};
    use crate::Phase;

    #[test]
    fn a_check_goes_on_a_backfilled_copy_not_valid_then_validated() {
        let planned = plan(
            r#"operations:
  - create_constraint:
      table: users
      name: name_long
      type: check
      columns: [name]
      check: length(name) > 2
      up: {name: "CASE WHEN length(name) > 2 THEN name ELSE name || '---' END"}
"#,
        )
        .unwrap();
        let start = statements(&planned, Phase::Start);
        assert!(start.contains(
            &r#"ALTER TABLE "public"."users" ADD CONSTRAINT "name_long" CHECK ((length("_tandem_new_name") > 2)) NOT VALID"#.to_string()
        ), "{start:#?}");
        assert_eq!(
            step(&planned, Phase::Start, "backfill users").statements(),
            vec![
                r#"UPDATE "public"."users" SET "_tandem_new_name" = (CASE WHEN length("name") > 2 THEN "name" ELSE "name" || '---' END) WHERE <key range of one batch>  -- batches of about 100 ms, each committed with its checkpoint"#
            ]
        );
        assert_eq!(
            step(&planned, Phase::Complete, "validate constraint name_long").statements(),
            vec![r#"ALTER TABLE "public"."users" VALIDATE CONSTRAINT "name_long""#]
        );
        let verify = step(&planned, Phase::Start, "verify every row of users").statements();
        assert!(
            verify.iter().any(|v| v.contains("check name_long")),
            "{verify:#?}"
        );
    }

    #[test]
    fn a_unique_constraint_over_several_columns_is_an_index_attached_at_complete() {
        let planned = plan(
            "operations:\n  - create_constraint: {table: users, name: uq, type: unique, columns: [name, Mixed], nulls_not_distinct: true}\n",
        )
        .unwrap();
        let build = step(
            &planned,
            Phase::Start,
            "build index uq without blocking writes",
        );
        assert_eq!(
            build.statements()[1],
            r#"CREATE UNIQUE INDEX CONCURRENTLY "uq" ON "public"."users" USING "btree" ("_tandem_new_name", "_tandem_new_Mixed") NULLS NOT DISTINCT"#
        );
        assert!(!build.transactional);
        assert_eq!(
            step(
                &planned,
                Phase::Complete,
                "attach the index uq as a UNIQUE constraint"
            )
            .statements(),
            vec![r#"ALTER TABLE "public"."users" ADD CONSTRAINT "uq" UNIQUE USING INDEX "uq""#]
        );
    }

    #[test]
    fn a_foreign_key_locks_the_referenced_table_and_is_validated_at_complete() {
        let planned = plan(
            "operations:\n  - create_constraint: {table: users, name: fk, type: foreign_key, columns: [org], references: {table: Orgs, columns: [id], on_delete: set null}}\n",
        )
        .unwrap();
        let add = step(
            &planned,
            Phase::Start,
            "add the new version's columns of users and the dual-write trigger",
        );
        assert!(add.statements().contains(
            &r#"ALTER TABLE "public"."users" ADD CONSTRAINT "fk" FOREIGN KEY ("_tandem_new_org") REFERENCES "public"."Orgs" ("id") ON DELETE SET NULL NOT VALID"#.to_string()
        ), "{:#?}", add.statements());
        assert!(locks(add).contains(&"SHARE ROW EXCLUSIVE public.Orgs".to_string()));
        let validate = step(&planned, Phase::Complete, "validate constraint fk");
        assert_eq!(
            locks(validate),
            vec![
                "SHARE UPDATE EXCLUSIVE public.users",
                "ROW SHARE public.Orgs"
            ]
        );
    }

    #[test]
    fn a_primary_key_makes_its_copies_not_null_and_needs_a_table_without_one() {
        let mut schema = schema();
        schema.table_mut("Orgs").unwrap().primary_key.clear();
        let planned = plan_on(
            &schema,
            "operations:\n  - create_constraint: {table: Orgs, name: orgs_pkey, type: primary_key, columns: [id, title], up: {title: \"COALESCE(title, '')\"}}\n",
        )
        .unwrap();
        let start = statements(&planned, Phase::Start);
        assert!(start.contains(
            &r#"ALTER TABLE "public"."Orgs" ADD CONSTRAINT "_tandem_nn__tandem_new_title" CHECK ("_tandem_new_title" IS NOT NULL) NOT VALID"#.to_string()
        ), "{start:#?}");
        assert_eq!(
            step(
                &planned,
                Phase::Complete,
                "attach the index orgs_pkey as a PRIMARY KEY constraint"
            )
            .statements(),
            vec![
                r#"ALTER TABLE "public"."Orgs" ADD CONSTRAINT "orgs_pkey" PRIMARY KEY USING INDEX "orgs_pkey""#
            ]
        );
        assert_eq!(
            planned.new_schema.table("Orgs").unwrap().primary_key,
            vec!["id", "title"]
        );
        let e = plan(
            "operations:\n  - create_constraint: {table: users, name: users_email_pkey, type: primary_key, columns: [email]}\n",
        )
        .expect_err("users has a primary key");
        assert!(
            e.message.contains("already has a primary key"),
            "{}",
            e.message
        );
    }

    #[test]
    fn bad_definitions_are_refused() {
        let (message, help) = error(
            "operations:\n  - create_constraint: {table: users, name: x, type: exclude, columns: [name]}\n",
        );
        assert!(message.contains("constraint type `exclude`"), "{message}");
        assert!(
            help.contains("unique, check, foreign_key or primary_key"),
            "{help}"
        );
        let (message, _) = error(
            "operations:\n  - create_constraint: {table: users, name: x, type: check, columns: [name]}\n",
        );
        assert!(message.contains("has no `check` expression"), "{message}");
        let (message, _) = error(
            "operations:\n  - create_constraint: {table: users, name: x, type: foreign_key, columns: [org], references: {table: Orgs, columns: [id], on_delete: explode}}\n",
        );
        assert!(message.contains("is not a referential action"), "{message}");
        let (message, _) = error(
            "operations:\n  - create_constraint: {table: users, name: users_email_idx, type: unique, columns: [name]}\n",
        );
        assert!(message.contains("already exists"), "{message}");
    }
}
