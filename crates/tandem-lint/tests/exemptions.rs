//! Each exemption the rules promise, proved by a case that must stay quiet, next to the
//! case that must not.

use tandem_lint::config::LintConfig;
use tandem_lint::source::Placement;
use tandem_lint::{lint_sql, Linter};

fn rules(sql: &str) -> Vec<String> {
    lint_sql(sql).into_iter().map(|f| f.rule).collect()
}

fn fires(sql: &str, rule: &str) -> bool {
    rules(sql).iter().any(|r| r == rule)
}

#[test]
fn table_created_in_the_same_file_is_exempt_from_lock_rules() {
    let sql = "CREATE TABLE carts (id bigint PRIMARY KEY, user_id bigint, note text);
CREATE INDEX carts_user_id_idx ON carts (user_id);
ALTER TABLE carts ADD CONSTRAINT carts_user_fk FOREIGN KEY (user_id) REFERENCES users (id);
ALTER TABLE carts ALTER COLUMN note SET NOT NULL;
ALTER TABLE carts ADD COLUMN token uuid DEFAULT gen_random_uuid();
ALTER TABLE carts RENAME COLUMN note TO notes;";
    let got = rules(sql);
    // The foreign key still locks `users`, which is not new: only the timeout warning stays.
    assert_eq!(got, ["require-lock-timeout"], "{got:?}");
    // The same statements on an existing table are flagged.
    assert!(fires(
        "CREATE INDEX carts_user_id_idx ON carts (user_id);",
        "require-concurrent-index-creation"
    ));
}

#[test]
fn constant_and_stable_defaults_do_not_rewrite() {
    for sql in [
        "ALTER TABLE orders ADD COLUMN status text DEFAULT 'pending';",
        "ALTER TABLE orders ADD COLUMN retries int DEFAULT 0;",
        "ALTER TABLE orders ADD COLUMN imported_at timestamptz DEFAULT now();",
        "ALTER TABLE orders ADD COLUMN created_on date DEFAULT CURRENT_DATE;",
        "ALTER TABLE orders ADD COLUMN meta jsonb DEFAULT '{}'::jsonb;",
    ] {
        assert!(!fires(sql, "volatile-default"), "{sql}");
    }
    assert!(fires(
        "ALTER TABLE orders ADD COLUMN r float DEFAULT random();",
        "volatile-default"
    ));
    assert!(fires(
        "ALTER TABLE orders ADD COLUMN t timestamptz DEFAULT clock_timestamp();",
        "volatile-default"
    ));
}

#[test]
fn unique_using_index_is_exempt() {
    let sql = "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_key;
ALTER TABLE users ADD CONSTRAINT users_pkey PRIMARY KEY USING INDEX users_id_idx;";
    assert!(!fires(sql, "unique-without-using-index"));
    assert!(fires(
        "ALTER TABLE users ADD PRIMARY KEY (id);",
        "unique-without-using-index"
    ));
}

#[test]
fn validate_in_its_own_transaction_is_exempt() {
    let separate = "BEGIN;
ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total >= 0) NOT VALID;
COMMIT;
ALTER TABLE orders VALIDATE CONSTRAINT orders_total_positive;";
    assert!(!fires(separate, "validate-in-same-transaction"));
    let same = "BEGIN;
ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total >= 0) NOT VALID;
ALTER TABLE orders VALIDATE CONSTRAINT orders_total_positive;
COMMIT;";
    assert!(fires(same, "validate-in-same-transaction"));
}

#[test]
fn batched_update_with_a_bounded_where_is_exempt() {
    for sql in [
        "UPDATE users SET plan = 'free' WHERE id BETWEEN 1 AND 10000;",
        "UPDATE users SET plan = 'free' WHERE id >= 1 AND id < 10001 AND plan IS NULL;",
        "UPDATE users SET plan = 'free' WHERE id IN (SELECT id FROM users WHERE plan IS NULL LIMIT 1000);",
        "DELETE FROM sessions WHERE id = 42;",
    ] {
        assert!(!fires(sql, "unbatched-data-change"), "{sql}");
    }
    assert!(fires(
        "UPDATE users SET plan = 'free';",
        "unbatched-data-change"
    ));
    assert!(fires(
        "DELETE FROM sessions WHERE expires_at < now();",
        "unbatched-data-change"
    ));
}

#[test]
fn set_not_null_after_a_check_validated_in_an_earlier_migration_is_exempt() {
    let mut linter = Linter::new(&LintConfig::default(), None);
    let first =
        "ALTER TABLE users ADD CONSTRAINT users_email_nn CHECK (email IS NOT NULL) NOT VALID;";
    let second = "ALTER TABLE users VALIDATE CONSTRAINT users_email_nn;";
    let third = "ALTER TABLE users ALTER COLUMN email SET NOT NULL;";
    linter.lint("1.sql", first, Placement::Whole);
    let before = linter.lint("2.sql", third, Placement::Whole);
    assert!(before
        .iter()
        .any(|f| f.rule == "set-not-null-without-check"));
    linter.lint("3.sql", second, Placement::Whole);
    let after = linter.lint("4.sql", third, Placement::Whole);
    assert!(
        !after.iter().any(|f| f.rule == "set-not-null-without-check"),
        "{after:?}"
    );
}

#[test]
fn catalog_only_type_changes_on_a_known_column_are_exempt() {
    let mut linter = Linter::new(&LintConfig::default(), None);
    linter.lint(
        "1.sql",
        "CREATE TABLE notes (id bigint PRIMARY KEY, body varchar(100), n int);",
        Placement::Whole,
    );
    let widen = linter.lint("2.sql", "ALTER TABLE notes ALTER COLUMN body TYPE varchar(200);\nALTER TABLE notes ALTER COLUMN body TYPE text;", Placement::Whole);
    assert!(
        !widen.iter().any(|f| f.rule == "rewriting-type-change"),
        "{widen:?}"
    );
    let rewrite = linter.lint(
        "3.sql",
        "ALTER TABLE notes ALTER COLUMN n TYPE bigint;",
        Placement::Whole,
    );
    assert!(rewrite.iter().any(|f| f.rule == "rewriting-type-change"));
}

#[test]
fn lock_timeout_set_first_is_exempt() {
    assert!(!fires(
        "SET lock_timeout = '2s';\nALTER TABLE users ADD COLUMN x text;",
        "require-lock-timeout"
    ));
    assert!(fires(
        "SET lock_timeout = 0;\nALTER TABLE users ADD COLUMN x text;",
        "require-lock-timeout"
    ));
}

#[test]
fn postgres_18_syntax_parses_and_virtual_columns_are_fine() {
    let mut linter = Linter::new(&LintConfig::default(), Some(18));
    let got = linter.lint(
        "a.sql",
        "SET lock_timeout = '1s';\nALTER TABLE orders ADD COLUMN total_cents bigint GENERATED ALWAYS AS (total * 100) VIRTUAL;",
        Placement::Whole,
    );
    assert!(got.is_empty(), "{got:?}");
}

#[test]
fn postgres_18_not_null_not_valid_is_the_safe_form() {
    let mut linter = Linter::new(&LintConfig::default(), Some(18));
    let safe = "SET lock_timeout = '1s';
ALTER TABLE users ADD CONSTRAINT users_email_nn NOT NULL email NOT VALID;";
    assert!(linter.lint("a.sql", safe, Placement::Whole).is_empty());
    let scan =
        "SET lock_timeout = '1s';\nALTER TABLE users ADD CONSTRAINT users_email_nn NOT NULL email;";
    let got = linter.lint("b.sql", scan, Placement::Whole);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].rule, "set-not-null-without-check");
}
