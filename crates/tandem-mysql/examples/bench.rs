//! The MySQL benchmark (scripts/bench-mysql.sh): a type change that needs a copy on a 1M-row
//! table, done by the server's own `ALTER TABLE ... ALGORITHM=COPY` (offline: writes wait for
//! the whole copy), by pt-online-schema-change and by tandem, without and with a concurrent
//! write load, side by side on one throwaway MariaDB.
//!
//!   cargo run --release -p tandem-mysql --example bench -- [--rows N] [--rate WRITES_PER_S]

use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tandem_core::Migration;
use tandem_ephemeral::mariadb::{MariaDb, MariaDbOptions};
use tandem_mysql::engine::Options;
use tandem_mysql::mysql_async::prelude::*;
use tandem_mysql::mysql_async::{Conn, Opts, Pool};
use tandem_mysql::Engine;

type AnyError = Box<dyn std::error::Error + Send + Sync>;

const ALTER: &str = "MODIFY COLUMN a BIGINT NOT NULL";

#[derive(Clone, Copy, PartialEq)]
enum Method {
    Offline,
    PtOsc,
    Tandem,
}

impl Method {
    fn name(self) -> &'static str {
        match self {
            Method::Offline => "ALTER TABLE ... ALGORITHM=COPY (offline)",
            Method::PtOsc => "pt-online-schema-change",
            Method::Tandem => "tandem",
        }
    }
}

struct Outcome {
    seconds: f64,
    writes: u64,
    slowest_write_ms: u64,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() -> Result<(), AnyError> {
    let mut rows: u64 = 1_000_000;
    let mut rate: u64 = 200;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--rows" => rows = args.next().and_then(|v| v.parse().ok()).ok_or("--rows N")?,
            "--rate" => rate = args.next().and_then(|v| v.parse().ok()).ok_or("--rate N")?,
            other => return Err(format!("unknown argument {other}; use --rows N, --rate N").into()),
        }
    }
    eprintln!("starting a throwaway MariaDB ...");
    let server = MariaDb::start_with(MariaDbOptions {
        settings: vec![("innodb-buffer-pool-size".into(), "1G".into())],
    })?;
    let mut results = Vec::new();
    for load in [false, true] {
        for method in [Method::Offline, Method::PtOsc, Method::Tandem] {
            let db = format!(
                "bench_{}_{}",
                match method {
                    Method::Offline => "offline",
                    Method::PtOsc => "ptosc",
                    Method::Tandem => "tandem",
                },
                if load { "load" } else { "idle" }
            );
            let url = setup(&server, &db, rows).await?;
            eprintln!(
                "{} ({}) ...",
                method.name(),
                if load { "with writes" } else { "idle" }
            );
            let outcome = run(&server, &db, &url, method, load.then_some(rate)).await?;
            check(&url, rows).await?;
            results.push((method, load, outcome));
        }
    }
    println!();
    println!("MySQL benchmark: {ALTER} on {rows} rows (MariaDB, one run each)");
    println!(
        "{:<44} {:>8} {:>10} {:>14} {:>16}",
        "method", "load", "seconds", "app writes", "slowest write"
    );
    for (method, load, o) in &results {
        println!(
            "{:<44} {:>8} {:>10.2} {:>14} {:>13} ms",
            method.name(),
            if *load {
                format!("{rate}/s")
            } else {
                "none".into()
            },
            o.seconds,
            if *load {
                o.writes.to_string()
            } else {
                "-".into()
            },
            if *load {
                o.slowest_write_ms.to_string()
            } else {
                "-".into()
            },
        );
    }
    println!();
    for load in [false, true] {
        let get = |m: Method| {
            results
                .iter()
                .find(|(mm, l, _)| *mm == m && *l == load)
                .map(|(_, _, o)| o.seconds)
                .unwrap_or(f64::NAN)
        };
        let (offline, ptosc, tandem) = (
            get(Method::Offline),
            get(Method::PtOsc),
            get(Method::Tandem),
        );
        let speedup = ptosc / tandem;
        let ratio = tandem / offline;
        println!(
            "{}: tandem is {speedup:.2}x pt-online-schema-change's speed (target >= 1.5: {}), {ratio:.2}x the offline ALTER's time (target <= 3: {})",
            if load { "with writes" } else { "idle" },
            if speedup >= 1.5 { "PASS" } else { "FAIL" },
            if ratio <= 3.0 { "PASS" } else { "FAIL" },
        );
    }
    Ok(())
}

async fn setup(server: &MariaDb, db: &str, rows: u64) -> Result<String, AnyError> {
    let mut admin = Conn::new(Opts::from_url(&server.url("mysql"))?).await?;
    admin
        .query_drop(format!("DROP DATABASE IF EXISTS `{db}`"))
        .await?;
    admin.query_drop(format!("CREATE DATABASE `{db}`")).await?;
    let url = server.url(db);
    let mut c = Conn::new(Opts::from_url(&url)?).await?;
    c.query_drop(
        "CREATE TABLE bench (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, a INT NOT NULL, \
         b INT NOT NULL, c VARCHAR(64) NOT NULL, d DATETIME NOT NULL, KEY bench_b (b)) ENGINE=InnoDB",
    )
    .await?;
    let mut done = 0;
    while done < rows {
        let n = (rows - done).min(100_000);
        c.query_drop(format!(
            "INSERT INTO bench (a, b, c, d) SELECT seq, seq % 1000, MD5(seq), NOW() - INTERVAL seq SECOND FROM seq_1_to_{n}"
        ))
        .await?;
        done += n;
    }
    c.query_drop("ANALYZE TABLE bench").await?;
    Ok(url)
}

async fn check(url: &str, rows: u64) -> Result<(), AnyError> {
    let mut c = Conn::new(Opts::from_url(url)?).await?;
    let ty: Option<String> = c
        .query_first("SELECT COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'bench' AND COLUMN_NAME = 'a'")
        .await?;
    let count: Option<u64> = c.query_first("SELECT COUNT(*) FROM bench").await?;
    if !ty.as_deref().is_some_and(|t| t.starts_with("bigint")) || count.unwrap_or(0) < rows / 2 {
        return Err(format!("the change did not happen: a is {ty:?}, {count:?} rows").into());
    }
    Ok(())
}

async fn run(
    server: &MariaDb,
    db: &str,
    url: &str,
    method: Method,
    rate: Option<u64>,
) -> Result<Outcome, AnyError> {
    let stop = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(AtomicU64::new(0));
    let slowest = Arc::new(AtomicU64::new(0));
    let writer = match rate {
        Some(rate) => Some(tokio::spawn(write_load(
            Pool::new(Opts::from_url(url)?),
            rate,
            stop.clone(),
            writes.clone(),
            slowest.clone(),
        ))),
        None => None,
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    match method {
        Method::Offline => {
            let mut c = Conn::new(Opts::from_url(url)?).await?;
            c.query_drop(format!("ALTER TABLE bench {ALTER}, ALGORITHM=COPY"))
                .await?;
        }
        Method::PtOsc => {
            let dsn = format!("D={db},t=bench,h=127.0.0.1,P={},u=root", server.port());
            let output = tokio::task::spawn_blocking(move || {
                Command::new("pt-online-schema-change")
                    .args([
                        "--alter",
                        ALTER,
                        "--execute",
                        "--recursion-method=none",
                        "--no-check-alter",
                        "--chunk-time=0.5",
                        "--set-vars=lock_wait_timeout=2",
                        "--max-load=Threads_running=50",
                        "--critical-load=Threads_running=200",
                    ])
                    .arg(dsn)
                    .output()
            })
            .await??;
            if !output.status.success() {
                return Err(format!(
                    "pt-online-schema-change failed:\n{}{}",
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                )
                .into());
            }
        }
        Method::Tandem => {
            let engine = Engine::connect(url, Options::default()).await?;
            let m = Migration::parse(
                "bench",
                "bench.yaml",
                "operations:\n  - alter_column: {table: bench, column: a, type: bigint}\n",
                false,
            )?;
            // TANDEM_BENCH_TRACE=1 prints each event with its time, to see where time goes.
            let trace = std::env::var_os("TANDEM_BENCH_TRACE").is_some();
            let t0 = Instant::now();
            engine
                .start(&m, &move |e| {
                    if trace {
                        eprintln!("    {:>7.2}s {e:?}", t0.elapsed().as_secs_f64());
                    }
                })
                .await?;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    if let Some(w) = writer {
        w.await??;
    }
    Ok(Outcome {
        seconds,
        writes: writes.load(Ordering::Relaxed),
        slowest_write_ms: slowest.load(Ordering::Relaxed),
    })
}

/// `rate` writes a second (inserts, updates and deletes spread over the table), each timed.
async fn write_load(
    pool: Pool,
    rate: u64,
    stop: Arc<AtomicBool>,
    writes: Arc<AtomicU64>,
    slowest: Arc<AtomicU64>,
) -> Result<(), AnyError> {
    let mut c = pool.get_conn().await?;
    let max: Option<i64> = c.query_first("SELECT MAX(id) FROM bench").await?;
    let max = max.unwrap_or(1);
    let period = Duration::from_secs_f64(1.0 / rate.max(1) as f64);
    let mut next = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let id = fastrand::i64(1..=max);
        let started = Instant::now();
        let result = match fastrand::u8(0..3) {
            0 => {
                c.exec_drop(
                    "INSERT INTO bench (a, b, c, d) VALUES (?, 1, 'w', NOW())",
                    (id,),
                )
                .await
            }
            1 => {
                c.exec_drop("UPDATE bench SET b = b + 1 WHERE id = ?", (id,))
                    .await
            }
            _ => c.exec_drop("DELETE FROM bench WHERE id = ?", (id,)).await,
        };
        // Writes during a table swap may fail once (pt-osc's rename); count only what committed.
        if result.is_ok() {
            writes.fetch_add(1, Ordering::Relaxed);
        }
        slowest.fetch_max(started.elapsed().as_millis() as u64, Ordering::Relaxed);
        next += period;
        let now = Instant::now();
        if next > now {
            tokio::time::sleep(next - now).await;
        } else {
            next = now;
        }
    }
    Ok(())
}
