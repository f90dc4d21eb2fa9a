//! Lock safety: tandem waits for locks without making the application queue behind it, gives
//! up clearly when its budget runs out, and runs one at a time.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tandem_pg::{Error, LockSettings, Settings};
use tandem_testkit::{fresh_db, migration, settings};

const BASELINE: &str = "operations:\n  - create_table:\n      name: users\n      columns:\n        - {name: id, type: serial, pk: true}\n        - {name: name, type: text}\n";
const ADD: &str = "operations:\n  - add_column:\n      table: users\n      column: {name: active, type: boolean, default: \"true\"}\n";

/// Holds a lock on `users` that conflicts with tandem's ACCESS EXCLUSIVE (but not with the
/// application's reads and writes) for `hold`, like a long report query or a slow transaction.
async fn hold_lock(db: &tandem_testkit::Db, hold: Duration) -> tokio::task::JoinHandle<()> {
    let mut holder = db.client().await;
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let handle = tokio::spawn(async move {
        let tx = holder.transaction().await.unwrap();
        tx.batch_execute("LOCK TABLE public.users IN ACCESS SHARE MODE")
            .await
            .unwrap();
        let _ = ready_tx.send(());
        tokio::time::sleep(hold).await;
        tx.commit().await.unwrap();
    });
    ready_rx.await.unwrap();
    handle
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tandem_waits_for_a_lock_without_blocking_the_application() {
    let db = fresh_db().await;
    db.apply("01_users", BASELINE).await;
    db.execute("INSERT INTO public.users (name) SELECT 'u' || g FROM generate_series(1, 1000) g")
        .await;
    let lock_timeout = Duration::from_millis(200);
    let holder = hold_lock(&db, Duration::from_secs(3)).await;

    // The application: reads and writes as fast as it can, timing each statement.
    let stop = Arc::new(AtomicBool::new(false));
    let app = {
        let client = db.client_on("public_01_users").await;
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut worst = Duration::ZERO;
            let mut statements = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                client
                    .query_one("SELECT count(*) FROM users", &[])
                    .await
                    .unwrap();
                client
                    .execute("INSERT INTO users (name) VALUES ('app')", &[])
                    .await
                    .unwrap();
                worst = worst.max(t.elapsed());
                statements += 2;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            (worst, statements)
        })
    };

    let began = Instant::now();
    let mut engine = db
        .engine_with(Settings {
            locks: LockSettings {
                lock_timeout,
                retry_budget: Duration::from_secs(30),
            },
            ..settings()
        })
        .await;
    engine
        .start(&migration("02_add", ADD))
        .await
        .expect("start succeeds once the lock is released");
    let waited = began.elapsed();
    stop.store(true, Ordering::Relaxed);
    let (worst, statements) = app.await.unwrap();
    holder.await.unwrap();
    engine.complete().await.expect("complete");

    assert!(
        waited >= Duration::from_millis(2500),
        "tandem must have waited for the lock holder, took {waited:?}"
    );
    assert!(
        statements > 50,
        "the application kept working ({statements} statements)"
    );
    // A read or write queues behind tandem's waiting ALTER for at most lock_timeout.
    assert!(
        worst < lock_timeout + Duration::from_millis(400),
        "an application statement waited {worst:?}, more than lock_timeout ({lock_timeout:?}) allows"
    );
    assert_eq!(
        db.scalar_i64("SELECT count(*) FROM public.users WHERE active")
            .await,
        db.scalar_i64("SELECT count(*) FROM public.users").await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exhausted_lock_budget_fails_clearly_and_a_rerun_continues() {
    let db = fresh_db().await;
    db.apply("01_users", BASELINE).await;
    let holder = hold_lock(&db, Duration::from_secs(4)).await;
    let mut engine = db
        .engine_with(Settings {
            locks: LockSettings {
                lock_timeout: Duration::from_millis(100),
                retry_budget: Duration::from_secs(1),
            },
            ..settings()
        })
        .await;
    let m = migration("02_add", ADD);
    let err = engine
        .start(&m)
        .await
        .expect_err("the lock is held longer than the budget");
    let Error::LockBudget { message, help } = &err else {
        panic!("expected a lock budget error, got {err}")
    };
    assert!(
        message.contains("ACCESS EXCLUSIVE on public.users"),
        "{message}"
    );
    assert!(
        message.contains("held by public.users: pid"),
        "names the blocking session: {message}"
    );
    assert!(help.contains("run the same command again"), "{help}");
    // Nothing of the failed step happened; the state says start is under way at step 1.
    let status = engine.status().await.unwrap();
    assert_eq!(status.status, Some(tandem_pg::MigrationStatus::InProgress));
    assert_eq!(status.steps_done, Some(0));
    holder.await.unwrap();
    engine.start(&m).await.expect("the rerun continues");
    engine.complete().await.expect("complete");
    assert_eq!(db.scalar_i64("SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'users' AND column_name = 'active'").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_runner_waits_then_fails_clearly() {
    let db = fresh_db().await;
    let other = db.client().await;
    other
        .query_one(
            "SELECT pg_advisory_lock($1)",
            &[&tandem_pg::RUNNER_LOCK_KEY],
        )
        .await
        .unwrap();
    let mut engine = db
        .engine_with(Settings {
            wait_for_runner: Duration::from_millis(800),
            ..settings()
        })
        .await;
    let began = Instant::now();
    let err = engine.init().await.expect_err("the runner lock is taken");
    assert!(began.elapsed() >= Duration::from_millis(800));
    assert!(matches!(err, Error::Busy { .. }), "{err}");
    assert!(
        err.to_string().contains("another tandem is running"),
        "{err}"
    );
    assert!(err.to_string().contains("pid"), "names the holder: {err}");
    other
        .query_one(
            "SELECT pg_advisory_unlock($1)",
            &[&tandem_pg::RUNNER_LOCK_KEY],
        )
        .await
        .unwrap();
    engine.init().await.expect("free again");
}

const TWO_TABLES: &str = "operations:\n  - create_table:\n      name: a\n      columns:\n        - {name: id, type: serial, pk: true}\n        - {name: x, type: integer}\n  - create_table:\n      name: b\n      columns:\n        - {name: id, type: serial, pk: true}\n        - {name: x, type: integer}\n";
const ADD_TO_A: &str = "operations:\n  - add_column:\n      table: a\n      column: {name: y, type: integer, default: \"0\"}\n";

/// An application transaction writes through two views of the old version (`b`, then `a`)
/// while the next migration starts and refreshes that version's privileges. Column grants made
/// since make the refresh alter each view (ACCESS EXCLUSIVE, on PostgreSQL 15+), `a` before
/// `b`: tandem must never hold view `a` while it waits for `b`, and must wait only under its
/// lock timeout, so the application's write to `a` goes through instead of being chosen as a
/// deadlock victim, and tandem's start finishes once the application commits. Any table, any
/// pair of views: not only partitioned ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refreshing_the_old_versions_grants_never_deadlocks_with_the_application() {
    let db = fresh_db().await;
    db.apply("01_two", TWO_TABLES).await;
    db.execute("GRANT SELECT (id) ON public.a, public.b TO PUBLIC")
        .await;
    let app = db.client_on("public_01_two").await;
    app.batch_execute("BEGIN; INSERT INTO b (x) VALUES (1)")
        .await
        .unwrap();

    // The application's second write, once tandem has reached view `b` (it waits there) and
    // long enough after for PostgreSQL's deadlock check (1 s) to run while the application
    // waits.
    let application = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let second = app.batch_execute("INSERT INTO a (x) VALUES (2)").await;
        app.batch_execute("COMMIT").await.unwrap();
        second
    });
    let mut engine = db.engine().await;
    engine
        .start(&migration("02_change", ADD_TO_A))
        .await
        .unwrap_or_else(|e| panic!("start: {e} ({})", e.help()));
    application
        .await
        .unwrap()
        .expect("the application's write through the second view is never a deadlock victim");

    let c = db.client().await;
    let rows: i64 = c
        .query_one(
            "SELECT (SELECT count(*) FROM public.a) + (SELECT count(*) FROM public.b)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, 2, "both writes of the application were kept");
    let views: Vec<String> = c
        .query(
            "SELECT relname || ' ' || coalesce(array_to_string(reloptions, ','), '') FROM pg_class \
             WHERE relnamespace = 'public_01_two'::regnamespace AND relkind = 'v' ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    if c.query_one("SHOW server_version_num", &[])
        .await
        .unwrap()
        .get::<_, String>(0)
        .parse::<i32>()
        .unwrap()
        >= 150000
    {
        assert_eq!(
            views,
            ["a security_invoker=false", "b security_invoker=false"],
            "the refresh did change both views, so their column grants apply"
        );
    }
}
