//! `set_replica_identity`: set at complete; it only matters to logical replication, which
//! follows the final schema.

use super::lifecycle::{PlanContext, Plannable};
use super::lookup;
use crate::error::OpError;
use crate::keywords::REPLICA_IDENTITIES;
use crate::locks::LockMode;
use crate::plan::{lock, OperationSteps, Step};
use crate::quote::{ident, qualified};
use crate::schema::Schema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetReplicaIdentity {
    pub table: String,
    pub identity: ReplicaIdentityDef,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplicaIdentityDef {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<String>,
}

impl Plannable for SetReplicaIdentity {
    fn plan(&self, ctx: &PlanContext, schema: &mut Schema) -> Result<OperationSteps, OpError> {
        let table = lookup::table(schema, &self.table)?;
        let clause = match REPLICA_IDENTITIES.pick("type", &self.identity.kind)? {
            "index" => {
                let Some(ix) = &self.identity.index else {
                    return Err(OpError::new(
                        "replica identity `index` names no index",
                        "add `index: <name>`",
                    ));
                };
                if !table.indexes.iter().any(|i| &i.name == ix) {
                    return Err(OpError::new(
                        format!("table `{}` has no index `{ix}`", self.table),
                        "name a unique index of the table",
                    ));
                }
                format!("USING INDEX {}", ident(ix))
            }
            other => other.to_ascii_uppercase(),
        };
        Ok(OperationSteps {
            finalize: vec![Step::sql(
                format!("set the replica identity of {}", self.table),
                vec![format!(
                    "ALTER TABLE {} REPLICA IDENTITY {clause}",
                    qualified(&ctx.schema, &table.name)
                )],
                vec![lock(&ctx.schema, &table.name, LockMode::AccessExclusive)],
            )],
            ..OperationSteps::default()
        })
    }
}
