//! `drop_constraint`: the constrained column gets a copy without the constraint, synced by
//! `up` (old → new) and `down` (new → old, so the old version's constraint keeps holding),
//! exactly like alter_column; complete drops the old column, and the constraint with it.

use super::alter_column::AlterColumn;
use super::{lookup, OpError, PlanContext, Plannable};
use crate::plan::OperationSteps;
use crate::schema::{Constraint, ConstraintKind, Schema};
use serde::{Deserialize, Serialize};

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

impl Plannable for DropConstraint {
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
        AlterColumn {
            up: self.up.clone(),
            down: self.down.clone(),
            without_constraint: Some(self.name.clone()),
            ..AlterColumn::copy_of(&self.table, column)
        }
        .plan_change(schema)?;
        forget_constraint(schema, &self.table, &self.name)?;
        Ok(OperationSteps::default())
    }
}

/// A CHECK, UNIQUE or FOREIGN KEY constraint of `table` that drop_constraint or
/// drop_multicolumn_constraint may drop.
pub(crate) fn droppable_constraint(
    schema: &Schema,
    table: &str,
    name: &str,
) -> Result<Constraint, OpError> {
    let constraint = lookup::constraint(lookup::table(schema, table)?, name)?;
    use ConstraintKind::*;
    if !matches!(constraint.kind, Check | Unique | ForeignKey) {
        return Err(OpError::new(
            format!("constraint `{name}` is not a CHECK, UNIQUE or FOREIGN KEY constraint"),
            "primary keys and exclusion constraints cannot be dropped this way; use a `sql` operation",
        ));
    }
    Ok(constraint.clone())
}

/// The new version no longer has the constraint.
pub(crate) fn forget_constraint(
    schema: &mut Schema,
    table: &str,
    name: &str,
) -> Result<(), OpError> {
    lookup::table_mut(schema, table)?
        .constraints
        .retain(|c| c.name != name);
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::testing::{error, plan, statements, step};
    use crate::Phase;

    #[test]
    fn the_column_is_copied_without_the_constraint_and_the_old_one_dropped_at_complete() {
        let planned = plan(
            "operations:\n  - drop_constraint: {table: users, name: users_email_check, up: email, down: \"COALESCE(email, 'x')\"}\n",
        )
        .unwrap();
        let start = statements(&planned, Phase::Start);
        assert!(start.contains(
            &r#"ALTER TABLE "public"."users" ADD COLUMN "_tandem_new_email" text"#.to_string()
        ));
        assert!(
            start.iter().all(|s| !s.contains("users_email_check")),
            "the copy has no CHECK: {start:#?}"
        );
        let teardown = step(
            &planned,
            Phase::Complete,
            "drop the dual-write trigger of users with the old columns",
        )
        .statements();
        assert!(
            teardown.contains(&r#"ALTER TABLE "public"."users" DROP COLUMN "email""#.to_string())
        );
        // The hash index on the column is rebuilt on the copy, under its own name at complete.
        assert!(statements(&planned, Phase::Complete).contains(
            &r#"ALTER INDEX "public"."_tandem_index_users_email_idx" RENAME TO "users_email_idx""#
                .to_string()
        ));
        let users = planned.new_schema.table("users").unwrap();
        assert!(users.constraint("users_email_check").is_none());
        // `down` keeps the old version's CHECK true for rows the new version writes.
        let down = planned
            .probes
            .iter()
            .find(|p| p.kind == crate::ProbeKind::Down("email".into()))
            .expect("a `down` probe");
        assert_eq!(down.expression, r#"(COALESCE("_tandem_new_email", 'x'))"#);
        assert!(!down.kind.must_hold(), "a bad `down` only warns");
    }

    #[test]
    fn a_foreign_key_copy_leaves_the_key_out() {
        let planned =
            plan("operations:\n  - drop_constraint: {table: users, name: users_org_fkey}\n")
                .unwrap();
        assert!(statements(&planned, Phase::Start)
            .iter()
            .all(|s| !s.contains("FOREIGN KEY")));
    }

    #[test]
    fn multi_column_primary_key_and_unknown_constraints_are_refused() {
        let (message, help) =
            error("operations:\n  - drop_constraint: {table: users, name: users_name_email_key}\n");
        assert_eq!(
            message,
            "constraint `users_name_email_key` covers 2 columns"
        );
        assert!(help.contains("drop_multicolumn_constraint"), "{help}");
        let (message, _) =
            error("operations:\n  - drop_constraint: {table: users, name: users_pkey}\n");
        assert!(
            message.contains("is not a CHECK, UNIQUE or FOREIGN KEY"),
            "{message}"
        );
        let (message, _) = error("operations:\n  - drop_constraint: {table: users, name: nope}\n");
        assert_eq!(message, "table `users` has no constraint `nope`");
    }
}
