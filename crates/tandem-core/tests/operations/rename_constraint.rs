//! Plans of `rename_constraint`.

use super::{error, locks, plan, statements, step};
use tandem_core::Phase;

#[test]
fn renamed_at_complete_on_the_table_s_final_name() {
    let planned = plan(
            "operations:\n  - rename_table: {from: users, to: people}\n  - rename_constraint: {table: people, from: users_email_check, to: email_check}\n",
        )
        .unwrap();
    let rename = step(
        &planned,
        Phase::Complete,
        "rename constraint users_email_check to email_check",
    );
    assert_eq!(
        rename.statements(),
        vec![
            r#"ALTER TABLE "public"."people" RENAME CONSTRAINT "users_email_check" TO "email_check""#
        ]
    );
    assert_eq!(locks(rename), vec!["ACCESS EXCLUSIVE public.people"]);
    // After the table's own rename, which it depends on.
    let complete = statements(&planned, Phase::Complete);
    let table = complete
        .iter()
        .position(|s| s.contains("RENAME TO"))
        .unwrap();
    let constraint = complete
        .iter()
        .position(|s| s.contains("RENAME CONSTRAINT"))
        .unwrap();
    assert!(table < constraint, "{complete:#?}");
    let people = planned.new_schema.table("people").unwrap();
    assert!(people.constraint("email_check").is_some());
    assert!(people.constraint("users_email_check").is_none());
}

#[test]
fn unknown_names_and_taken_names_are_refused() {
    let (message, help) =
        error("operations:\n  - rename_constraint: {table: nope, from: a, to: b}\n");
    assert_eq!(message, "table `nope` does not exist in schema `public`");
    assert_eq!(help, "the tables are: users, Orgs");
    let (message, help) =
        error("operations:\n  - rename_constraint: {table: users, from: nope, to: b}\n");
    assert_eq!(message, "table `users` has no constraint `nope`");
    assert!(help.contains("users_email_check"), "{help}");
    let (message, _) = error(
            "operations:\n  - rename_constraint: {table: users, from: users_email_check, to: users_org_fkey}\n",
        );
    assert!(
        message.contains("already has a constraint `users_org_fkey`"),
        "{message}"
    );
}
