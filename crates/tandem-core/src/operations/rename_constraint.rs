//! `rename_constraint`: renamed at complete, since the old version may name the constraint
//! (in its error handling); the new version sees the new name in the logical schema at once.

use super::{check_identifier, lookup, OpError, PlanContext, Plannable};
use crate::ddl;
use crate::plan::OperationSteps;
use crate::schema::Schema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenameConstraint {
    pub table: String,
    pub from: String,
    pub to: String,
}

impl Plannable for RenameConstraint {
    fn plan(&self, ctx: &PlanContext, schema: &mut Schema) -> Result<OperationSteps, OpError> {
        check_identifier("constraint", &self.to)?;
        let table = lookup::table_mut(schema, &self.table)?;
        if table.constraint(&self.to).is_some() {
            return Err(OpError::new(
                format!(
                    "table `{}` already has a constraint `{}`",
                    self.table, self.to
                ),
                "choose another name",
            ));
        }
        lookup::constraint(table, &self.from)?;
        for c in table.constraints.iter_mut().filter(|c| c.name == self.from) {
            c.name = self.to.clone();
        }
        Ok(OperationSteps {
            finalize: vec![ddl::rename_constraint_step(
                format!("rename constraint {} to {}", self.from, self.to),
                &ctx.schema,
                &table.name,
                &self.from,
                &self.to,
            )],
            ..OperationSteps::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{error, locks, plan, statements, step};
    use crate::Phase;

    #[test]
    fn renamed_at_complete_on_the_table_s_final_name() {
        let planned = plan(
            "operations:\n  - rename_table: {from: users, to: people}\n  - rename_constraint: {table: people, from: users_email_check, to: email_check}\n",
        )
        .unwrap();
        let rename = step(
            &planned,
            Phase::Complete,
            "rename constraint users_email_check to email_check",
        );
        assert_eq!(
            rename.statements(),
            vec![
                r#"ALTER TABLE "public"."people" RENAME CONSTRAINT "users_email_check" TO "email_check""#
            ]
        );
        assert_eq!(locks(rename), vec!["ACCESS EXCLUSIVE public.people"]);
        // After the table's own rename, which it depends on.
        let complete = statements(&planned, Phase::Complete);
        let table = complete
            .iter()
            .position(|s| s.contains("RENAME TO"))
            .unwrap();
        let constraint = complete
            .iter()
            .position(|s| s.contains("RENAME CONSTRAINT"))
            .unwrap();
        assert!(table < constraint, "{complete:#?}");
        let people = planned.new_schema.table("people").unwrap();
        assert!(people.constraint("email_check").is_some());
        assert!(people.constraint("users_email_check").is_none());
    }

    #[test]
    fn unknown_names_and_taken_names_are_refused() {
        let (message, help) =
            error("operations:\n  - rename_constraint: {table: nope, from: a, to: b}\n");
        assert_eq!(message, "table `nope` does not exist in schema `public`");
        assert_eq!(help, "the tables are: users, Orgs");
        let (message, help) =
            error("operations:\n  - rename_constraint: {table: users, from: nope, to: b}\n");
        assert_eq!(message, "table `users` has no constraint `nope`");
        assert!(help.contains("users_email_check"), "{help}");
        let (message, _) = error(
            "operations:\n  - rename_constraint: {table: users, from: users_email_check, to: users_org_fkey}\n",
        );
        assert!(
            message.contains("already has a constraint `users_org_fkey`"),
            "{message}"
        );
    }
}
