//! pgroll's example migrations, applied in order (start + complete each), as far as tandem's
//! operations reach. The first file that needs an operation tandem does not plan yet must fail
//! cleanly, naming that operation, and change nothing.

mod common;

use common::fresh_db;
use std::path::PathBuf;
use tandem_core::Migration;

/// The first example that needs an operation tandem does not plan yet (create_constraint).
const FIRST_UNSUPPORTED: &str = "44_add_table_unique_constraint";

fn examples_dir() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    for candidate in [
        here.join("../../../shared/compat/pgroll-examples"),
        here.join("../../shared/compat/pgroll-examples"),
    ] {
        if candidate.is_dir() {
            return candidate;
        }
    }
    panic!("pgroll examples not found beside the repository (expected ../shared/compat/pgroll-examples)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgroll_examples_apply_in_order() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(examples_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 56, "every example is a migration");
    // Every file parses strictly, supported or not.
    let migrations: Vec<Migration> = files
        .iter()
        .map(|f| Migration::from_file(f).unwrap_or_else(|e| panic!("{e}")))
        .collect();

    let db = fresh_db().await;
    let mut engine = db.engine().await;
    let mut applied = Vec::new();
    for m in &migrations {
        match engine.start(m).await {
            Ok(_) => {
                engine
                    .complete()
                    .await
                    .unwrap_or_else(|e| panic!("complete {}: {e}", m.name));
                applied.push(m.name.clone());
            }
            Err(e) => {
                assert_eq!(
                    m.name,
                    FIRST_UNSUPPORTED,
                    "{} failed: {e} ({})",
                    m.name,
                    e.help()
                );
                assert!(e.to_string().contains("not supported"), "says why: {e}");
                let status = engine.status().await.unwrap();
                assert_eq!(
                    status.status, "complete",
                    "the failed start left nothing in progress"
                );
                assert_eq!(
                    status.migration.as_deref(),
                    applied.last().map(String::as_str)
                );
                return;
            }
        }
    }
    panic!(
        "every example applied: update FIRST_UNSUPPORTED (applied {})",
        applied.len()
    );
}
