//! `drop_constraint`: the constrained column gets a copy without the constraint, synced by
//! `up` (old → new) and `down` (new → old, so the old version's constraint keeps holding),
//! exactly like alter_column; complete drops the old column, and the constraint with it.

use super::alter_column::AlterColumn;
use super::lifecycle::{PlanContext, Plannable};
use super::lookup;
use crate::error::OpError;
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
