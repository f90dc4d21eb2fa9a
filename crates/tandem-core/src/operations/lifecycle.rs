//! What every operation shares: the facts about the server it is planned with
//! ([`PlanContext`]), the lifecycle it implements ([`Plannable`]) and the check of the names it
//! creates.

use crate::error::OpError;
use crate::plan::OperationSteps;
use crate::schema::Schema;
use std::collections::BTreeSet;

/// What the planner knows beyond the schema, gathered from the server before planning.
#[derive(Debug, Clone, Default)]
pub struct PlanContext {
    /// The physical schema, e.g. `public`.
    pub schema: String,
    /// `server_version_num`, e.g. 150004.
    pub server_version_num: i32,
    /// Default expressions (keyed by [`default_key`]) that PostgreSQL evaluates once per row
    /// when a column is added with them: adding such a column rewrites the table.
    pub volatile_defaults: BTreeSet<String>,
}

/// Key under which a default's volatility is recorded: the type and the expression.
pub fn default_key(data_type: &str, default: &str) -> String {
    format!("{data_type}\u{1f}{default}")
}

/// The lifecycle every operation implements.
pub(crate) trait Plannable {
    /// Validates against `schema` (the logical schema as the operations before this one left
    /// it), changes `schema` to what the new version sees, and returns the operation's steps.
    fn plan(&self, ctx: &PlanContext, schema: &mut Schema) -> Result<OperationSteps, OpError>;
}

/// Rejects names PostgreSQL would silently truncate.
pub(crate) fn check_identifier(what: &str, name: &str) -> Result<(), OpError> {
    if name.is_empty() {
        return Err(OpError::new(
            format!("the {what} name is empty"),
            "give it a name",
        ));
    }
    if name.len() > crate::versions::MAX_IDENTIFIER_BYTES {
        return Err(OpError::new(
            format!(
                "the {what} name `{name}` is {} bytes long; PostgreSQL truncates names to 63 bytes",
                name.len()
            ),
            "choose a shorter name",
        ));
    }
    Ok(())
}
