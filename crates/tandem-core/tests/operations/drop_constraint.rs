//! Plans of `drop_constraint`.

use super::{error, plan, statements, step};
use tandem_core::Phase;

#[test]
fn the_column_is_copied_without_the_constraint_and_the_old_one_dropped_at_complete() {
    let planned = plan(
            "operations:\n  - drop_constraint: {table: users, name: users_email_check, up: email, down: \"COALESCE(email, 'x')\"}\n",
        )
        .unwrap();
    let start = statements(&planned, Phase::Start);
    assert!(start.contains(
        &r#"ALTER TABLE "public"."users" ADD COLUMN "_tandem_new_email" text"#.to_string()
    ));
    assert!(
        start.iter().all(|s| !s.contains("users_email_check")),
        "the copy has no CHECK: {start:#?}"
    );
    let teardown = step(
        &planned,
        Phase::Complete,
        "drop the dual-write trigger of users with the old columns",
    )
    .statements();
    assert!(teardown.contains(&r#"ALTER TABLE "public"."users" DROP COLUMN "email""#.to_string()));
    // The hash index on the column is rebuilt on the copy, under its own name at complete.
    assert!(statements(&planned, Phase::Complete).contains(
        &r#"ALTER INDEX "public"."_tandem_index_users_email_idx" RENAME TO "users_email_idx""#
            .to_string()
    ));
    let users = planned.new_schema.table("users").unwrap();
    assert!(users.constraint("users_email_check").is_none());
    // `down` keeps the old version's CHECK true for rows the new version writes.
    let down = planned
        .probes
        .iter()
        .find(|p| p.kind == tandem_core::ProbeKind::Down("email".into()))
        .expect("a `down` probe");
    assert_eq!(down.expression, r#"(COALESCE("_tandem_new_email", 'x'))"#);
    assert!(!down.kind.must_hold(), "a bad `down` only warns");
}

#[test]
fn a_foreign_key_copy_leaves_the_key_out() {
    let planned =
        plan("operations:\n  - drop_constraint: {table: users, name: users_org_fkey}\n").unwrap();
    assert!(statements(&planned, Phase::Start)
        .iter()
        .all(|s| !s.contains("FOREIGN KEY")));
}

#[test]
fn multi_column_primary_key_and_unknown_constraints_are_refused() {
    let (message, help) =
        error("operations:\n  - drop_constraint: {table: users, name: users_name_email_key}\n");
    assert_eq!(
        message,
        "constraint `users_name_email_key` covers 2 columns"
    );
    assert!(help.contains("drop_multicolumn_constraint"), "{help}");
    let (message, _) =
        error("operations:\n  - drop_constraint: {table: users, name: users_pkey}\n");
    assert!(
        message.contains("is not a CHECK, UNIQUE or FOREIGN KEY"),
        "{message}"
    );
    let (message, _) = error("operations:\n  - drop_constraint: {table: users, name: nope}\n");
    assert_eq!(message, "table `users` has no constraint `nope`");
}
