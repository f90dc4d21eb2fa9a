//! Plans of `drop_index`.

use super::{descriptions, error, locks, plan, step};
use tandem_core::Phase;

#[test]
fn dropped_concurrently_at_complete_only() {
    let planned = plan("operations:\n  - drop_index: {name: users_email_idx}\n").unwrap();
    let drop = step(&planned, Phase::Complete, "drop index users_email_idx");
    assert_eq!(
        drop.statements(),
        vec![r#"DROP INDEX CONCURRENTLY IF EXISTS "public"."users_email_idx""#]
    );
    assert!(!drop.transactional);
    assert_eq!(locks(drop), vec!["SHARE UPDATE EXCLUSIVE public.users"]);
    assert_eq!(
        descriptions(&planned, Phase::Start),
        vec!["create version schema public_02_change (one view per table)"]
    );
    let users = planned.new_schema.table("users").unwrap();
    assert!(users.indexes.iter().all(|i| i.name != "users_email_idx"));
}

#[test]
fn an_index_backing_a_constraint_or_missing_is_refused() {
    let (message, help) = error("operations:\n  - drop_index: {name: users_name_email_key}\n");
    assert!(
        message.contains("backs constraint `users_name_email_key`"),
        "{message}"
    );
    assert!(help.contains("drop_constraint"), "{help}");
    let (message, _) = error("operations:\n  - drop_index: {name: nope}\n");
    assert_eq!(message, "index `nope` does not exist in schema `public`");
}
