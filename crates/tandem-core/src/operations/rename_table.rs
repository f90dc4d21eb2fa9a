//! `rename_table`: the new version's view has the new name at once; the physical table is
//! renamed at complete (by the planner's final rename pass).

use super::lifecycle::{check_identifier, PlanContext, Plannable};
use super::lookup;
use crate::error::OpError;
use crate::plan::OperationSteps;
use crate::schema::Schema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenameTable {
    pub from: String,
    pub to: String,
}

impl Plannable for RenameTable {
    fn plan(&self, _ctx: &PlanContext, schema: &mut Schema) -> Result<OperationSteps, OpError> {
        check_identifier("table", &self.to)?;
        let from_physical = lookup::table(schema, &self.from)?.physical.clone();
        if self.to != from_physical && schema.name_taken(&self.to) {
            return Err(OpError::new(
                format!("a table or index named `{}` already exists", self.to),
                "choose another name",
            ));
        }
        lookup::table_mut(schema, &self.from)?.name = self.to.clone();
        Ok(OperationSteps::default())
    }
}
