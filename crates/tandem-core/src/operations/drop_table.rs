//! `drop_table`: the new version no longer sees the table; it is dropped at complete.

use super::lifecycle::{PlanContext, Plannable};
use super::lookup;
use crate::error::OpError;
use crate::locks::LockMode;
use crate::plan::{lock, OperationSteps, Step};
use crate::quote::qualified;
use crate::schema::Schema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DropTable {
    pub name: String,
}

impl Plannable for DropTable {
    fn plan(&self, ctx: &PlanContext, schema: &mut Schema) -> Result<OperationSteps, OpError> {
        let t = lookup::table(schema, &self.name)?;
        let physical = t.physical.clone();
        schema.tables.retain(|t| t.name != self.name);
        Ok(OperationSteps {
            contract: vec![Step::sql(
                format!("drop table {}", self.name),
                vec![format!("DROP TABLE {}", qualified(&ctx.schema, &physical))],
                vec![lock(&ctx.schema, &physical, LockMode::AccessExclusive)],
            )],
            ..OperationSteps::default()
        })
    }
}
