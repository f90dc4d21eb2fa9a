//! The tandem process killed (SIGKILL) between steps of start and of complete, then run
//! again, ends in the same state as an uninterrupted run.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tandem_testkit::{fresh_db, Db, TempDir};

const BASE: &str = "operations:\n  - create_table:\n      name: users\n      columns:\n        - {name: id, type: serial, pk: true}\n        - {name: name, type: text}\n";
const CHANGE: &str = r#"operations:
  - create_table:
      name: notes
      columns:
        - {name: id, type: serial, pk: true}
        - {name: body, type: text}
  - add_column:
      table: users
      column: {name: active, type: boolean, default: "true"}
  - rename_column: {table: users, from: name, to: full_name}
"#;

fn files() -> (TempDir, PathBuf, PathBuf) {
    let dir = TempDir::new("tandem-crash");
    let base = dir.write("01_base.yaml", BASE);
    let change = dir.write("02_change.yaml", CHANGE);
    (dir, base, change)
}

fn tandem(db: &Db, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tandem"));
    c.arg("--url")
        .arg(&db.url)
        .args(["--lock-timeout", "100ms", "--lock-retry-budget", "120s"])
        .args(args);
    c.stdout(Stdio::null()).stderr(Stdio::piped());
    c
}

fn run_ok(db: &Db, args: &[&str]) {
    let out = tandem(db, args).output().unwrap();
    assert!(
        out.status.success(),
        "tandem {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Waits until the state records `phase` with `done` steps, i.e. tandem is stuck on the next step.
async fn wait_for_progress(db: &Db, phase: &str, done: i32) {
    let c = db.client().await;
    let began = Instant::now();
    loop {
        let row = c
            .query_opt(
                "SELECT phase, steps_done FROM tandem.migrations WHERE name = '02_change'",
                &[],
            )
            .await
            .ok()
            .flatten();
        if let Some(r) = row {
            if r.get::<_, String>(0) == phase && r.get::<_, i32>(1) == done {
                return;
            }
        }
        assert!(
            began.elapsed() < Duration::from_secs(30),
            "tandem never reached {phase} step {done}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs `args` while a lock on users blocks the step after `done`, and SIGKILLs tandem there.
async fn kill_at(db: &Db, args: &[&str], phase: &str, done: i32) {
    let mut holder = db.client().await;
    let tx = holder.transaction().await.unwrap();
    tx.batch_execute("LOCK TABLE public.users IN ACCESS SHARE MODE")
        .await
        .unwrap();
    let mut child: Child = tandem(db, args).spawn().unwrap();
    wait_for_progress(db, phase, done).await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    tx.commit().await.unwrap();
}

async fn end_state(db: &Db) -> serde_json::Value {
    let c = db.client().await;
    let history: serde_json::Value = c
        .query_one("SELECT json_agg(json_build_object('name', name, 'status', status, 'phase', phase) ORDER BY name) FROM tandem.migrations", &[])
        .await
        .unwrap()
        .get(0);
    serde_json::json!({
        "schema": db.snapshot().await,
        "schemas": db.schemas().await,
        "history": history,
        "views": c.query_one("SELECT json_agg(table_schema || '.' || table_name ORDER BY table_schema, table_name) FROM information_schema.views WHERE table_schema LIKE 'public_%'", &[]).await.unwrap().get::<_, serde_json::Value>(0),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_between_steps_then_rerun_ends_like_an_uninterrupted_run() {
    let (_dir, base, change) = files();

    let reference = fresh_db().await;
    run_ok(&reference, &["start", path(&base), "--complete"]);
    run_ok(&reference, &["start", path(&change)]);
    run_ok(&reference, &["complete"]);
    let expected = end_state(&reference).await;

    let db = fresh_db().await;
    run_ok(&db, &["start", path(&base), "--complete"]);
    // start: step 1 (create notes) done, step 2 (add column to users) waiting for its lock.
    kill_at(&db, &["start", path(&change)], "start", 1).await;
    assert_eq!(
        db.scalar_i64("SELECT count(*) FROM pg_tables WHERE tablename = 'notes'")
            .await,
        1,
        "step 1 committed"
    );
    run_ok(&db, &["start", path(&change)]);
    // complete: step 1 (drop the previous version schema) done, step 2 (rename) waiting.
    kill_at(&db, &["complete"], "complete", 1).await;
    run_ok(&db, &["complete"]);
    assert_eq!(end_state(&db).await, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_during_start_then_rolled_back_leaves_the_schema_as_before() {
    let (_dir, base, change) = files();
    let db = fresh_db().await;
    run_ok(&db, &["start", path(&base), "--complete"]);
    let before = db.snapshot().await;
    kill_at(&db, &["start", path(&change)], "start", 1).await;
    run_ok(&db, &["rollback"]);
    assert_eq!(db.snapshot().await, before);
    assert_eq!(db.schemas().await, ["public", "public_01_base", "tandem"]);
}

const ITEMS: &str = "operations:\n  - create_table:\n      name: items\n      columns:\n        - {name: id, type: serial, pk: true}\n        - {name: price, type: text, nullable: true}\n";
const RETYPE: &str = "operations:\n  - alter_column:\n      table: items\n      column: price\n      type: numeric\n      up: CAST(price AS numeric)\n      down: CAST(price AS text)\n";

async fn backfill_progress(db: &Db) -> Option<(i64, bool)> {
    let c = db.client().await;
    c.query_opt("SELECT rows_done, done FROM tandem.backfills", &[])
        .await
        .ok()
        .flatten()
        .map(|r| (r.get(0), r.get(1)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_killed_with_sigkill_resumes_where_it_stopped() {
    let dir = TempDir::new("tandem-crash");
    let base = dir.write("01_items.yaml", ITEMS);
    let change = dir.write("02_retype.yaml", RETYPE);
    let db = fresh_db().await;
    run_ok(&db, &["start", path(&base), "--complete"]);
    let rows = 60_000;
    db.execute(&format!("INSERT INTO public.items (price) SELECT (g % 1000)::text || '.5' FROM generate_series(1, {rows}) g")).await;

    let mut child = tandem(
        &db,
        &[
            "start",
            path(&change),
            "--backfill-batch-size",
            "1000",
            "--backfill-pause",
            "30ms",
        ],
    )
    .spawn()
    .unwrap();
    let began = Instant::now();
    loop {
        if let Some((done, _)) = backfill_progress(&db).await {
            if done >= 5_000 {
                break;
            }
        }
        assert!(
            began.elapsed() < Duration::from_secs(60),
            "the backfill never got going"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let (done_at_kill, finished) = backfill_progress(&db).await.unwrap();
    assert!(
        !finished && done_at_kill < rows,
        "killed mid-way ({done_at_kill} of {rows})"
    );

    run_ok(&db, &["start", path(&change)]);
    let (done, finished) = backfill_progress(&db).await.unwrap();
    assert!(finished);
    assert_eq!(
        done, rows,
        "every row backfilled exactly once: the rerun resumed at the checkpoint"
    );
    let wrong = db
        .scalar_i64("SELECT count(*) FROM public_01_items.items o JOIN public_02_retype.items n USING (id) WHERE n.price IS DISTINCT FROM o.price::numeric")
        .await;
    assert_eq!(wrong, 0);
    run_ok(&db, &["complete"]);
    assert_eq!(
        db.scalar_i64("SELECT count(*) FROM public.items WHERE price IS NULL")
            .await,
        0
    );
}
