//! `tandem demo`: the whole expand/contract story on a throwaway PostgreSQL.
//!
//! A `users` table of sample rows; an "old application" writing through the first version
//! schema; a migration that renames a column and adds one; a "new application" writing
//! through the new version schema while the old one still writes; complete; the old
//! application retired first, as it would be in a rollout. Every write is counted; the demo
//! fails if any write failed.

use crate::cli::DemoArgs;
use crate::diagnostics::pg_error;
use crate::printer::Printer;
use miette::{miette, IntoDiagnostic, Report};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tandem_core::Migration;
use tandem_pg::{ConnectOptions, Engine, Settings};
use tokio_postgres::NoTls;

const BASELINE: &str = r#"
operations:
  - create_table:
      name: users
      columns:
        - name: id
          type: bigserial
          pk: true
        - name: name
          type: text
        - name: email
          type: text
          nullable: true
"#;

const MIGRATION: &str = r#"
operations:
  - rename_column:
      table: users
      from: name
      to: full_name
  - add_column:
      table: users
      column:
        name: active
        type: boolean
        default: "true"
"#;

/// Counts of one application's writes.
#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    failed: AtomicU64,
}

struct App {
    name: &'static str,
    tally: Arc<Tally>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Option<String>>,
}

impl App {
    /// Starts a writer that inserts and updates through `search_path`, with `columns` naming
    /// the version's name column.
    async fn spawn(
        name: &'static str,
        url: &str,
        search_path: &str,
        name_column: &'static str,
        extra: &'static str,
    ) -> Result<App, Report> {
        let (client, conn) = tokio_postgres::connect(url, NoTls)
            .await
            .into_diagnostic()?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        client
            .batch_execute(&format!(
                "SET search_path TO {}",
                tandem_core::quote::ident(search_path)
            ))
            .await
            .into_diagnostic()?;
        let tally = Arc::new(Tally::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (t, s) = (tally.clone(), stop.clone());
        let insert = format!(
            "INSERT INTO users ({name_column}, email{extra}) VALUES ($1, $2{}) RETURNING id",
            if extra.is_empty() { "" } else { ", true" }
        );
        let update = format!("UPDATE users SET {name_column} = $1 WHERE id = $2");
        let task = tokio::spawn(async move {
            let mut last_error = None;
            let mut i: i64 = 0;
            while !s.load(Ordering::Relaxed) {
                i += 1;
                let label = format!("{name} {i}");
                let email = format!("{name}-{i}@example.com");
                let result = async {
                    let row = client.query_one(insert.as_str(), &[&label, &email]).await?;
                    let id: i64 = row.get(0);
                    client
                        .execute(
                            update.as_str(),
                            &[&format!("{label} (edited)"), &(id % 50_000 + 1)],
                        )
                        .await
                }
                .await;
                match result {
                    Ok(_) => t.ok.fetch_add(2, Ordering::Relaxed),
                    Err(e) => {
                        last_error = Some(tandem_pg::db_message(&e));
                        t.failed.fetch_add(1, Ordering::Relaxed)
                    }
                };
            }
            last_error
        });
        Ok(App {
            name,
            tally,
            stop,
            task,
        })
    }

    async fn retire(self) -> Result<(u64, u64), Report> {
        self.stop.store(true, Ordering::Relaxed);
        let last_error = self.task.await.into_diagnostic()?;
        let (ok, failed) = (
            self.tally.ok.load(Ordering::Relaxed),
            self.tally.failed.load(Ordering::Relaxed),
        );
        if let Some(e) = last_error {
            println!("    {} last error: {e}", self.name);
        }
        Ok((ok, failed))
    }

    fn counts(&self) -> (u64, u64) {
        (
            self.tally.ok.load(Ordering::Relaxed),
            self.tally.failed.load(Ordering::Relaxed),
        )
    }
}

fn parse(name: &str, text: &str) -> Result<Migration, Report> {
    Migration::parse(name, &format!("<demo>/{name}.yaml"), text, false)
        .map_err(crate::diagnostics::parse_error)
}

pub async fn run(args: &DemoArgs, quiet: bool) -> Result<ExitCode, Report> {
    let begun = Instant::now();
    println!("== tandem demo: a rename and an added column while two application versions write\n");
    println!("[1/7] starting a throwaway PostgreSQL");
    let cluster = tokio::task::spawn_blocking(tandem_ephemeral::Cluster::start)
        .await
        .into_diagnostic()?
        .map_err(|e| miette!(help = "see the README's set-up section", "{e}"))?;
    println!(
        "      PostgreSQL {} on {}:{}",
        cluster.major_version(),
        cluster.host(),
        cluster.port()
    );
    let url = cluster.url("postgres");
    let settings = Settings::default();
    let mut engine = Engine::connect(
        &ConnectOptions {
            url: Some(url.clone()),
        },
        settings,
        Arc::new(Printer::new(true)),
    )
    .await
    .map_err(pg_error)?;
    let _ = quiet;

    println!(
        "[2/7] migration 01_create_users: create table users; load {} rows",
        args.rows
    );
    let baseline = parse("01_create_users", BASELINE)?;
    engine.start(&baseline).await.map_err(pg_error)?;
    engine.complete().await.map_err(pg_error)?;
    engine
        .client()
        .execute(
            "INSERT INTO public.users (name, email) SELECT 'user ' || g, 'user' || g || '@example.com' FROM generate_series(1, $1::bigint) g",
            &[&args.rows],
        )
        .await
        .into_diagnostic()?;
    engine
        .client()
        .batch_execute("ANALYZE public.users")
        .await
        .into_diagnostic()?;

    println!("[3/7] the old application writes through version schema public_01_create_users");
    let old = App::spawn("old app", &url, "public_01_create_users", "name", "").await?;
    tokio::time::sleep(args.phase_time / 2).await;

    let migration = parse("02_rename_and_add", MIGRATION)?;
    let planned = engine.plan(&migration).await.map_err(pg_error)?;
    println!(
        "[4/7] tandem start 02_rename_and_add ({} steps: {})",
        planned.plan.start.len(),
        planned
            .plan
            .start
            .iter()
            .map(|s| s.description.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    );
    let t = Instant::now();
    engine.start(&migration).await.map_err(pg_error)?;
    println!(
        "      started in {:.0} ms; the old application never stopped",
        t.elapsed().as_secs_f64() * 1000.0
    );

    println!("[5/7] the new application writes through public_02_rename_and_add (full_name, active) beside the old one");
    let new = App::spawn(
        "new app",
        &url,
        "public_02_rename_and_add",
        "full_name",
        ", active",
    )
    .await?;
    tokio::time::sleep(args.phase_time).await;
    let (o, n) = (old.counts(), new.counts());
    println!(
        "      so far: old app {} writes ({} failed), new app {} writes ({} failed)",
        o.0, o.1, n.0, n.1
    );
    let seen_by_new: i64 = engine
        .client()
        .query_one(
            "SELECT count(*) FROM public_02_rename_and_add.users WHERE full_name LIKE 'old app %'",
            &[],
        )
        .await
        .into_diagnostic()?
        .get(0);
    let seen_by_old: i64 = engine
        .client()
        .query_one(
            "SELECT count(*) FROM public_01_create_users.users WHERE name LIKE 'new app %'",
            &[],
        )
        .await
        .into_diagnostic()?
        .get(0);
    println!("      each sees the other's rows: the new version sees {seen_by_new} rows of the old app, the old version {seen_by_old} of the new app");

    println!("[6/7] the old application is retired; tandem complete");
    let (old_ok, old_failed) = old.retire().await?;
    let t = Instant::now();
    engine.complete().await.map_err(pg_error)?;
    println!(
        "      completed in {:.0} ms; the new application never stopped",
        t.elapsed().as_secs_f64() * 1000.0
    );
    tokio::time::sleep(args.phase_time / 2).await;
    let (new_ok, new_failed) = new.retire().await?;

    let columns: Vec<String> = engine
        .client()
        .query(
            "SELECT column_name::text FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'users' ORDER BY ordinal_position",
            &[],
        )
        .await
        .into_diagnostic()?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let rows: i64 = engine
        .client()
        .query_one("SELECT count(*) FROM public.users", &[])
        .await
        .into_diagnostic()?
        .get(0);
    println!(
        "[7/7] done: table users has columns ({}) and {rows} rows",
        columns.join(", ")
    );
    println!("\n      old application: {old_ok} writes, {old_failed} failed");
    println!("      new application: {new_ok} writes, {new_failed} failed");
    println!(
        "      total time {:.1}s; cleaning up the throwaway PostgreSQL",
        begun.elapsed().as_secs_f64()
    );
    drop(engine);
    drop(cluster);
    let expected = ["id", "full_name", "email", "active"];
    if old_failed + new_failed > 0 || columns != expected || seen_by_new == 0 || seen_by_old == 0 {
        return Err(miette!(
            help = "this is a bug in tandem; please report it with the output above",
            "the demo did not end as it should: {} failed writes, columns {:?}",
            old_failed + new_failed,
            columns
        ));
    }
    let _ = Duration::ZERO;
    Ok(ExitCode::SUCCESS)
}
