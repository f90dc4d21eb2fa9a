//! Plans of `create_index`.

use super::{error, locks, plan, statements, step};
use tandem_core::Phase;

#[test]
fn built_concurrently_after_the_backfill_with_every_option_and_dropped_at_rollback() {
    let planned = plan(
            r#"operations:
  - create_index:
      name: ix
      table: users
      columns: [{column: Mixed, collate: C, sort: desc, nulls: last, opclass: {name: text_pattern_ops}}, email]
      method: GIN
      unique: true
      storage_parameters: fillfactor=70
      predicate: email IS NOT NULL
"#,
        )
        .unwrap();
    let build = step(
        &planned,
        Phase::Start,
        "build index ix without blocking writes",
    );
    assert_eq!(
        build.statements(),
        vec![
            r#"DROP INDEX CONCURRENTLY IF EXISTS "public"."ix""#,
            r#"CREATE UNIQUE INDEX CONCURRENTLY "ix" ON "public"."users" USING "gin" ("Mixed" COLLATE "C" "text_pattern_ops" DESC NULLS LAST, "email") WITH (fillfactor=70) WHERE ("email" IS NOT NULL)"#,
        ]
    );
    assert!(!build.transactional);
    assert_eq!(locks(build), vec!["SHARE UPDATE EXCLUSIVE public.users"]);
    let drop = step(&planned, Phase::Rollback, "drop the new index ix");
    assert_eq!(
        drop.statements(),
        vec![r#"DROP INDEX CONCURRENTLY IF EXISTS "public"."ix""#]
    );
    assert!(!drop.transactional);
    assert!(statements(&planned, Phase::Complete)
        .iter()
        .all(|s| !s.contains("\"ix\"")));
    let users = planned.new_schema.table("users").unwrap();
    let ix = users.indexes.iter().find(|i| i.name == "ix").unwrap();
    assert_eq!(
        (ix.method.as_str(), ix.unique, ix.plain),
        ("gin", true, false)
    );
    assert_eq!(ix.columns, vec!["Mixed", "email"]);
}

#[test]
fn a_renamed_column_is_indexed_under_its_physical_name() {
    let planned = plan(
            "operations:\n  - rename_column: {table: users, from: email, to: mail}\n  - create_index: {name: ix, table: users, columns: [mail]}\n",
        )
        .unwrap();
    assert_eq!(
        step(
            &planned,
            Phase::Start,
            "build index ix without blocking writes"
        )
        .statements()[1],
        r#"CREATE INDEX CONCURRENTLY "ix" ON "public"."users" USING "btree" ("email")"#
    );
}

#[test]
fn keywords_names_and_columns_are_checked() {
    let (message, help) = error(
            "operations:\n  - create_index: {name: ix, table: users, columns: [id], method: 'btree; drop table users'}\n",
        );
    assert!(message.contains("is not an index method"), "{message}");
    assert_eq!(help, "use one of: btree, hash, gist, spgist, gin, brin");
    let (message, _) = error(
            "operations:\n  - create_index: {name: ix, table: users, columns: [{column: id, nulls: middle}]}\n",
        );
    assert!(message.contains("`nulls: middle`"), "{message}");
    let (message, _) = error(
        "operations:\n  - create_index: {name: users_email_idx, table: users, columns: [id]}\n",
    );
    assert!(message.contains("already exists"), "{message}");
    let (message, help) =
        error("operations:\n  - create_index: {name: ix, table: users, columns: [nope]}\n");
    assert_eq!(message, "column `nope` does not exist in table `users`");
    assert!(help.contains("id, name, email, Mixed, org"), "{help}");
}
