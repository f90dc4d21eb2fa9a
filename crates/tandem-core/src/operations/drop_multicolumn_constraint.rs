//! `drop_multicolumn_constraint`: like drop_constraint, for a constraint over several
//! columns: each is copied without it, with its own `up` and `down`.

use super::alter_column::copy_columns;
use super::drop_constraint::{droppable_constraint, forget_constraint};
use super::{OpError, PlanContext, Plannable};
use crate::plan::OperationSteps;
use crate::schema::Schema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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

impl Plannable for DropMulticolumnConstraint {
    fn plan(&self, _ctx: &PlanContext, schema: &mut Schema) -> Result<OperationSteps, OpError> {
        let constraint = droppable_constraint(schema, &self.table, &self.name)?;
        copy_columns(
            schema,
            &self.table,
            &constraint.columns,
            &self.up,
            &self.down,
            Some(&self.name),
        )?;
        forget_constraint(schema, &self.table, &self.name)?;
        Ok(OperationSteps::default())
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{error, plan, statements};
    use crate::Phase;

    #[test]
    fn every_covered_column_is_copied_and_the_unique_index_not_rebuilt() {
        let planned = plan(
            "operations:\n  - drop_multicolumn_constraint: {table: users, name: users_name_email_key, up: {name: upper(name)}, down: {email: email}}\n",
        )
        .unwrap();
        let start = statements(&planned, Phase::Start);
        for column in ["_tandem_new_name", "_tandem_new_email"] {
            assert!(
                start
                    .iter()
                    .any(|s| s.contains(&format!("ADD COLUMN \"{column}\""))),
                "{column}: {start:#?}"
            );
        }
        assert!(
            start.iter().all(|s| !s.contains("users_name_email_key")),
            "{start:#?}"
        );
        assert!(statements(&planned, Phase::Complete)
            .iter()
            .all(|s| !s.contains("users_name_email_key")));
        assert!(start
            .iter()
            .any(|s| s.contains(r#"SET "_tandem_new_name" = (upper("name"))"#)));
        let users = planned.new_schema.table("users").unwrap();
        assert!(users.constraint("users_name_email_key").is_none());
    }

    #[test]
    fn up_and_down_may_only_name_covered_columns() {
        let (message, help) = error(
            "operations:\n  - drop_multicolumn_constraint: {table: users, name: users_name_email_key, up: {org: org}}\n",
        );
        assert!(
            message.contains("`up`/`down` name column `org`"),
            "{message}"
        );
        assert!(help.ends_with("name, email"), "{help}");
    }
}
