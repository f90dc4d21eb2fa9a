//! `drop_multicolumn_constraint`: like drop_constraint, for a constraint over several
//! columns: each is copied without it, with its own `up` and `down`.

use super::alter_column::copy_columns;
use super::drop_constraint::{droppable_constraint, forget_constraint};
use super::lifecycle::{PlanContext, Plannable};
use crate::error::OpError;
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
