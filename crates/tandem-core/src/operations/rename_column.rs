//! `rename_column`: the new version sees the new name at once; the physical column is renamed
//! at complete (by the planner's final rename pass), so the old version keeps working.

use super::lifecycle::{check_identifier, PlanContext, Plannable};
use super::lookup;
use crate::error::OpError;
use crate::plan::OperationSteps;
use crate::schema::Schema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenameColumn {
    pub table: String,
    pub from: String,
    pub to: String,
}

impl Plannable for RenameColumn {
    fn plan(&self, _ctx: &PlanContext, schema: &mut Schema) -> Result<OperationSteps, OpError> {
        rename_column(schema, &self.table, &self.from, &self.to)?;
        Ok(OperationSteps::default())
    }
}

/// Renames a column of the logical schema (shared with alter_column's `name`).
pub(crate) fn rename_column(
    schema: &mut Schema,
    table: &str,
    from: &str,
    to: &str,
) -> Result<(), OpError> {
    check_identifier("column", to)?;
    let t = lookup::table(schema, table)?;
    lookup::column(t, from)?;
    if from == to {
        return Err(OpError::new(
            format!("rename_column renames `{table}.{from}` to its own name"),
            "give `to` a different name, or remove the operation",
        ));
    }
    if t.column(to).is_some() {
        return Err(OpError::new(
            format!("table `{table}` already has a column `{to}`"),
            "choose another name",
        ));
    }
    let t = lookup::table_mut(schema, table)?;
    for c in t.columns.iter_mut().filter(|c| c.name == from) {
        c.name = to.to_string();
    }
    for k in t.primary_key.iter_mut().filter(|k| k.as_str() == from) {
        *k = to.to_string();
    }
    for c in t
        .constraints
        .iter_mut()
        .flat_map(|c| c.columns.iter_mut())
        .chain(t.indexes.iter_mut().flat_map(|i| i.columns.iter_mut()))
    {
        if c == from {
            *c = to.to_string();
        }
    }
    Ok(())
}
