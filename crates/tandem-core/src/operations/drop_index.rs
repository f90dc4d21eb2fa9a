//! `drop_index`: the index stays until complete (the old version may rely on it), then is
//! dropped CONCURRENTLY.

use super::lifecycle::{PlanContext, Plannable};
use crate::ddl;
use crate::error::OpError;
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
        // A partitioned index cannot be dropped concurrently: the plain drop takes its
        // partitions' indexes along, under a brief ACCESS EXCLUSIVE lock.
        let (drop, mode) = if table.partitioning.is_some() {
            (
                ddl::drop_built_index(&ctx.schema, &self.name, Some(&[])),
                LockMode::AccessExclusive,
            )
        } else {
            (
                vec![ddl::drop_index_concurrently(&ctx.schema, &self.name)],
                LockMode::ShareUpdateExclusive,
            )
        };
        Ok(OperationSteps {
            contract: vec![Step::sql(
                format!("drop index {}", self.name),
                drop,
                vec![lock(&ctx.schema, &physical, mode)],
            )
            .non_transactional()],
            ..OperationSteps::default()
        })
    }
}
