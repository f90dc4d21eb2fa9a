//! Plans of `set_replica_identity`.

use super::{error, locks, plan, step};
use tandem_core::Phase;

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
    let (message, help) =
        error("operations:\n  - set_replica_identity: {table: users, identity: {type: weird}}\n");
    assert_eq!(message, "`type: weird` is not a replica identity type");
    assert_eq!(help, "use one of: nothing, default, full, index");
    let (message, _) =
        error("operations:\n  - set_replica_identity: {table: users, identity: {type: index}}\n");
    assert!(message.contains("names no index"), "{message}");
    let (message, _) = error(
            "operations:\n  - set_replica_identity: {table: users, identity: {type: index, index: nope}}\n",
        );
    assert_eq!(message, "table `users` has no index `nope`");
}
