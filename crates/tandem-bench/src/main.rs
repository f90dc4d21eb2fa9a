//! The backfill benchmark of issue 3.
//!
//! On a throwaway cluster, fills the new column of an `alter_column` type change (text to
//! numeric) three ways, each on its own freshly loaded table, side by side in one run:
//! (a) one whole-table UPDATE, (b) pgroll's method (a PL/pgSQL trigger fired by no-op UPDATEs in
//! keyset batches of 1,000 rows) and (c) tandem's engine. Then tandem alone at a small and a
//! large table, to see whether its throughput holds as the table grows. It prints the figures
//! and each target of the issue with PASS or FAIL; it exits 0 whatever the verdicts (it is a
//! report), and non-zero only when something fails to run.

mod methods;
mod timer;

use clap::Parser;
use std::process::ExitCode;
use std::time::Duration;
use tandem_ephemeral::{Cluster, ClusterOptions};
use tokio_postgres::{Client, NoTls};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The targets.
const MIN_VS_UPDATE: f64 = 0.8;
const MIN_VS_PGROLL: f64 = 2.0;
const MAX_SCALING_CHANGE: f64 = 0.25;

/// Server settings for the measurement (on top of the cluster's fsync=off): buffers large
/// enough for the 1M-row table and its rewrite, and no checkpoint forced by WAL volume or time
/// in the middle of a timed backfill, where it would land on one method and not another.
const SERVER_SETTINGS: [(&str, &str); 3] = [
    ("shared_buffers", "512MB"),
    ("max_wal_size", "4GB"),
    ("checkpoint_timeout", "30min"),
];

#[derive(Debug, Parser)]
#[command(
    name = "tandem-bench",
    about = "Backfill of an alter_column type change: tandem vs a single UPDATE vs pgroll's method"
)]
struct Args {
    /// Rows of the side-by-side run [default: 1000000; 100000 with --quick].
    #[arg(long)]
    rows: Option<u64>,
    /// Table sizes of tandem's scaling run; the first and the last are compared
    /// [default: 250000,4000000; 50000,400000 with --quick].
    #[arg(long, value_delimiter = ',')]
    scaling: Option<Vec<u64>>,
    /// Runs of every measurement; the median is reported.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    repeat: u32,
    /// A smoke run: smaller tables (explicit --rows and --scaling still win).
    #[arg(long)]
    quick: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tandem-bench: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), BoxError> {
    let rows = args
        .rows
        .unwrap_or(if args.quick { 100_000 } else { 1_000_000 });
    let scaling = args.scaling.clone().unwrap_or_else(|| {
        if args.quick {
            vec![50_000, 400_000]
        } else {
            vec![250_000, 4_000_000]
        }
    });
    if rows == 0 || scaling.contains(&0) {
        return Err("table sizes must be at least 1 row".into());
    }
    eprintln!("starting a throwaway PostgreSQL cluster…");
    // Started before the runtime: the cluster API is synchronous and only spawns processes.
    let cluster = Cluster::start_with(ClusterOptions {
        bin_dir: None,
        settings: SERVER_SETTINGS
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    })?;
    // One thread is enough (one connection works at a time) and leaves both cores to the
    // server and the client's own work.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(bench(&cluster.url("postgres"), rows, &scaling, args.repeat))
}

/// The median of a measurement's runs (the mean of the middle two for an even count).
fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    let n = runs.len();
    match n {
        0 => Duration::ZERO,
        _ if n % 2 == 1 => runs[n / 2],
        _ => (runs[n / 2 - 1] + runs[n / 2]) / 2,
    }
}

fn rate(rows: u64, took: Duration) -> f64 {
    rows as f64 / took.as_secs_f64().max(1e-9)
}

/// Thousands separators, so 4000000 and 400000 are not misread.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let groups: Vec<&str> = digits
        .as_bytes()
        .rchunks(3)
        .rev()
        .map(|g| std::str::from_utf8(g).unwrap_or("?"))
        .collect();
    groups.join(",")
}

async fn connect(url: &str) -> Result<Client, BoxError> {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .map_err(methods::db("connecting to the cluster"))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            eprintln!("tandem-bench: connection error: {e}");
        }
    });
    Ok(client)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    SingleUpdate,
    Pgroll,
    Tandem,
}

impl Method {
    fn name(self) -> &'static str {
        match self {
            Method::SingleUpdate => "single UPDATE",
            Method::Pgroll => "pgroll method",
            Method::Tandem => "tandem",
        }
    }
}

/// One timed run of one method.
#[derive(Debug, Clone, Copy)]
struct Run {
    backfill: Duration,
    /// tandem's verification (the other methods do none).
    verify: Option<Duration>,
}

/// One measurement: a fresh table, then the method's backfill.
async fn measure(client: &Client, url: &str, method: Method, rows: u64) -> Result<Run, BoxError> {
    methods::fresh_table(client, rows).await?;
    let plain = |backfill| Run {
        backfill,
        verify: None,
    };
    Ok(match method {
        Method::SingleUpdate => plain(methods::single_update(client).await?),
        Method::Pgroll => plain(methods::pgroll(client).await?),
        Method::Tandem => {
            let t = methods::tandem(client, url).await?;
            Run {
                backfill: t.backfill,
                verify: t.verify,
            }
        }
    })
}

/// Median backfill and verification times of a method over its runs.
struct Figures {
    backfill: Duration,
    verify: Option<Duration>,
}

/// [`measure`], with a progress line on stderr (the report itself goes to stdout).
async fn measure_and_log(
    client: &Client,
    url: &str,
    method: Method,
    rows: u64,
    repeat: u32,
    runs: &mut Vec<Run>,
) -> Result<(), BoxError> {
    let run = measure(client, url, method, rows).await?;
    eprintln!(
        "  run {}/{repeat}: {:<13} {:>11} rows: {:8.3} s{}",
        runs.len() + 1,
        method.name(),
        grouped(rows),
        run.backfill.as_secs_f64(),
        run.verify.map_or(String::new(), |v| format!(
            " (+ verify {:.3} s)",
            v.as_secs_f64()
        )),
    );
    runs.push(run);
    Ok(())
}

fn summarize(runs: Vec<Run>) -> Figures {
    let verifies: Vec<Duration> = runs.iter().filter_map(|r| r.verify).collect();
    Figures {
        backfill: median(runs.iter().map(|r| r.backfill).collect()),
        verify: (!verifies.is_empty()).then(|| median(verifies)),
    }
}

async fn bench(url: &str, rows: u64, scaling: &[u64], repeat: u32) -> Result<(), BoxError> {
    let client = connect(url).await?;
    let version: String = client
        .query_one("SHOW server_version", &[])
        .await
        .map_err(methods::db("reading the server version"))?
        .try_get(0)
        .map_err(methods::db("reading the server version"))?;

    // Side by side. The methods take turns within each round, so slow drift of the machine
    // (page cache, other load) spreads over all of them instead of landing on one.
    let methods = [Method::SingleUpdate, Method::Pgroll, Method::Tandem];
    let mut runs: Vec<Vec<Run>> = vec![Vec::new(); methods.len()];
    eprintln!("side by side at {} rows:", grouped(rows));
    for _ in 0..repeat {
        for (i, method) in methods.iter().enumerate() {
            measure_and_log(&client, url, *method, rows, repeat, &mut runs[i]).await?;
        }
    }
    let side: Vec<Figures> = runs.into_iter().map(summarize).collect();

    // tandem alone as the table grows.
    let mut scaled = Vec::new();
    eprintln!("tandem alone at {:?} rows:", scaling);
    for &n in scaling {
        let mut runs = Vec::new();
        for _ in 0..repeat {
            measure_and_log(&client, url, Method::Tandem, n, repeat, &mut runs).await?;
        }
        scaled.push((n, summarize(runs)));
    }
    report(&version, rows, repeat, &methods, &side, &scaled);
    Ok(())
}

fn report(
    version: &str,
    rows: u64,
    repeat: u32,
    methods: &[Method],
    side: &[Figures],
    scaled: &[(u64, Figures)],
) {
    let settings: Vec<String> = SERVER_SETTINGS
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!();
    println!("tandem backfill benchmark: alter_column items.price text -> numeric");
    println!(
        "PostgreSQL {version}, {cpus} CPUs, fsync=off, {}; {} of {repeat} run(s) per figure",
        settings.join(", "),
        if repeat > 1 { "median" } else { "one" },
    );
    // Other work on the machine skews every figure; the load average says whether there was any.
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        let load: Vec<&str> = load.split_whitespace().take(3).collect();
        println!("load average at the end (1, 5, 15 min): {}", load.join(" "));
    }
    println!("(tandem's verify column is extra work the other methods do not do; it is not in its seconds)");
    println!();
    println!("side by side at {} rows", grouped(rows));
    println!(
        "{:<14} {:>11} {:>9} {:>11} {:>10} {:>9}",
        "method", "rows", "seconds", "rows/s", "vs UPDATE", "verify s"
    );
    // `side` is in the order of `methods`: single UPDATE, pgroll's method, tandem.
    let update_rate = rate(rows, side[0].backfill);
    for (method, r) in methods.iter().zip(side) {
        println!(
            "{:<14} {:>11} {:>9.3} {:>11} {:>9.2}x {:>9}",
            method.name(),
            grouped(rows),
            r.backfill.as_secs_f64(),
            grouped(rate(rows, r.backfill).round() as u64),
            rate(rows, r.backfill) / update_rate,
            r.verify
                .map_or("-".to_string(), |v| format!("{:.3}", v.as_secs_f64())),
        );
    }
    let tandem_rate = rate(rows, side[2].backfill);
    let pgroll_rate = rate(rows, side[1].backfill);
    let vs_update = tandem_rate / update_rate;
    let vs_pgroll = tandem_rate / pgroll_rate;
    println!("tandem vs pgroll method: {vs_pgroll:.2}x the throughput");

    println!();
    println!("tandem alone as the table grows");
    println!(
        "{:<11} {:>9} {:>11} {:>9} {:>10}",
        "rows", "seconds", "rows/s", "verify s", "change"
    );
    let first_rate = scaled.first().map(|(n, r)| rate(*n, r.backfill));
    for (n, r) in scaled {
        let this = rate(*n, r.backfill);
        println!(
            "{:>11} {:>9.3} {:>11} {:>9} {:>9.1}%",
            grouped(*n),
            r.backfill.as_secs_f64(),
            grouped(this.round() as u64),
            r.verify
                .map_or("-".to_string(), |v| format!("{:.3}", v.as_secs_f64())),
            first_rate.map_or(0.0, |f| (this / f - 1.0) * 100.0),
        );
    }

    println!();
    println!("targets");
    let verdict = |ok: bool| if ok { "PASS" } else { "FAIL" };
    println!(
        "{}  tandem >= {MIN_VS_UPDATE} x single UPDATE throughput: {vs_update:.2}x",
        verdict(vs_update >= MIN_VS_UPDATE)
    );
    println!(
        "{}  tandem >= {MIN_VS_PGROLL} x pgroll method throughput: {vs_pgroll:.2}x",
        verdict(vs_pgroll >= MIN_VS_PGROLL)
    );
    match (scaled.first(), scaled.last()) {
        (Some((small, s)), Some((large, l))) if scaled.len() >= 2 => {
            let change = rate(*large, l.backfill) / rate(*small, s.backfill) - 1.0;
            println!(
                "{}  throughput at {} rows within {:.0}% of {} rows: {:+.1}%",
                verdict(change.abs() <= MAX_SCALING_CHANGE),
                grouped(*large),
                MAX_SCALING_CHANGE * 100.0,
                grouped(*small),
                change * 100.0
            );
        }
        _ => println!("n/a   scaling: give --scaling two or more sizes"),
    }
}
