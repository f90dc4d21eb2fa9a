//! pgroll's 56 example migrations, applied in order. Each is started, rolled back (the schema
//! must come back exactly as it was), started again and completed. The examples live beside
//! the repository (`../shared`); without them the test says so and checks nothing.

use std::path::PathBuf;
use tandem_core::Migration;
use tandem_testkit::{fresh_db, pgroll_examples_dir};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_pgroll_example_starts_rolls_back_and_completes_in_order() {
    let Some(dir) = pgroll_examples_dir() else {
        eprintln!(
            "pgroll examples not found beside the repository (expected ../shared/compat/pgroll-examples): this test checked nothing"
        );
        return;
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 56, "every example is a migration");
    let migrations: Vec<Migration> = files
        .iter()
        .map(|f| Migration::from_file(f).unwrap_or_else(|e| panic!("{e}")))
        .collect();

    let db = fresh_db().await;
    let mut engine = db.engine().await;
    for m in &migrations {
        let before = db.snapshot().await;
        let user_schemas = |all: Vec<String>| {
            all.into_iter()
                .filter(|s| s != "tandem")
                .collect::<Vec<_>>()
        };
        let schemas = user_schemas(db.schemas().await);
        // Raw SQL without `down` cannot be undone; every other migration can.
        let irreversible = m
            .operations
            .iter()
            .any(|o| matches!(o, tandem_core::Operation::Sql(sql) if !sql.on_complete && sql.down.is_none()));
        if !irreversible {
            engine
                .start(m)
                .await
                .unwrap_or_else(|e| panic!("start {}: {e} ({})", m.name, e.help()));
            engine
                .rollback()
                .await
                .unwrap_or_else(|e| panic!("rollback {}: {e} ({})", m.name, e.help()));
            assert!(
                db.snapshot().await == before,
                "rollback of {} does not restore the schema",
                m.name
            );
            assert_eq!(
                user_schemas(db.schemas().await),
                schemas,
                "rollback of {} leaves the same schemas",
                m.name
            );
        }
        engine
            .start(m)
            .await
            .unwrap_or_else(|e| panic!("start again {}: {e} ({})", m.name, e.help()));
        engine
            .complete()
            .await
            .unwrap_or_else(|e| panic!("complete {}: {e} ({})", m.name, e.help()));
        let snap = db.snapshot().await;
        assert_eq!(
            snap["extra"]["triggers"],
            serde_json::json!([]),
            "{} left triggers",
            m.name
        );
    }
    let status = engine.status().await.unwrap();
    assert_eq!(status.migration.as_deref(), Some("56_with_version_schema"));
    assert_eq!(
        status.version_schema.as_deref(),
        Some("with_version_schema")
    );
    // The last examples' objects exist with their final names.
    assert_eq!(db.scalar_i64("SELECT count(*) FROM pg_constraint WHERE conname IN ('fk_sellers', 'unique_zip_name', 'tasks_pkey')").await, 3);
    assert_eq!(
        db.scalar_i64("SELECT count(*) FROM pg_constraint WHERE conname = 'check_zip_name'")
            .await,
        0,
        "dropped by 48"
    );
}
