//! Plans of `create_constraint`.

use super::{error, locks, plan, plan_on, schema, statements, step};
use tandem_core::Phase;

#[test]
fn a_check_goes_on_a_backfilled_copy_not_valid_then_validated() {
    let planned = plan(
        r#"operations:
  - create_constraint:
      table: users
      name: name_long
      type: check
      columns: [name]
      check: length(name) > 2
      up: {name: "CASE WHEN length(name) > 2 THEN name ELSE name || '---' END"}
"#,
    )
    .unwrap();
    let start = statements(&planned, Phase::Start);
    assert!(start.contains(
            &r#"ALTER TABLE "public"."users" ADD CONSTRAINT "name_long" CHECK ((length("_tandem_new_name") > 2)) NOT VALID"#.to_string()
        ), "{start:#?}");
    assert_eq!(
        step(&planned, Phase::Start, "backfill users").statements(),
        vec![
            r#"UPDATE "public"."users" SET "_tandem_new_name" = (CASE WHEN length("name") > 2 THEN "name" ELSE "name" || '---' END) WHERE <key range of one batch>  -- batches of about 100 ms, each committed with its checkpoint"#
        ]
    );
    assert_eq!(
        step(&planned, Phase::Complete, "validate constraint name_long").statements(),
        vec![r#"ALTER TABLE "public"."users" VALIDATE CONSTRAINT "name_long""#]
    );
    let verify = step(&planned, Phase::Start, "verify every row of users").statements();
    assert!(
        verify.iter().any(|v| v.contains("check name_long")),
        "{verify:#?}"
    );
}

#[test]
fn a_unique_constraint_over_several_columns_is_an_index_attached_at_complete() {
    let planned = plan(
            "operations:\n  - create_constraint: {table: users, name: uq, type: unique, columns: [name, Mixed], nulls_not_distinct: true}\n",
        )
        .unwrap();
    let build = step(
        &planned,
        Phase::Start,
        "build index uq without blocking writes",
    );
    assert_eq!(
        build.statements()[1],
        r#"CREATE UNIQUE INDEX CONCURRENTLY "uq" ON "public"."users" USING "btree" ("_tandem_new_name", "_tandem_new_Mixed") NULLS NOT DISTINCT"#
    );
    assert!(!build.transactional);
    assert_eq!(
        step(
            &planned,
            Phase::Complete,
            "attach the index uq as a UNIQUE constraint"
        )
        .statements(),
        vec![r#"ALTER TABLE "public"."users" ADD CONSTRAINT "uq" UNIQUE USING INDEX "uq""#]
    );
}

#[test]
fn a_foreign_key_locks_the_referenced_table_and_is_validated_at_complete() {
    let planned = plan(
            "operations:\n  - create_constraint: {table: users, name: fk, type: foreign_key, columns: [org], references: {table: Orgs, columns: [id], on_delete: set null}}\n",
        )
        .unwrap();
    let add = step(
        &planned,
        Phase::Start,
        "add the new version's columns of users and the dual-write trigger",
    );
    assert!(add.statements().contains(
            &r#"ALTER TABLE "public"."users" ADD CONSTRAINT "fk" FOREIGN KEY ("_tandem_new_org") REFERENCES "public"."Orgs" ("id") ON DELETE SET NULL NOT VALID"#.to_string()
        ), "{:#?}", add.statements());
    assert!(locks(add).contains(&"SHARE ROW EXCLUSIVE public.Orgs".to_string()));
    let validate = step(&planned, Phase::Complete, "validate constraint fk");
    assert_eq!(
        locks(validate),
        vec![
            "SHARE UPDATE EXCLUSIVE public.users",
            "ROW SHARE public.Orgs"
        ]
    );
    // Verified row by row at start (the backfill skips foreign key triggers) and again first
    // thing at complete.
    let expected = r#"foreign key fk (_tandem_row."_tandem_new_org" IS NULL OR EXISTS (SELECT 1 FROM "public"."Orgs" AS _tandem_ref WHERE _tandem_ref."id" = _tandem_row."_tandem_new_org"))"#;
    for (phase, description) in [
        (Phase::Start, "verify every row of users"),
        (
            Phase::Complete,
            "verify every row of users again before complete",
        ),
    ] {
        let verify = step(&planned, phase, description).statements();
        assert!(verify.iter().any(|v| v.ends_with(expected)), "{verify:#?}");
    }
}

#[test]
fn a_primary_key_makes_its_copies_not_null_and_needs_a_table_without_one() {
    let mut schema = schema();
    schema.table_mut("Orgs").unwrap().primary_key.clear();
    let planned = plan_on(
            &schema,
            "operations:\n  - create_constraint: {table: Orgs, name: orgs_pkey, type: primary_key, columns: [id, title], up: {title: \"COALESCE(title, '')\"}}\n",
        )
        .unwrap();
    let start = statements(&planned, Phase::Start);
    assert!(start.contains(
            &r#"ALTER TABLE "public"."Orgs" ADD CONSTRAINT "_tandem_nn__tandem_new_title" CHECK ("_tandem_new_title" IS NOT NULL) NOT VALID"#.to_string()
        ), "{start:#?}");
    assert_eq!(
        step(
            &planned,
            Phase::Complete,
            "attach the index orgs_pkey as a PRIMARY KEY constraint"
        )
        .statements(),
        vec![
            r#"ALTER TABLE "public"."Orgs" ADD CONSTRAINT "orgs_pkey" PRIMARY KEY USING INDEX "orgs_pkey""#
        ]
    );
    assert_eq!(
        planned.new_schema.table("Orgs").unwrap().primary_key,
        vec!["id", "title"]
    );
    let e = plan(
            "operations:\n  - create_constraint: {table: users, name: users_email_pkey, type: primary_key, columns: [email]}\n",
        )
        .expect_err("users has a primary key");
    assert!(
        e.message.contains("already has a primary key"),
        "{}",
        e.message
    );
}

#[test]
fn bad_definitions_are_refused() {
    let (message, help) = error(
            "operations:\n  - create_constraint: {table: users, name: x, type: exclude, columns: [name]}\n",
        );
    assert!(message.contains("constraint type `exclude`"), "{message}");
    assert!(
        help.contains("unique, check, foreign_key or primary_key"),
        "{help}"
    );
    let (message, _) = error(
            "operations:\n  - create_constraint: {table: users, name: x, type: check, columns: [name]}\n",
        );
    assert!(message.contains("has no `check` expression"), "{message}");
    let (message, _) = error(
            "operations:\n  - create_constraint: {table: users, name: x, type: foreign_key, columns: [org], references: {table: Orgs, columns: [id], on_delete: explode}}\n",
        );
    assert!(message.contains("is not a referential action"), "{message}");
    let (message, _) = error(
            "operations:\n  - create_constraint: {table: users, name: users_email_idx, type: unique, columns: [name]}\n",
        );
    assert!(message.contains("already exists"), "{message}");
}
