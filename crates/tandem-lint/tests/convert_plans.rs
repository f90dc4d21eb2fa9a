//! Every `convert` output is a tandem migration: parsed back into `tandem_core::Migration`
//! and planned by tandem-core's planner against a schema holding the tables it changes.

use tandem_core::{plan_migration, Migration, PlanContext, Schema};

/// The tables the SQL below changes, created by planning a tandem migration.
fn schema() -> Schema {
    let setup = "operations:
  - create_table:
      name: users
      columns:
        - {name: id, type: bigint, pk: true}
        - {name: name, type: text, nullable: true}
        - {name: email, type: text, nullable: true}
        - {name: handle, type: text, nullable: true}
        - {name: legacy, type: text, nullable: true}
        - {name: deleted_at, type: timestamptz, nullable: true}
  - create_table:
      name: customers
      columns:
        - {name: id, type: bigint, pk: true}
  - create_table:
      name: orders
      columns:
        - {name: id, type: bigint, pk: true}
        - {name: customer_id, type: bigint, nullable: true}
        - {name: total, type: integer, nullable: true}
";
    let m = Migration::parse("01_setup", "01_setup.yaml", setup, false).unwrap();
    plan_migration(&m, &Schema::default(), &ctx(), None)
        .unwrap()
        .new_schema
}

fn ctx() -> PlanContext {
    PlanContext {
        schema: "public".into(),
        server_version_num: 150000,
        ..PlanContext::default()
    }
}

/// What a user does with the TODOs `convert` leaves: write the expressions.
fn fill_todos(yaml: &str) -> String {
    yaml.lines()
        .map(|l| match l.split_once(": 'TODO") {
            Some((key, _)) if l.contains("back to its old type") => {
                format!("{key}: total::integer")
            }
            Some((key, _)) if l.contains("converting total") => {
                format!("{key}: total::numeric(12, 2)")
            }
            Some((key, _)) if l.contains("email IS NULL") => format!("{key}: COALESCE(email, '')"),
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_convert_output_parses_and_plans() {
    let schema = schema();
    let cases = [
        "ALTER TABLE users RENAME COLUMN name TO full_name;",
        "ALTER TABLE orders ALTER COLUMN total TYPE numeric(12,2);",
        "ALTER TABLE users ALTER COLUMN email SET NOT NULL;",
        "CREATE UNIQUE INDEX users_email_idx ON users (email) WHERE deleted_at IS NULL;",
        "ALTER TABLE orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id) ON DELETE CASCADE;",
        "ALTER TABLE orders ADD CONSTRAINT orders_total_check CHECK (total >= 0);",
        "ALTER TABLE users ADD CONSTRAINT users_handle_key UNIQUE (handle);",
        "ALTER TABLE users ADD COLUMN plan text NOT NULL DEFAULT 'free';",
        "ALTER TABLE users DROP COLUMN legacy;",
        "CREATE INDEX users_lower_email_idx ON users (lower(email));",
        "VACUUM FULL users;",
        // Several statements: one migration of several operations.
        "BEGIN;\nSET lock_timeout = '2s';\nALTER TABLE users RENAME COLUMN name TO full_name;\nALTER TABLE users ADD COLUMN plan text NOT NULL DEFAULT 'free';\nALTER TABLE orders ADD CONSTRAINT orders_total_check CHECK (total >= 0);\nCOMMIT;",
    ];
    for sql in cases {
        let converted = tandem_lint::convert::convert_migration("02_change", sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        assert!(!converted.migration.operations.is_empty(), "{sql}");
        let filled = fill_todos(&converted.yaml);
        let m = Migration::parse("02_change", "02_change.yaml", &filled, false)
            .unwrap_or_else(|e| panic!("{sql}:\n{filled}\n{e}"));
        let planned = plan_migration(&m, &schema, &ctx(), Some("public_01_setup".into()))
            .unwrap_or_else(|e| panic!("{sql}:\n{filled}\n{e}"));
        assert!(!planned.plan.start.is_empty(), "{sql}: empty plan");
    }
}

#[test]
fn the_whole_convert_example_is_a_valid_migration() {
    let expected = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/convert/expected.yaml"),
    )
    .unwrap();
    let m = Migration::parse("m", "m.yaml", &expected, false).unwrap();
    assert_eq!(m.operations.len(), 13);
}
