//! `drop_index`: the index stays until complete (the old version may rely on it), then is
//! dropped CONCURRENTLY.

use super::{OpError, PlanContext, Plannable};
use crate::ddl;
use crate::locks::LockMode;
use crate::plan::{lock, OperationSteps, Step};
use crate::schema::Schema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DropIndex {
    pub name: String,
}

impl Plannable for DropIndex {
    fn plan(&self, ctx: &PlanContext, schema: &mut Schema) -> Result<OperationSteps, OpError> {
        let schema_name = schema.name.clone();
        let Some(table) = schema
            .tables
            .iter_mut()
            .find(|t| t.indexes.iter().any(|i| i.name == self.name))
        else {
            return Err(OpError::new(
                format!(
                    "index `{}` does not exist in schema `{schema_name}`",
                    self.name
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
                vec![ddl::drop_index_concurrently(&ctx.schema, &self.name)],
                vec![lock(&ctx.schema, &physical, LockMode::ShareUpdateExclusive)],
            )
            .non_transactional()],
            ..OperationSteps::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{descriptions, error, locks, plan, step};
    use crate::Phase;

    #[test]
    fn dropped_concurrently_at_complete_only() {
        let planned = plan("operations:\n  - drop_index: {name: users_email_idx}\n").unwrap();
        let drop = step(&planned, Phase::Complete, "drop index users_email_idx");
        assert_eq!(
            drop.statements(),
            vec![r#"DROP INDEX CONCURRENTLY IF EXISTS "public"."users_email_idx""#]
        );
        assert!(!drop.transactional);
        assert_eq!(locks(drop), vec!["SHARE UPDATE EXCLUSIVE public.users"]);
        assert_eq!(
            descriptions(&planned, Phase::Start),
            vec!["create version schema public_02_change (one view per table)"]
        );
        let users = planned.new_schema.table("users").unwrap();
        assert!(users.indexes.iter().all(|i| i.name != "users_email_idx"));
    }

    #[test]
    fn an_index_backing_a_constraint_or_missing_is_refused() {
        let (message, help) = error("operations:\n  - drop_index: {name: users_name_email_key}\n");
        assert!(
            message.contains("backs constraint `users_name_email_key`"),
            "{message}"
        );
        assert!(help.contains("drop_constraint"), "{help}");
        let (message, _) = error("operations:\n  - drop_index: {name: nope}\n");
        assert_eq!(message, "index `nope` does not exist in schema `public`");
    }
}
