//! `drop_column`: the new version no longer sees the column; it is dropped at complete, so the
//! old version keeps reading and writing it until then.

use super::lifecycle::{PlanContext, Plannable};
use super::lookup;
use crate::error::OpError;
use crate::expressions::{new_value, rewrite_logical};
use crate::locks::LockMode;
use crate::plan::{lock, OperationSteps, Step};
use crate::quote::{ident, qualified};
use crate::schema::{Schema, SyncColumn};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DropColumn {
    pub table: String,
    pub column: String,
    /// The value the old version sees for rows the new version writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub down: Option<String>,
}

impl Plannable for DropColumn {
    fn plan(&self, ctx: &PlanContext, schema: &mut Schema) -> Result<OperationSteps, OpError> {
        let t = lookup::table(schema, &self.table)?;
        let col = lookup::column(t, &self.column)?;
        if t.primary_key.contains(&self.column) {
            return Err(OpError::new(
                format!("column `{}.{}` is part of the primary key", self.table, self.column),
                "give the table another primary key first (create_constraint), then drop the column",
            ));
        }
        if self.down.is_none()
            && !col.nullable
            && col.default.is_none()
            && !col.generated
            && !t.created_here
        {
            return Err(OpError::new(
                format!(
                    "column `{}.{}` is NOT NULL without a default: rows inserted through the new version would have no value for it and fail",
                    self.table, self.column
                ),
                "give the column a default first (alter_column), or drop NOT NULL, or give drop_column a `down` expression",
            ));
        }
        let physical_table = t.physical.clone();
        let physical_column = col.physical.clone();
        // With `down`, rows the new version writes get the old column's value from it.
        let down = match &self.down {
            Some(d) if !t.created_here => Some(rewrite_logical("down", d, schema, t, new_value)?),
            _ => None,
        };
        if let Some(t) = schema.table_mut(&self.table) {
            t.columns.retain(|c| c.name != self.column);
            t.constraints.retain(|c| !c.columns.contains(&self.column));
            t.indexes.retain(|i| !i.columns.contains(&self.column));
            if let Some(down) = down {
                t.sync.push(SyncColumn {
                    old_physical: Some(physical_column.clone()),
                    new_physical: None,
                    up: None,
                    down: Some(down),
                    new_column: None,
                });
            }
        }
        Ok(OperationSteps {
            contract: vec![Step::sql(
                format!("drop column {}.{}", self.table, self.column),
                vec![format!(
                    "ALTER TABLE {} DROP COLUMN IF EXISTS {}",
                    qualified(&ctx.schema, &physical_table),
                    ident(&physical_column)
                )],
                vec![lock(
                    &ctx.schema,
                    &physical_table,
                    LockMode::AccessExclusive,
                )],
            )],
            ..OperationSteps::default()
        })
    }
}
