//! Plans of `drop_multicolumn_constraint`.

use super::{error, plan, statements};
use tandem_core::Phase;

#[test]
fn every_covered_column_is_copied_and_the_unique_index_not_rebuilt() {
    let planned = plan(
            "operations:\n  - drop_multicolumn_constraint: {table: users, name: users_name_email_key, up: {name: upper(name)}, down: {email: email}}\n",
        )
        .unwrap();
    let start = statements(&planned, Phase::Start);
    for column in ["_tandem_new_name", "_tandem_new_email"] {
        assert!(
            start
                .iter()
                .any(|s| s.contains(&format!("ADD COLUMN \"{column}\""))),
            "{column}: {start:#?}"
        );
    }
    assert!(
        start.iter().all(|s| !s.contains("users_name_email_key")),
        "{start:#?}"
    );
    assert!(statements(&planned, Phase::Complete)
        .iter()
        .all(|s| !s.contains("users_name_email_key")));
    assert!(start
        .iter()
        .any(|s| s.contains(r#"SET "_tandem_new_name" = (upper("name"))"#)));
    let users = planned.new_schema.table("users").unwrap();
    assert!(users.constraint("users_name_email_key").is_none());
}

#[test]
fn up_and_down_may_only_name_covered_columns() {
    let (message, help) = error(
            "operations:\n  - drop_multicolumn_constraint: {table: users, name: users_name_email_key, up: {org: org}}\n",
        );
    assert!(
        message.contains("`up`/`down` name column `org`"),
        "{message}"
    );
    assert!(help.ends_with("name, email"), "{help}");
}
