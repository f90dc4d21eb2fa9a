//! scripts/bench-bluegreen.sh: on two throwaway clusters (wal_level=logical),
//! 1. the initial copy of a table of N rows (default 1M) by `tandem bluegreen create` (the
//!    subscription's copy, until status says streaming) next to `pg_dump -t | psql` of the
//!    same table into another database of the green cluster, in the same run;
//! 2. the write-unavailable window of `switchover` while 8 clients write (insert + update)
//!    to blue and move to green when blue refuses them: tandem's measured window, its phases,
//!    and the longest gap any client saw between two acknowledged writes.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tandem_bluegreen::{Options, Quiet, SwitchSettings};
use tandem_ephemeral::{Cluster, ClusterOptions};
use tokio_postgres::{Client, NoTls};

fn cluster() -> Cluster {
    let settings = [
        ("wal_level", "logical"),
        ("max_replication_slots", "10"),
        ("max_wal_senders", "10"),
        ("max_logical_replication_workers", "6"),
        ("max_worker_processes", "16"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    Cluster::start_with(ClusterOptions {
        bin_dir: None,
        settings,
    })
    .expect("start a throwaway cluster (TANDEM_PG_BIN picks the binaries)")
}

async fn client(url: &str) -> Client {
    let (c, conn) = tokio_postgres::connect(url, NoTls).await.expect(url);
    tokio::spawn(async move {
        let _ = conn.await;
    });
    c
}

fn arg(name: &str, default: i64) -> i64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() {
    let rows = arg("--rows", 1_000_000);
    let writers = arg("--writers", 8) as usize;
    let blue_cluster = cluster();
    let green_cluster = cluster();
    let admin_b = client(&blue_cluster.url("postgres")).await;
    let admin_g = client(&green_cluster.url("postgres")).await;
    admin_b.batch_execute("CREATE DATABASE blue").await.unwrap();
    admin_g
        .batch_execute("CREATE DATABASE green")
        .await
        .unwrap();
    admin_g
        .batch_execute("CREATE DATABASE dumped")
        .await
        .unwrap();
    let blue = blue_cluster.url("blue");
    let green = green_cluster.url("green");
    let b = client(&blue).await;
    println!("loading {rows} rows into blue ...");
    b.batch_execute(&format!(
        "CREATE TABLE public.events (id bigserial PRIMARY KEY, account int NOT NULL, amount numeric(12,2) NOT NULL, note text, at timestamptz NOT NULL DEFAULT now());
         INSERT INTO public.events (account, amount, note) SELECT g % 1000, (g % 10000) / 100.0, 'event ' || g FROM generate_series(1, {rows}) g;
"
    ))
    .await
    .unwrap();
    b.batch_execute("VACUUM ANALYZE public.events")
        .await
        .unwrap();

    // 1. pg_dump | psql of the same table.
    let bin = blue_cluster.bin_dir().to_path_buf();
    let started = Instant::now();
    let mut dump = Command::new(bin.join("pg_dump"))
        .args(["-d", &blue, "-t", "public.events", "--no-owner"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("pg_dump (Debian: postgresql-client-15)");
    let restore = Command::new(bin.join("psql"))
        .args([
            "-q",
            "-X",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            &green_cluster.url("dumped"),
        ])
        .stdin(dump.stdout.take().unwrap())
        .stdout(Stdio::null())
        .status()
        .expect("psql (Debian: postgresql-client-15)");
    let dumped = dump.wait().unwrap();
    let dump_secs = started.elapsed().as_secs_f64();
    assert!(
        restore.success() && dumped.success(),
        "pg_dump | psql failed"
    );

    // tandem: create, then wait until the subscription's copy is done.
    let options = Options {
        blue_url: blue.clone(),
        green_url: green.clone(),
        schema: "public".into(),
    };
    let started = Instant::now();
    tandem_bluegreen::create(&options, &[], &Quiet)
        .await
        .unwrap();
    loop {
        let s = tandem_bluegreen::status(&options).await.unwrap();
        if s.state == "streaming" {
            break;
        }
        assert_ne!(s.state, "broken", "{s:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let copy_secs = started.elapsed().as_secs_f64();
    let g = client(&green).await;
    let copied: i64 = g
        .query_one("SELECT count(*) FROM public.events", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(copied, rows);
    println!();
    println!("initial copy of {rows} rows (one run)");
    println!("  tandem bluegreen create (schema + subscription copy): {copy_secs:>7.2} s  ({:>9.0} rows/s)", rows as f64 / copy_secs);
    println!("  pg_dump -t events | psql:                            {dump_secs:>7.2} s  ({:>9.0} rows/s)", rows as f64 / dump_secs);

    // 2. The switchover window under writers.
    let target = Arc::new(Mutex::new(blue.clone()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut handles = Vec::new();
    for w in 0..writers {
        let target = target.clone();
        let stop = stop.clone();
        handles.push(tokio::spawn(async move {
            let mut conn: Option<(String, Client)> = None;
            let mut last_ok = Instant::now();
            let mut longest_gap = Duration::ZERO;
            let mut acknowledged = 0u64;
            let mut n = 0i64;
            while !stop.load(Ordering::SeqCst) {
                let url = target.lock().unwrap().clone();
                if conn.as_ref().map(|c| &c.0) != Some(&url) || conn.as_ref().is_some_and(|c| c.1.is_closed()) {
                    match tokio_postgres::connect(&url, NoTls).await {
                        Ok((c, h)) => {
                            tokio::spawn(async move {
                                let _ = h.await;
                            });
                            conn = Some((url.clone(), c));
                        }
                        Err(_) => continue,
                    }
                }
                let Some((_, c)) = &conn else { continue };
                n += 1;
                let r = if n % 2 == 0 {
                    c.execute("INSERT INTO public.events (account, amount, note) VALUES ($1, 1.5, 'bench')", &[&(w as i32)]).await
                } else {
                    c.execute("UPDATE public.events SET amount = amount + 1 WHERE id = $1", &[&(1 + (n * 7919 + w as i64) % 1000)]).await
                };
                match r {
                    Ok(_) => {
                        longest_gap = longest_gap.max(last_ok.elapsed());
                        last_ok = Instant::now();
                        acknowledged += 1;
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(1)).await,
                }
            }
            (longest_gap, acknowledged)
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let settings = SwitchSettings {
        require_verified: false,
        ..SwitchSettings::default()
    };
    let report = tandem_bluegreen::switchover(&options, &settings, &Quiet)
        .await
        .unwrap();
    // What an application does when the database refuses writes: reconnect to the new target.
    *target.lock().unwrap() = green.clone();
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::SeqCst);
    let mut gap = Duration::ZERO;
    let mut acknowledged = 0;
    for h in handles {
        let (g, a) = h.await.unwrap();
        gap = gap.max(g);
        acknowledged += a;
    }
    println!();
    println!(
        "switchover under {writers} writing clients ({acknowledged} writes acknowledged in 4 s)"
    );
    println!(
        "  write-unavailable window (tandem's measure): {:>8.1} ms   target < 1000 ms: {}",
        report.window_ms,
        if report.window_ms < 1000.0 {
            "PASS"
        } else {
            "FAIL"
        }
    );
    for (phase, ms) in &report.phases {
        println!("    {phase:<28} {ms:>8.1} ms");
    }
    println!(
        "  longest gap between two acknowledged writes of one client: {:>8.1} ms",
        gap.as_secs_f64() * 1000.0
    );
    tandem_bluegreen::cleanup(&options).await.unwrap();
}
