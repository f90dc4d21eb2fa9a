//! `set_replica_identity`: set at complete; it only matters to logical replication, which
//! follows the final schema.

use super::{lookup, OpError, PlanContext, Plannable};
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

#[cfg(test)]
mod tests {
    use crate::testing::{error, locks, plan, step};
    use crate::Phase;

    fn statement(identity: &str) -> Vec<String> {
        let planned = plan(&format!(
            "operations:\n  - set_replica_identity: {{table: Orgs, identity: {identity}}}\n"
        ))
        .unwrap();
        let set = step(
            &planned,
            Phase::Complete,
            "set the replica identity of Orgs",
        );
        assert_eq!(locks(set), vec!["ACCESS EXCLUSIVE public.Orgs"]);
        set.statements()
    }

    #[test]
    fn set_at_complete_for_every_type() {
        assert_eq!(
            statement("{type: Full}"),
            vec![r#"ALTER TABLE "public"."Orgs" REPLICA IDENTITY FULL"#]
        );
        assert_eq!(
            statement("{type: nothing}"),
            vec![r#"ALTER TABLE "public"."Orgs" REPLICA IDENTITY NOTHING"#]
        );
        assert_eq!(
            statement("{type: default}"),
            vec![r#"ALTER TABLE "public"."Orgs" REPLICA IDENTITY DEFAULT"#]
        );
        let planned = plan(
            "operations:\n  - set_replica_identity: {table: users, identity: {type: index, index: users_pkey}}\n",
        )
        .unwrap();
        assert_eq!(
            step(
                &planned,
                Phase::Complete,
                "set the replica identity of users"
            )
            .statements(),
            vec![r#"ALTER TABLE "public"."users" REPLICA IDENTITY USING INDEX "users_pkey""#]
        );
    }

    #[test]
    fn a_bad_type_or_index_is_refused() {
        let (message, help) = error(
            "operations:\n  - set_replica_identity: {table: users, identity: {type: weird}}\n",
        );
        assert_eq!(message, "`type: weird` is not a replica identity type");
        assert_eq!(help, "use one of: nothing, default, full, index");
        let (message, _) = error(
            "operations:\n  - set_replica_identity: {table: users, identity: {type: index}}\n",
        );
        assert!(message.contains("names no index"), "{message}");
        let (message, _) = error(
            "operations:\n  - set_replica_identity: {table: users, identity: {type: index, index: nope}}\n",
        );
        assert_eq!(message, "table `users` has no index `nope`");
    }
}
