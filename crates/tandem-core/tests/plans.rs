//! Planning without a database: the plan for a migration against a hand-made schema, rendered
//! as text and compared whole, so any change to what tandem would run shows up in review.

use tandem_core::schema::{Column, Schema, Table};
use tandem_core::{plan_migration, Migration, PlanContext};

fn column(name: &str, data_type: &str, nullable: bool) -> Column {
    Column {
        name: name.into(),
        physical: name.into(),
        data_type: data_type.into(),
        nullable,
        ..Column::default()
    }
}

fn schema() -> Schema {
    Schema {
        name: "public".into(),
        tables: vec![Table {
            name: "users".into(),
            physical: "users".into(),
            columns: vec![
                column("id", "integer", false),
                column("name", "text", false),
                column("email", "text", true),
            ],
            primary_key: vec!["id".into()],
            ..Table::default()
        }],
        types: vec![],
    }
}

fn ctx() -> PlanContext {
    PlanContext {
        schema: "public".into(),
        server_version_num: 150000,
        ..PlanContext::default()
    }
}

fn render(yaml: &str, previous: Option<&str>) -> String {
    let m = Migration::parse("02_change", "02_change.yaml", yaml, false).expect("parses");
    let planned = plan_migration(&m, &schema(), &ctx(), previous.map(String::from)).expect("plans");
    let mut out = String::new();
    for phase in [
        tandem_core::Phase::Start,
        tandem_core::Phase::Complete,
        tandem_core::Phase::Rollback,
    ] {
        out.push_str(&format!("{phase}:\n"));
        for step in planned.plan.steps(phase) {
            let locks: Vec<String> = step
                .locks
                .iter()
                .map(|l| format!("{} {}", l.mode, l.relation))
                .collect();
            out.push_str(&format!(
                "  {} [{}]{}\n",
                step.description,
                locks.join(", "),
                if step.transactional {
                    ""
                } else {
                    " (no transaction)"
                }
            ));
            for s in step.statements() {
                out.push_str(&format!("    {s}\n"));
            }
        }
    }
    out
}

fn error(yaml: &str) -> tandem_core::PlanError {
    let m = Migration::parse("02_change", "02_change.yaml", yaml, false).expect("parses");
    plan_migration(&m, &schema(), &ctx(), None).expect_err("must not plan")
}

#[test]
fn rename_column_is_a_view_now_and_a_rename_at_complete() {
    let plan = render(
        "operations:\n  - rename_column: {table: users, from: name, to: full_name}\n",
        Some("public_01"),
    );
    assert_eq!(
        plan,
        r#"start:
  create version schema public_02_change (one view per table) []
    DROP SCHEMA IF EXISTS "public_02_change" CASCADE
    CREATE SCHEMA "public_02_change"
    COMMENT ON SCHEMA "public_02_change" IS 'tandem version schema over public; do not edit'
    CREATE VIEW "public_02_change"."users" WITH (security_invoker = true) AS SELECT "id" AS "id", "name" AS "full_name", "email" AS "email" FROM "public"."users"
complete:
  drop the previous version schema public_01 []
    DROP SCHEMA IF EXISTS "public_01" CASCADE
  rename the columns of users to their new names [ACCESS EXCLUSIVE public.users]
    ALTER TABLE "public"."users" RENAME COLUMN "name" TO "full_name"
rollback:
  drop the new version schema public_02_change []
    DROP SCHEMA IF EXISTS "public_02_change" CASCADE
"#
    );
}

#[test]
fn renames_of_a_table_and_its_columns_run_columns_first() {
    let plan = render(
        "operations:\n  - rename_table: {from: users, to: members}\n  - rename_column: {table: members, from: email, to: mail}\n",
        None,
    );
    let complete = plan
        .split("complete:\n")
        .nth(1)
        .and_then(|s| s.split("rollback:").next())
        .unwrap();
    assert_eq!(
        complete,
        r#"  rename the columns of members to their new names [ACCESS EXCLUSIVE public.users]
    ALTER TABLE "public"."users" RENAME COLUMN "email" TO "mail"
  rename table users to members [ACCESS EXCLUSIVE public.users]
    ALTER TABLE "public"."users" RENAME TO "members"
"#
    );
    assert!(plan.contains(r#"CREATE VIEW "public_02_change"."members" WITH (security_invoker = true) AS SELECT "id" AS "id", "name" AS "name", "email" AS "mail" FROM "public"."users""#), "{plan}");
}

#[test]
fn add_column_with_constraints_defers_validation_and_builds_the_index_concurrently() {
    let plan = render(
        r#"operations:
  - add_column:
      table: users
      column:
        name: age
        type: integer
        default: "18"
        unique: true
        check: {name: adult, constraint: age >= 18}
"#,
        None,
    );
    assert_eq!(
        plan,
        r#"start:
  add column users.age [ACCESS EXCLUSIVE public.users]
    ALTER TABLE "public"."users" ADD COLUMN "age" integer NOT NULL DEFAULT 18
    ALTER TABLE "public"."users" ADD CONSTRAINT "adult" CHECK (age >= 18) NOT VALID
  build the unique index users_age_key without blocking writes [SHARE UPDATE EXCLUSIVE public.users] (no transaction)
    DROP INDEX CONCURRENTLY IF EXISTS "public"."users_age_key"
    CREATE UNIQUE INDEX CONCURRENTLY "users_age_key" ON "public"."users" ("age")
  create version schema public_02_change (one view per table) []
    DROP SCHEMA IF EXISTS "public_02_change" CASCADE
    CREATE SCHEMA "public_02_change"
    COMMENT ON SCHEMA "public_02_change" IS 'tandem version schema over public; do not edit'
    CREATE VIEW "public_02_change"."users" WITH (security_invoker = true) AS SELECT "id" AS "id", "name" AS "name", "email" AS "email", "age" AS "age" FROM "public"."users"
complete:
  validate constraint adult [SHARE UPDATE EXCLUSIVE public.users]
    ALTER TABLE "public"."users" VALIDATE CONSTRAINT "adult"
  attach the unique index users_age_key as a constraint [ACCESS EXCLUSIVE public.users]
    ALTER TABLE "public"."users" ADD CONSTRAINT "users_age_key" UNIQUE USING INDEX "users_age_key"
rollback:
  drop the new version schema public_02_change []
    DROP SCHEMA IF EXISTS "public_02_change" CASCADE
  drop the new column users.age [ACCESS EXCLUSIVE public.users]
    ALTER TABLE IF EXISTS "public"."users" DROP COLUMN IF EXISTS "age"
"#
    );
}

#[test]
fn views_on_postgres_14_have_no_security_invoker() {
    let m = Migration::parse(
        "02_change",
        "x.yaml",
        "operations:\n  - drop_column: {table: users, column: email}\n",
        false,
    )
    .unwrap();
    let planned = plan_migration(
        &m,
        &schema(),
        &PlanContext {
            server_version_num: 140010,
            ..ctx()
        },
        None,
    )
    .unwrap();
    let start = planned.plan.start[0].statements().join("\n");
    assert!(start.contains(r#"CREATE VIEW "public_02_change"."users" AS SELECT "id" AS "id", "name" AS "name" FROM"#), "{start}");
}

#[test]
fn identifiers_are_quoted_everywhere() {
    let plan = render(
        "operations:\n  - rename_column: {table: users, from: name, to: 'Full \"Name\"'}\n",
        None,
    );
    assert!(plan.contains(r#""name" AS "Full ""Name""""#), "{plan}");
    assert!(
        plan.contains(r#"RENAME COLUMN "name" TO "Full ""Name""""#),
        "{plan}"
    );
}

#[test]
fn errors_name_the_operation_and_its_line() {
    let e = error("operations:\n  - rename_column: {table: users, from: name, to: full_name}\n  - drop_column: {table: users, column: name}\n");
    assert_eq!(e.line, Some(3));
    assert_eq!(e.operation, Some((1, "drop_column".into())));
    assert!(
        e.message.contains("column `name` does not exist"),
        "a renamed column is known by its new name: {}",
        e.message
    );
    assert!(e.help.contains("full_name"), "{}", e.help);

    let long = "x".repeat(60);
    let m = Migration::parse(
        &long,
        "x.yaml",
        "operations:\n  - drop_table: {name: users}\n",
        false,
    )
    .unwrap();
    let e = plan_migration(&m, &schema(), &ctx(), None).unwrap_err();
    assert!(
        e.message.contains("63 bytes") && e.help.contains("version_schema"),
        "{e:?}"
    );
}

#[test]
fn checksums_ignore_formatting_but_not_meaning() {
    let a = Migration::parse(
        "m",
        "m.yaml",
        "operations:\n  - drop_table: {name: users}\n",
        false,
    )
    .unwrap();
    let b = Migration::parse(
        "m",
        "m.yaml",
        "# a comment\noperations:\n  - drop_table:\n      name: users\n",
        false,
    )
    .unwrap();
    let c = Migration::parse(
        "m",
        "m.json",
        r#"{"operations": [{"drop_table": {"name": "users"}}]}"#,
        true,
    )
    .unwrap();
    let d = Migration::parse(
        "m",
        "m.yaml",
        "operations:\n  - drop_table: {name: teams}\n",
        false,
    )
    .unwrap();
    assert_eq!(a.checksum(), b.checksum());
    assert_eq!(a.checksum(), c.checksum());
    assert_ne!(a.checksum(), d.checksum());
}

#[test]
fn alter_column_adds_a_synced_copy_backfills_verifies_and_swaps_at_complete() {
    let plan = render(
        r#"operations:
  - alter_column:
      table: users
      column: name
      type: varchar(100)
      nullable: true
      up: upper(name)
      down: lower(name)
"#,
        Some("public_01"),
    );
    for expected in [
        r#"ALTER TABLE "public"."users" ADD COLUMN "_tandem_new_name" varchar(100)"#,
        // The trigger: the version rule, and each side computed from the other.
        "_tandem_new := array_position(_tandem_path, 'public_02_change'::name)",
        "least(array_position(_tandem_path, 'public_01'::name), array_position(_tandem_path, 'public'::name))",
        r#"NEW."name" := ((lower(NEW."_tandem_new_name")))"#,
        r#"NEW."_tandem_new_name" := ((upper(NEW."name")))"#,
        "WHEN (current_setting('tandem.backfill', true) IS DISTINCT FROM 'on')",
        r#"UPDATE "public"."users" SET "_tandem_new_name" = (upper("name")) WHERE <key range of one batch>"#,
        r#"-- every row of users: _tandem_new_name equals `up` of the old column (ROW("_tandem_new_name")::record *= ROW(CAST(((upper("name"))) AS varchar(100)))::record)"#,
        // The new column's type and constraints resolved as the validation resolved them.
        r#"SET LOCAL search_path TO pg_catalog, "public", pg_temp"#,
        // Run with a fixed search path, whatever the writing session's.
        r#"PERFORM pg_catalog.set_config('search_path', 'pg_catalog, "public", pg_temp', true);"#,
        // Change detection without the type's `=`.
        r#"ROW(NEW."name")::record *<> ROW(OLD."name")::record"#,
        // Verified again first thing at complete, each row against the version that wrote it.
        r#"or name equals `down` of _tandem_new_name"#,
        r#""_tandem_new_name" AS "name""#,
        r#"DROP TRIGGER IF EXISTS "~tandem_sync" ON "public"."users""#,
        r#"ALTER TABLE "public"."users" DROP COLUMN "name""#,
        r#"ALTER TABLE "public"."users" RENAME COLUMN "_tandem_new_name" TO "name""#,
        r#"ALTER TABLE IF EXISTS "public"."users" DROP COLUMN IF EXISTS "_tandem_new_name""#,
    ] {
        assert!(plan.contains(expected), "plan lacks `{expected}`:\n{plan}");
    }
    // The old column is dropped only after the trigger that reads it, and before the rename.
    let complete = plan.split("complete:").nth(1).unwrap();
    let reverify = complete.find("verify every row of users again").unwrap();
    assert!(
        reverify < complete.find("VALIDATE").unwrap_or(usize::MAX),
        "{plan}"
    );
    let drop_trigger = complete.find("DROP TRIGGER IF EXISTS").unwrap();
    let drop_old = complete.find(r#"DROP COLUMN "name""#).unwrap();
    let rename = complete.find("rename the columns of users").unwrap();
    assert!(drop_trigger < drop_old && drop_old < rename, "{plan}");
}

#[test]
fn changes_of_one_column_compose() {
    let plan = render(
        r#"operations:
  - alter_column: {table: users, column: name, type: integer, up: "length(name)", down: "repeat('x', name)"}
  - alter_column: {table: users, column: name, up: "name * 2", down: "name / 2"}
"#,
        None,
    );
    assert_eq!(
        plan.matches("ADD COLUMN \"_tandem_new_name\"").count(),
        1,
        "one copy of the column:\n{plan}"
    );
    // Parentheses are added freely around rewritten parts; compare without them.
    let bare = plan.replace(['(', ')'], "");
    assert!(
        bare.contains(r#"SET "_tandem_new_name" = length"name" * 2"#),
        "up composes forwards:\n{plan}"
    );
    assert!(
        bare.contains(r#"NEW."name" := repeat'x', NEW."_tandem_new_name" / 2"#),
        "down composes backwards:\n{plan}"
    );
}

#[test]
fn expressions_are_rewritten_by_the_parser_not_by_text() {
    let plan = render(
        "operations:\n  - alter_column:\n      table: users\n      column: name\n      up: \"'name: ' || name || email\"\n      down: name\n",
        None,
    );
    let bare = plan.replace(['(', ')'], "");
    assert!(
        bare.contains(r#"SET "_tandem_new_name" = 'name: ' || "name" || "email""#),
        "the string literal is untouched:\n{plan}"
    );
}
