//! Server-decided online DDL, validation before anything runs, and lint.

mod common;

use common::*;
use tandem_mysql::state::Status;
use tandem_mysql::Event;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_picks_instant_or_inplace_else_a_copy() {
    let url = database("online_ladder").await;
    seed(&url, 500).await;
    let engine = engine(&url, copy_options(false)).await;
    let log = Log::default();
    let l = log.clone();
    let m = migration(
        "online_ladder",
        "operations:\n  - add_column: {table: items, column: {name: extra, type: int, nullable: true}}\n  - create_index: {name: items_v, table: items, columns: [v]}\n  - alter_column: {table: items, column: v, type: bigint}\n  - rename_table: {from: items, to: things}\n  - create_table: {name: other, columns: [{name: id, type: int, pk: true}, {name: label, type: 'varchar(10)', nullable: true, unique: true}]}\n",
    );
    assert_eq!(
        engine.start(&m, &move |e| l.push(e)).await.unwrap(),
        Status::Complete
    );
    let hows: Vec<String> = log
        .events()
        .iter()
        .filter_map(|e| match e {
            Event::Applied { how, .. } => Some(how.clone()),
            Event::CopyStarted { .. } => Some("copy".into()),
            _ => None,
        })
        .collect();
    assert_eq!(
        hows,
        vec![
            "ALGORITHM=INSTANT",
            "ALGORITHM=INPLACE, LOCK=NONE",
            "copy",
            "statement",
            "statement"
        ]
    );
    assert_eq!(
        column_type(&url, "things", "v").await.as_deref(),
        Some("bigint(20)")
    );
    assert_eq!(rows(&url, "things", "v").await.len(), 500);
    let status = engine.status().await.unwrap().unwrap();
    assert_eq!(
        (status.status.as_str(), status.changes_done),
        ("complete", 5)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_migration_changes_nothing_and_says_where() {
    let url = database("invalid").await;
    seed(&url, 10).await;
    let engine = engine(&url, copy_options(false)).await;
    // The second operation refers to a column that does not exist.
    let m = migration(
        "invalid",
        "operations:\n  - add_column: {table: items, column: {name: a, type: int, nullable: true}}\n  - drop_column: {table: items, column: nope}\n",
    );
    let error = engine.start_quietly(&m).await.unwrap_err().to_string();
    assert!(error.contains("invalid.yaml:3 (drop_column)"), "{error}");
    assert!(error.contains("column `nope` does not exist"), "{error}");
    assert_eq!(column_type(&url, "items", "a").await, None);
    // A type the server does not know is caught by the server, on a temporary copy.
    let m = migration(
        "invalid2",
        "operations:\n  - alter_column: {table: items, column: v, type: notatype}\n",
    );
    let error = engine.start_quietly(&m).await.unwrap_err().to_string();
    assert!(error.contains("invalid2.yaml:2 (alter_column)"), "{error}");
    assert!(error.contains("the server rejects it"), "{error}");
    assert_eq!(
        column_type(&url, "items", "v").await.as_deref(),
        Some("int(11)")
    );
    // Raw SQL is parsed by the server before anything runs; two statements are refused.
    let m = migration(
        "invalid3",
        "operations:\n  - sql: {up: 'UPDATE items SET v = 1; DROP TABLE items'}\n",
    );
    assert!(engine.start_quietly(&m).await.is_err());
    assert_eq!(rows(&url, "items", "v").await.len(), 10);
}

#[test]
fn lint_flags_copying_alters_and_missing_timeouts() {
    let findings = tandem_mysql::lint::lint(
        "ALTER TABLE users MODIFY id BIGINT;\nSET SESSION lock_wait_timeout = 2;\nALTER TABLE users ADD COLUMN x INT, ALGORITHM=INSTANT;\n",
    );
    let rules: Vec<_> = findings.iter().map(|f| (f.rule, f.line)).collect();
    assert_eq!(
        rules,
        vec![("mysql-lock-wait-timeout", 1), ("mysql-table-copy", 1)]
    );
}
