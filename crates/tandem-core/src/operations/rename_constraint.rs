//! `rename_constraint`: renamed at complete, since the old version may name the constraint
//! (in its error handling); the new version sees the new name in the logical schema at once.

use super::lifecycle::{check_identifier, PlanContext, Plannable};
use super::lookup;
use crate::ddl;
use crate::error::OpError;
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
