//! `--url` and `--trace` on a real PostgreSQL (tandem-ephemeral's shared cluster; each test
//! its own database).

use std::path::PathBuf;
use tandem_lint::config::LintConfig;
use tandem_lint::facts::Facts;
use tandem_lint::trace::{self, TRACE, TRACE_CONTRADICTS};
use tandem_lint::{lint_paths, Finding, Severity};
use tokio_postgres::{Client, NoTls};

async fn database(name: &str) -> Client {
    let cluster = tandem_ephemeral::shared().unwrap();
    let (admin, conn) = tokio_postgres::connect(&cluster.url("postgres"), NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    admin
        .execute(&format!("DROP DATABASE IF EXISTS {name}"), &[])
        .await
        .unwrap();
    admin
        .execute(&format!("CREATE DATABASE {name}"), &[])
        .await
        .unwrap();
    let (client, conn) = tokio_postgres::connect(&cluster.url(name), NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
}

fn tmp(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tandem-lint-live-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for (f, text) in files {
        let path = dir.join(f);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

fn on<'a>(f: &'a [Finding], rule: &str, text: &str) -> Vec<&'a Finding> {
    f.iter()
        .filter(|f| f.rule == rule && f.message.contains(text))
        .collect()
}

#[tokio::test]
async fn url_facts_weigh_findings_by_table_size_and_absent_tables_are_new() {
    let db = database("lint_url").await;
    for sql in [
        "CREATE TABLE big (id bigint PRIMARY KEY, status text)",
        "INSERT INTO big SELECT g, 'x' FROM generate_series(1, 20000) g",
        "CREATE TABLE tiny (id bigint PRIMARY KEY, status text)",
        "INSERT INTO tiny SELECT g, 'x' FROM generate_series(1, 10) g",
        "ANALYZE big",
        "ANALYZE tiny",
    ] {
        db.execute(sql, &[]).await.unwrap();
    }
    let facts = tandem_lint::live::read_facts(&db, "public").await.unwrap();
    assert_eq!(facts.get("big").map(|f| f.rows), Some(20000));
    // The session was read-only.
    assert!(db.execute("CREATE TABLE nope (id int)", &[]).await.is_err());

    let dir = tmp(
        "url",
        &[(
            "001_indexes.sql",
            "SET lock_timeout = '1s';\nCREATE INDEX big_status ON big (status);\nCREATE INDEX tiny_status ON tiny (status);\nCREATE INDEX fresh_status ON fresh (status);\n",
        )],
    );
    let report = lint_paths(
        std::slice::from_ref(&dir),
        &LintConfig::default(),
        None,
        facts.clone(),
    )
    .unwrap();
    let f = &report.findings;
    let big = on(f, "require-concurrent-index-creation", "`big`");
    assert_eq!(big.len(), 1, "{f:?}");
    assert_eq!(big[0].severity, Severity::Error);
    assert!(
        big[0].message.contains("`big` has ~20k rows"),
        "{}",
        big[0].message
    );
    let tiny = on(f, "require-concurrent-index-creation", "`tiny`");
    assert_eq!(tiny.len(), 1);
    assert_eq!(tiny[0].severity, Severity::Note);
    // `fresh` is not in the database: the migration creates it, nobody uses it yet.
    assert!(
        on(f, "require-concurrent-index-creation", "fresh").is_empty(),
        "{f:?}"
    );

    // The threshold is configurable: at 5 rows, `tiny` is no longer small.
    let mut strict = facts;
    strict.small_table_rows = 5;
    let report = lint_paths(&[dir], &LintConfig::default(), None, strict).unwrap();
    let tiny = on(
        &report.findings,
        "require-concurrent-index-creation",
        "`tiny`",
    );
    assert_eq!(tiny[0].severity, Severity::Error);

    // Without --url nothing is known to be absent.
    assert!(!Facts::default().is_absent("fresh"));
}

#[tokio::test]
async fn trace_catches_a_rewrite_inside_a_function_body() {
    let db = database("lint_trace_fn").await;
    let files = vec![
        (
            "001_create.sql".to_string(),
            "CREATE TABLE orders (id bigint PRIMARY KEY, total int);\nINSERT INTO orders SELECT g, g FROM generate_series(1, 100) g;\nCREATE FUNCTION widen() RETURNS void LANGUAGE plpgsql AS $$\nBEGIN\n  ALTER TABLE orders ALTER COLUMN total TYPE bigint;\nEND\n$$;\n".to_string(),
        ),
        ("002_run.sql".to_string(), "SET lock_timeout = '1s';\nSELECT widen();\n".to_string()),
    ];
    // The static rules see nothing dangerous in `SELECT widen()`.
    let static_findings = tandem_lint::lint_sql(&files[1].1);
    assert!(static_findings.is_empty(), "{static_findings:?}");

    let traced = trace::trace_set(&db, &files).await.unwrap();
    let call = traced
        .iter()
        .find(|t| t.statement == "SELECT widen()")
        .unwrap();
    assert!(call.observed.error.is_none(), "{:?}", call.observed.error);
    assert!(call.observed.locks.contains(&(
        "orders".to_string(),
        tandem_core::locks::LockMode::AccessExclusive
    )));
    assert!(
        call.observed.rewritten.contains("orders"),
        "{:?}",
        call.observed
    );
    // The table created in the same file as its statements is new: nothing reported there.
    let created = traced
        .iter()
        .find(|t| t.statement.starts_with("CREATE TABLE"))
        .unwrap();
    assert!(created.observed.locks.is_empty());

    let found = trace::findings(&traced, &[]);
    let hits: Vec<&Finding> = found.iter().filter(|f| f.rule == TRACE).collect();
    assert_eq!(hits.len(), 1, "{found:?}");
    assert_eq!((hits[0].file.as_str(), hits[0].line), ("002_run.sql", 2));
    assert_eq!(hits[0].severity, Severity::Error);
    assert!(
        hits[0].message.contains("ACCESS EXCLUSIVE on `orders`"),
        "{}",
        hits[0].message
    );
    assert!(hits[0].message.contains("rewrote `orders`"));
}

#[tokio::test]
async fn trace_observes_validation_scans_and_contradicts_a_static_rewrite_verdict() {
    let db = database("lint_trace_scan").await;
    let files = vec![
        (
            "001.sql".to_string(),
            // Created through dynamic SQL: the static rules cannot know the column's type.
            "DO $$ BEGIN EXECUTE format('CREATE TABLE %I (id bigint PRIMARY KEY, name varchar(50), total int)', 'users'); END $$;\n".to_string(),
        ),
        (
            "002.sql".to_string(),
            "ALTER TABLE users ALTER COLUMN name TYPE text;\nALTER TABLE users ADD CONSTRAINT total_positive CHECK (total > 0);\n".to_string(),
        ),
    ];
    let static_findings = tandem_lint::Linter::new(&LintConfig::default(), None).lint(
        "002.sql",
        &files[1].1,
        tandem_lint::source::Placement::Whole,
    );
    assert!(static_findings
        .iter()
        .any(|f| f.rule == "rewriting-type-change"));
    let traced = trace::trace_set(&db, &files).await.unwrap();
    let found = trace::findings(&traced, &static_findings);
    let contradiction: Vec<&Finding> = found
        .iter()
        .filter(|f| f.rule == TRACE_CONTRADICTS)
        .collect();
    assert_eq!(contradiction.len(), 1, "{found:?}");
    assert_eq!(contradiction[0].line, 1);
    assert!(contradiction[0].message.contains("rewriting-type-change"));
    let check = traced
        .iter()
        .find(|t| t.statement.contains("CHECK"))
        .unwrap();
    assert!(
        check.observed.scanned.contains("users"),
        "{:?}",
        check.observed
    );
    assert!(check.observed.rewritten.is_empty());
}
