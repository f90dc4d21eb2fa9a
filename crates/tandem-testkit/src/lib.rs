//! tandem's test harness, shared by the tests of tandem-pg and tandem-cli (a dev-dependency,
//! never published): a database per test on the test binary's own throwaway cluster, clients
//! per version, writers that keep writing while a migration runs, schema and row snapshots, and
//! a runner that takes every two-version case to complete and to rollback (in the style of
//! Reshape's tests).
//!
//! It is test code: it panics with a message saying what failed instead of returning errors,
//! and it must never connect to a server it did not start (every database lives on the
//! cluster `tandem_ephemeral::shared` starts for the test binary).

pub mod sql_fields;

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tandem_core::quote::ident;
use tandem_core::Migration;
use tandem_pg::{ConnectOptions, Engine, LockSettings, Settings, Silent};
use tokio_postgres::{Client, NoTls};

static COUNTER: AtomicU32 = AtomicU32::new(0);

#[derive(Clone)]
pub struct Db {
    pub url: String,
    pub name: String,
}

pub async fn connect(url: &str) -> Client {
    let (client, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .expect("connect to the test cluster");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

/// A new empty database on this test binary's cluster.
pub async fn fresh_db() -> Db {
    let cluster =
        tokio::task::spawn_blocking(|| tandem_ephemeral::shared().map(|c| c.url("postgres")))
            .await
            .expect("join")
            .expect("start the throwaway PostgreSQL cluster");
    let name = format!(
        "t_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    );
    let admin = connect(&cluster).await;
    admin
        .batch_execute(&format!("CREATE DATABASE {}", ident(&name)))
        .await
        .expect("create test database");
    let url = cluster
        .rsplit_once('/')
        .map(|(base, _)| format!("{base}/{name}"))
        .expect("url");
    Db { url, name }
}

pub fn settings() -> Settings {
    Settings {
        schema: "public".into(),
        locks: LockSettings {
            lock_timeout: Duration::from_millis(200),
            retry_budget: Duration::from_secs(30),
        },
        wait_for_runner: Duration::from_secs(30),
        backfill: Default::default(),
    }
}

pub fn migration(name: &str, yaml: &str) -> Migration {
    Migration::parse(name, &format!("{name}.yaml"), yaml, false).expect("test migration parses")
}

impl Db {
    pub async fn client(&self) -> Client {
        connect(&self.url).await
    }

    /// A client whose search_path is `path` (a version schema), as an application would set it.
    pub async fn client_on(&self, path: &str) -> Client {
        let c = self.client().await;
        c.batch_execute(&format!("SET search_path TO {}", ident(path)))
            .await
            .expect("set search_path");
        c
    }

    pub async fn engine(&self) -> Engine {
        self.engine_with(settings()).await
    }

    pub async fn engine_with(&self, settings: Settings) -> Engine {
        Engine::connect(
            &ConnectOptions {
                url: Some(self.url.clone()),
            },
            settings,
            Arc::new(Silent),
        )
        .await
        .expect("engine connects")
    }

    pub async fn execute(&self, sql: &str) {
        self.client()
            .await
            .batch_execute(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    }

    pub async fn scalar_i64(&self, sql: &str) -> i64 {
        self.client()
            .await
            .query_one(sql, &[])
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
            .get(0)
    }

    /// Start and complete a migration.
    pub async fn apply(&self, name: &str, yaml: &str) {
        let mut e = self.engine().await;
        e.start(&migration(name, yaml))
            .await
            .unwrap_or_else(|err| panic!("start {name}: {err}"));
        e.complete()
            .await
            .unwrap_or_else(|err| panic!("complete {name}: {err}"));
    }

    /// The user-visible schemas (not the system's).
    pub async fn schemas(&self) -> Vec<String> {
        self.client()
            .await
            .query(
                "SELECT nspname::text FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' ORDER BY 1",
                &[],
            )
            .await
            .expect("list schemas")
            .iter()
            .map(|r| r.get(0))
            .collect()
    }

    /// Everything about schema `public` that a migration could change, minus statistics:
    /// tables, columns, types, defaults, constraints, indexes, comments, functions, triggers.
    pub async fn snapshot(&self) -> serde_json::Value {
        let mut schema = self.engine().await.live_schema().await.expect("introspect");
        let c = self.client().await;
        for t in &mut schema.tables {
            t.estimated_rows = 0;
        }
        let extra: serde_json::Value = c
            .query_one(
                "SELECT json_build_object(
                   'constraints', (SELECT coalesce(json_agg(pg_get_constraintdef(oid) || ' ' || conname ORDER BY conname), '[]') FROM pg_constraint WHERE connamespace = 'public'::regnamespace),
                   'indexes', (SELECT coalesce(json_agg(indexdef ORDER BY indexname), '[]') FROM pg_indexes WHERE schemaname = 'public'),
                   'functions', (SELECT coalesce(json_agg(proname ORDER BY proname), '[]') FROM pg_proc WHERE pronamespace = 'public'::regnamespace),
                   'triggers', (SELECT coalesce(json_agg(tgname ORDER BY tgname), '[]') FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE c.relnamespace = 'public'::regnamespace AND NOT tgisinternal))",
                &[],
            )
            .await
            .expect("snapshot")
            .get(0);
        serde_json::json!({ "schema": schema, "extra": extra })
    }
}

/// The clients of one two-version case.
#[derive(Clone)]
pub struct Versions {
    pub db: Db,
    /// Writes through the previous version schema.
    pub old: Arc<Client>,
    /// Writes through the new version schema.
    pub new: Arc<Client>,
    pub old_schema: String,
    pub new_schema: String,
}

impl Versions {
    /// Clients of the baseline's version (old) and of `02_change`'s (new).
    pub async fn open(db: &Db) -> Versions {
        Versions {
            old: Arc::new(db.client_on("public_01_baseline").await),
            new: Arc::new(db.client_on("public_02_change").await),
            old_schema: "public_01_baseline".into(),
            new_schema: "public_02_change".into(),
            db: db.clone(),
        }
    }
}

/// A fresh database with the baseline migration applied (so old clients have its version
/// schema, `public_01_baseline`) and `seed` run.
pub async fn baseline_db(baseline: &str, seed: &str) -> Db {
    let db = fresh_db().await;
    db.apply("01_baseline", baseline).await;
    if !seed.is_empty() {
        db.execute(seed).await;
    }
    db
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Ending {
    Complete,
    Rollback,
}

/// Runs a two-version case twice: to complete and to rollback, each on a fresh database.
///
/// `baseline` is applied (start + complete) first, so old clients use its version schema
/// `public_<baseline name>`; `seed` SQL then fills the tables. Between start and the ending,
/// `during` uses both clients; after the ending, `after` checks the result.
pub async fn two_versions<D, DF, A, AF>(
    baseline: &str,
    seed: &str,
    migration_yaml: &str,
    during: D,
    after: A,
) where
    D: Fn(Versions) -> DF,
    DF: Future<Output = ()>,
    A: Fn(Versions, Ending) -> AF,
    AF: Future<Output = ()>,
{
    for ending in [Ending::Complete, Ending::Rollback] {
        let db = baseline_db(baseline, seed).await;
        let before = db.snapshot().await;
        let rows_before = db.snapshot_rows().await;
        let mut engine = db.engine().await;
        engine
            .start(&migration("02_change", migration_yaml))
            .await
            .unwrap_or_else(|e| panic!("start: {e} ({})", e.help()));
        let versions = Versions::open(&db).await;
        during(versions.clone()).await;
        let rows_during = db.snapshot_rows().await;
        match ending {
            Ending::Complete => {
                engine
                    .complete()
                    .await
                    .unwrap_or_else(|e| panic!("complete: {e} ({})", e.help()));
                db.assert_completed_cleanly().await;
            }
            Ending::Rollback => {
                engine
                    .rollback()
                    .await
                    .unwrap_or_else(|e| panic!("rollback: {e} ({})", e.help()));
                db.assert_rolled_back_to(&before).await;
                let rows_after = db.snapshot_rows().await;
                let kept = db.project_onto_current_tables(&rows_during).await;
                assert_eq!(
                    rows_after, kept,
                    "rollback keeps every row and value written meanwhile by either version"
                );
                assert!(rows_after.len() >= rows_before.len());
            }
        }
        after(versions, ending).await;
    }
}

impl Db {
    /// After complete: only the new version schema beside `public` and tandem's state, and no
    /// function or trigger of tandem's.
    pub async fn assert_completed_cleanly(&self) {
        assert_eq!(
            self.schemas().await,
            vec!["public", "public_02_change", "tandem"],
            "after complete only the new version schema is left beside public and tandem's state"
        );
        let snap = self.snapshot().await;
        assert_eq!(
            snap["extra"]["functions"],
            serde_json::json!([]),
            "no functions left behind"
        );
        assert_eq!(
            snap["extra"]["triggers"],
            serde_json::json!([]),
            "no triggers left behind"
        );
    }

    /// After rollback: the old version schema is back alone and the schema is as `before`.
    pub async fn assert_rolled_back_to(&self, before: &serde_json::Value) {
        assert_eq!(
            self.schemas().await,
            vec!["public", "public_01_baseline", "tandem"]
        );
        assert!(
            self.snapshot().await == *before,
            "rollback leaves the schema exactly as before"
        );
    }

    /// `rows` (from [`Db::snapshot_rows`]) limited to the tables and columns that exist now:
    /// what must survive a rollback.
    pub async fn project_onto_current_tables(
        &self,
        rows: &[serde_json::Value],
    ) -> Vec<serde_json::Value> {
        let c = self.client().await;
        let mut columns: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for r in c
            .query("SELECT table_name::text, column_name::text FROM information_schema.columns WHERE table_schema = 'public'", &[])
            .await
            .expect("columns")
        {
            columns.entry(r.get(0)).or_default().push(r.get(1));
        }
        let mut out: Vec<serde_json::Value> = rows
            .iter()
            .filter_map(|row| {
                let table = row.get("_table")?.as_str()?;
                let cols = columns.get(table)?;
                let mut o = serde_json::Map::new();
                for k in cols {
                    o.insert(
                        k.clone(),
                        row.get(k).cloned().unwrap_or(serde_json::Value::Null),
                    );
                }
                o.insert("_table".into(), serde_json::Value::String(table.into()));
                Some(serde_json::Value::Object(o))
            })
            .collect();
        out.sort_by_key(|v| v.to_string());
        out
    }

    /// Every row of every table of `public` (physical names), as JSON, in a stable order.
    pub async fn snapshot_rows(&self) -> Vec<serde_json::Value> {
        let c = self.client().await;
        let tables: Vec<String> = c
            .query("SELECT relname::text FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r' ORDER BY 1", &[])
            .await
            .expect("tables")
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut out = Vec::new();
        for t in tables {
            let sql = format!(
                "SELECT to_jsonb(x) || jsonb_build_object('_table', {}) FROM public.{} x ORDER BY to_jsonb(x)::text",
                tandem_core::quote::literal(&t),
                ident(&t)
            );
            for r in c.query(sql.as_str(), &[]).await.expect("rows") {
                let v: serde_json::Value = r.get(0);
                out.push(v);
            }
        }
        out.sort_by_key(|v| v.to_string());
        out
    }
}

/// A writer that runs SQL in a loop until stopped, counting successes and keeping failures.
pub struct Writer {
    stop: Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<(u64, Vec<String>)>,
}

impl Writer {
    /// Starts writing `sql(i)` for i = 1, 2, ... through a client on `search_path`.
    pub async fn spawn(
        db: &Db,
        search_path: &str,
        sql: impl Fn(u64) -> String + Send + 'static,
    ) -> Writer {
        let client = db.client_on(search_path).await;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s = stop.clone();
        let task = tokio::spawn(async move {
            let mut ok = 0;
            let mut failures = Vec::new();
            let mut i = 0;
            while !s.load(Ordering::Relaxed) {
                i += 1;
                match client.batch_execute(&sql(i)).await {
                    Ok(()) => ok += 1,
                    Err(e) => failures.push(format!("{}: {e:?}", sql(i))),
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            (ok, failures)
        });
        Writer { stop, task }
    }

    /// Stops and asserts that every write succeeded; returns how many there were.
    pub async fn finish(self, who: &str) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        let (ok, failures) = self.task.await.expect("writer task");
        assert!(
            failures.is_empty(),
            "{who}: {} writes failed, first: {}",
            failures.len(),
            failures[0]
        );
        assert!(ok > 0, "{who} wrote nothing");
        ok
    }
}

/// Settings that make backfills take many small batches, so writers overlap them.
pub fn small_batches() -> Settings {
    Settings {
        backfill: tandem_pg::BackfillSettings {
            batch_size: Some(500),
            ..Default::default()
        },
        ..settings()
    }
}

/// A two-version case with writers: `old_sql` writes through the old version while `start`
/// runs (so during the backfill) and after; `new_sql` through the new version once it exists.
/// `check` runs with both still writing; then the ending, checked by `after`.
pub async fn two_versions_concurrent<C, CF, A, AF>(
    baseline: &str,
    seed: &str,
    migration_yaml: &str,
    old_sql: fn(u64) -> String,
    new_sql: fn(u64) -> String,
    check: C,
    after: A,
) where
    C: Fn(Versions) -> CF,
    CF: Future<Output = ()>,
    A: Fn(Versions, Ending) -> AF,
    AF: Future<Output = ()>,
{
    for ending in [Ending::Complete, Ending::Rollback] {
        let db = baseline_db(baseline, seed).await;
        let before = db.snapshot().await;
        let old_writer = Writer::spawn(&db, "public_01_baseline", old_sql).await;
        let mut engine = db.engine_with(small_batches()).await;
        engine
            .start(&migration("02_change", migration_yaml))
            .await
            .unwrap_or_else(|e| panic!("start: {e} ({})", e.help()));
        let new_writer = Writer::spawn(&db, "public_02_change", new_sql).await;
        tokio::time::sleep(Duration::from_millis(600)).await;
        let versions = Versions::open(&db).await;
        check(versions.clone()).await;
        // The verification the migration ran at start still holds after the concurrent writes.
        engine
            .verify()
            .await
            .unwrap_or_else(|e| panic!("verify: {e}"));
        match ending {
            Ending::Complete => {
                old_writer.finish("old version").await;
                engine
                    .complete()
                    .await
                    .unwrap_or_else(|e| panic!("complete: {e} ({})", e.help()));
                new_writer.finish("new version").await;
                db.assert_completed_cleanly().await;
                let helpers = db
                    .scalar_i64("SELECT count(*) FROM pg_attribute WHERE attrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r') AND attname LIKE '\\_tandem%' AND NOT attisdropped")
                    .await;
                assert_eq!(helpers, 0, "no helper columns left behind");
                let leftover = db
                    .scalar_i64("SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relname LIKE '\\_tandem%'")
                    .await;
                assert_eq!(leftover, 0, "no helper indexes left behind");
            }
            Ending::Rollback => {
                new_writer.finish("new version").await;
                engine
                    .rollback()
                    .await
                    .unwrap_or_else(|e| panic!("rollback: {e} ({})", e.help()));
                old_writer.finish("old version").await;
                db.assert_rolled_back_to(&before).await;
            }
        }
        after(versions, ending).await;
    }
}

/// The single bigint a query returns.
pub async fn count(c: &Client, sql: &str) -> i64 {
    c.query_one(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
        .get(0)
}

/// Asserts that `sql` fails with SQLSTATE `state`.
pub async fn fails_with(c: &Client, sql: &str, state: &tokio_postgres::error::SqlState) {
    let err = c
        .batch_execute(sql)
        .await
        .err()
        .unwrap_or_else(|| panic!("`{sql}` should fail"));
    assert_eq!(err.code(), Some(state), "`{sql}`: {err:?}");
}

/// pgroll's example migrations, kept beside the repository (`../shared`, not part of it);
/// `None` when they are absent, and the caller says so and checks nothing.
pub fn pgroll_examples_dir() -> Option<std::path::PathBuf> {
    // CARGO_MANIFEST_DIR is this crate's: crates/tandem-testkit.
    let here = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    [
        here.join("../../../shared/compat/pgroll-examples"),
        here.join("../../shared/compat/pgroll-examples"),
    ]
    .into_iter()
    .find(|candidate| candidate.is_dir())
}

/// A directory of its own under the system's temporary directory, removed when dropped.
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    /// A new empty directory named `<prefix>-<pid>-<n>`.
    pub fn new(prefix: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "{prefix}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
        TempDir(path)
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }

    /// Writes `body` to the file `name` in the directory and returns its path.
    pub fn write(&self, name: &str, body: &str) -> std::path::PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, body).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
