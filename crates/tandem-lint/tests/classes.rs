//! Issue 10's classes, one test each: the false alarm gone, the noise said once, the blind
//! spot caught, the message fixed. Each pairs the quiet case with the one that must still fire.

use std::path::{Path, PathBuf};
use tandem_lint::config::LintConfig;
use tandem_lint::facts::Facts;
use tandem_lint::{lint_paths, lint_sql, Finding};

fn rules(sql: &str) -> Vec<String> {
    lint_sql(sql).into_iter().map(|f| f.rule).collect()
}

fn fires(sql: &str, rule: &str) -> bool {
    rules(sql).iter().any(|r| r == rule)
}

fn of<'a>(f: &'a [Finding], rule: &str) -> Vec<&'a Finding> {
    f.iter().filter(|f| f.rule == rule).collect()
}

fn tmp(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("tandem-lint-classes-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for (f, text) in files {
        let path = dir.join(f);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

fn lint_dir(dir: &Path, config: &LintConfig) -> Vec<Finding> {
    lint_paths(&[dir.to_path_buf()], config, None, Facts::default())
        .unwrap()
        .findings
}

// ---- False alarms ----

#[test]
fn nullable_referencing_column_without_default_has_nothing_to_validate() {
    let fk = "foreign-key-without-not-valid";
    assert!(!fires(
        "ALTER TABLE orders ADD COLUMN coupon_id bigint REFERENCES coupons;",
        fk
    ));
    assert!(!fires(
        "ALTER TABLE orders ADD COLUMN coupon_id bigint DEFAULT NULL REFERENCES coupons (id);",
        fk
    ));
    // A default fills every row: those values are checked.
    assert!(fires(
        "ALTER TABLE orders ADD COLUMN coupon_id bigint DEFAULT 1 REFERENCES coupons (id);",
        fk
    ));
    assert!(fires(
        "ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (coupon_id) REFERENCES coupons (id);",
        fk
    ));
}

#[test]
fn tables_created_or_emptied_earlier_in_the_file_are_new() {
    // CREATE TABLE AS, SELECT INTO, and a table that later gets a foreign key.
    let sql = "CREATE TABLE archive AS SELECT * FROM orders WHERE false;
ALTER TABLE archive ADD CONSTRAINT archive_total CHECK (total > 0);
SELECT * INTO archive2 FROM orders WHERE false;
CREATE INDEX archive2_idx ON archive2 (id);
CREATE TABLE carts (id bigint PRIMARY KEY, user_id bigint);
ALTER TABLE carts ADD FOREIGN KEY (user_id) REFERENCES users (id);
ALTER TABLE carts ADD CONSTRAINT carts_user CHECK (user_id > 0);";
    let got = rules(sql);
    for r in [
        "check-constraint-without-not-valid",
        "require-concurrent-index-creation",
        "foreign-key-without-not-valid",
    ] {
        assert!(!got.iter().any(|g| g == r), "{r} in {got:?}");
    }
    // Emptied tables: nothing left to scan.
    let emptied = "TRUNCATE sessions;\nALTER TABLE sessions ADD CONSTRAINT s CHECK (ttl > 0);\nDELETE FROM carts;\nCREATE INDEX carts_idx ON carts (user_id);";
    let got = rules(emptied);
    assert!(
        !got.iter()
            .any(|g| g == "check-constraint-without-not-valid"),
        "{got:?}"
    );
    assert!(
        !got.iter().any(|g| g == "require-concurrent-index-creation"),
        "{got:?}"
    );
    // A DELETE with a WHERE empties nothing.
    assert!(fires(
        "DELETE FROM carts WHERE id = 1;\nCREATE INDEX carts_idx ON carts (user_id);",
        "require-concurrent-index-creation"
    ));
}

#[test]
fn timestamp_to_timestamptz_under_utc_is_catalog_only() {
    let change = "CREATE TABLE e (id bigint, at timestamp);\n";
    // The table is new in these files, so put the change in a second file of the same set.
    let dir = tmp(
        "tz",
        &[
            ("m/001_create.sql", change),
            (
                "m/002_utc.sql",
                "SET TIME ZONE 'UTC';\nALTER TABLE e ALTER COLUMN at TYPE timestamptz;\n",
            ),
            ("n/001_create.sql", change),
            (
                "n/002_local.sql",
                "ALTER TABLE e ALTER COLUMN at TYPE timestamptz;\n",
            ),
        ],
    );
    let f = lint_dir(&dir, &LintConfig::default());
    let hits = of(&f, "rewriting-type-change");
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert!(hits[0].file.ends_with("n/002_local.sql"));
    assert!(hits[0]
        .message
        .contains("unless the session time zone is UTC"));
    // The same, from tandem.toml's time_zone.
    let utc = LintConfig::parse("[lint]\ntime_zone = \"UTC\"\n").unwrap();
    assert!(of(&lint_dir(&dir, &utc), "rewriting-type-change").is_empty());
}

#[test]
fn column_types_follow_one_set_in_its_order_not_every_folder() {
    let dir = tmp(
        "sets",
        &[
            // Flyway order: V2 before V10 (path order would put V10 first).
            (
                "app/V10__widen.sql",
                "ALTER TABLE users ALTER COLUMN name TYPE varchar(200);\n",
            ),
            (
                "app/V2__create.sql",
                "CREATE TABLE users (id bigint PRIMARY KEY, name varchar(100));\n",
            ),
            // Another set has a `users` table too, with another type: it must not leak.
            (
                "other/001_x.sql",
                "ALTER TABLE users ALTER COLUMN name TYPE varchar(200);\n",
            ),
        ],
    );
    let f = lint_dir(&dir, &LintConfig::default());
    let hits = of(&f, "rewriting-type-change");
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert!(hits[0].file.ends_with("other/001_x.sql"));
    assert!(hits[0]
        .message
        .contains("did not see the column's current type"));
}

// ---- Noise ----

#[test]
fn lock_timeout_is_asked_once_per_transaction_or_file() {
    let sql = "ALTER TABLE a ADD COLUMN x int;
ALTER TABLE b ADD COLUMN y int;
ALTER TABLE c ADD COLUMN z int;
BEGIN;
ALTER TABLE d ADD COLUMN w int;
ALTER TABLE e ADD COLUMN v int;
COMMIT;";
    let f = lint_sql(sql);
    let lines: Vec<usize> = of(&f, "require-lock-timeout")
        .iter()
        .map(|f| f.line)
        .collect();
    assert_eq!(lines, [1, 5]);
}

// ---- Blind spots ----

#[test]
fn do_blocks_are_linted_with_the_plpgsql_parser() {
    let sql = "SET lock_timeout = '1s';
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_indexes WHERE indexname = 'orders_status_idx') THEN
    CREATE INDEX orders_status_idx ON orders (status);
  END IF;
  EXECUTE 'ALTER TABLE orders ADD CONSTRAINT total_positive CHECK (total > 0)';
  UPDATE orders SET status = 'new' WHERE status IS NULL;
END
$$;";
    let f = lint_sql(sql);
    let index = of(&f, "require-concurrent-index-creation");
    assert_eq!(index.len(), 1, "{f:?}");
    assert_eq!((index[0].line, index[0].column), (5, 5));
    assert!(index[0].message.contains("run by the DO block"));
    assert_eq!(of(&f, "check-constraint-without-not-valid").len(), 1);
    assert_eq!(of(&f, "unbatched-data-change").len(), 1);
}

#[test]
fn set_logged_and_unlogged_rewrite() {
    assert!(fires(
        "ALTER TABLE events SET UNLOGGED;",
        "set-logged-unlogged"
    ));
    assert!(fires(
        "ALTER TABLE events SET LOGGED;",
        "set-logged-unlogged"
    ));
    assert!(!fires(
        "CREATE UNLOGGED TABLE s (id int);\nALTER TABLE s SET LOGGED;",
        "set-logged-unlogged"
    ));
}

#[test]
fn policies_and_triggers_need_a_lock_timeout() {
    for sql in [
        "CREATE POLICY p ON orders USING (owner = current_user);",
        "ALTER POLICY p ON orders USING (true);",
        "DROP POLICY p ON orders;",
        "CREATE TRIGGER t BEFORE UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION f();",
        "DROP TRIGGER t ON orders;",
        "ALTER TABLE orders DISABLE TRIGGER t;",
        "ALTER TABLE orders ENABLE TRIGGER ALL;",
    ] {
        assert!(fires(sql, "require-lock-timeout"), "{sql}");
        let with = format!("SET lock_timeout = '1s';\n{sql}");
        assert!(!fires(&with, "require-lock-timeout"), "{with}");
    }
}

#[test]
fn whole_table_update_from_and_delete_not_exists_are_unbatched() {
    let u = "unbatched-data-change";
    assert!(fires(
        "UPDATE orders o SET region = c.region FROM customers c WHERE o.customer_id = c.id;",
        u
    ));
    assert!(fires("DELETE FROM orders o WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = o.customer_id);", u));
    assert!(fires("UPDATE orders SET x = 1 WHERE id = customer_id;", u));
    assert!(fires(
        "UPDATE orders SET x = 1 WHERE id > 0 OR note IS NULL;",
        u
    ));
    // Bounded shapes stay quiet.
    assert!(!fires("UPDATE orders o SET region = c.region FROM customers c WHERE o.customer_id = c.id AND o.id BETWEEN 1 AND 10000;", u));
    assert!(!fires(
        "DELETE FROM orders WHERE id IN (SELECT id FROM orders WHERE stale LIMIT 1000);",
        u
    ));
    assert!(!fires(
        "UPDATE orders SET x = 1 WHERE id >= 1 AND id < 10001;",
        u
    ));
    assert!(!fires("UPDATE orders SET x = 1 WHERE id = $1;", u));
}

// ---- A flag that does nothing ----
// `--assume-in-transaction` is tested through the binary in tandem-cli/tests/lint.rs; here,
// that the setting itself changes what is found.

#[test]
fn assume_in_transaction_changes_findings() {
    let dir = tmp(
        "tx",
        &[(
            "m.sql",
            "ALTER TABLE a ADD COLUMN x int;\nSELECT pg_sleep(1);\n",
        )],
    );
    let off = lint_dir(&dir, &LintConfig::default());
    let on = lint_dir(
        &dir,
        &LintConfig {
            assume_in_transaction: true,
            ..LintConfig::default()
        },
    );
    assert!(of(&off, "statements-after-access-exclusive").is_empty());
    assert_eq!(
        of(&on, "statements-after-access-exclusive").len(),
        1,
        "{on:?}"
    );
}

// ---- Messages ----

#[test]
fn drop_index_names_the_table() {
    let f = lint_sql("CREATE INDEX CONCURRENTLY orders_status_idx ON orders (status);\nDROP INDEX orders_status_idx;");
    let m = &of(&f, "require-concurrent-index-deletion")[0].message;
    assert!(m.contains("its table `orders`"), "{m}");
    let f = lint_sql("DROP INDEX orders_status_idx;");
    let m = &of(&f, "require-concurrent-index-deletion")[0].message;
    assert!(m.contains("the table it indexes"), "{m}");
    assert!(!m.contains("on `orders_status_idx`"), "{m}");
    let t = &of(&f, "require-lock-timeout")[0].message;
    assert!(t.contains("the table of index `orders_status_idx`"), "{t}");
}

#[test]
fn an_unnamed_check_reads_well() {
    let f = lint_sql("ALTER TABLE orders ADD CHECK (total >= 0);");
    let m = &of(&f, "check-constraint-without-not-valid")[0].message;
    assert!(
        m.starts_with("adding CHECK (total >= 0) scans all of `orders`"),
        "{m}"
    );
    let f = lint_sql("ALTER TABLE orders ADD CONSTRAINT pos CHECK (total >= 0);");
    let m = &of(&f, "check-constraint-without-not-valid")[0].message;
    assert!(m.starts_with("adding CHECK constraint `pos` scans"), "{m}");
}

#[test]
fn a_missing_semicolon_is_reported_where_it_is_missing() {
    let f = lint_sql(
        "ALTER TABLE orders ADD COLUMN note text\nCREATE INDEX CONCURRENTLY i ON orders (note);\n",
    );
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].rule, "syntax-error");
    assert!(f[0].message.starts_with("missing `;`"), "{}", f[0].message);
    assert_eq!(f[0].line, 1);
}

#[test]
fn a_column_finding_underlines_the_column() {
    let f = lint_sql(
        "CREATE TABLE t (\n  id bigint PRIMARY KEY,\n  data json NOT NULL,\n  note text\n);",
    );
    let j = of(&f, "prefer-jsonb")[0];
    assert_eq!((j.line, j.column, j.end_line, j.end_column), (3, 3, 3, 21));
}
