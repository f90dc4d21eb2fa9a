//! A backfill cut off by a PostgreSQL restart resumes where it stopped when the command is run
//! again. This test restarts its own cluster, so it has a test binary of its own.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tokio_postgres::NoTls;

const ITEMS: &str = "operations:\n  - create_table:\n      name: items\n      columns:\n        - {name: id, type: bigserial, pk: true}\n        - {name: qty, type: text, nullable: true}\n";
const RETYPE: &str = "operations:\n  - alter_column:\n      table: items\n      column: qty\n      type: integer\n      up: CAST(qty AS integer)\n      down: CAST(qty AS text)\n";

async fn query_i64(url: &str, sql: &str) -> Option<i64> {
    let (c, conn) = tokio_postgres::connect(url, NoTls).await.ok()?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    c.query_opt(sql, &[]).await.ok().flatten().map(|r| r.get(0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_cut_off_by_a_server_restart_resumes() {
    let cluster = tokio::task::spawn_blocking(tandem_ephemeral::Cluster::start)
        .await
        .unwrap()
        .expect("cluster");
    let url = cluster.url("postgres");
    let dir = tandem_testkit::TempDir::new("tandem-restart");
    let base = dir.write("01_items.yaml", ITEMS);
    let change = dir.write("02_retype.yaml", RETYPE);
    let tandem = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_tandem"));
        c.arg("--url")
            .arg(&url)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        c
    };
    let out = tandem(&["start", base.to_str().unwrap(), "--complete"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (c, conn) = tokio_postgres::connect(&url, NoTls).await.unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    c.batch_execute(
        "INSERT INTO public.items (qty) SELECT (g % 500)::text FROM generate_series(1, 50000) g",
    )
    .await
    .unwrap();
    drop(c);

    let child = tandem(&[
        "start",
        change.to_str().unwrap(),
        "--backfill-batch-size",
        "1000",
        "--backfill-pause",
        "30ms",
    ])
    .spawn()
    .unwrap();
    let began = Instant::now();
    while query_i64(&url, "SELECT rows_done FROM tandem.backfills")
        .await
        .unwrap_or(0)
        < 5_000
    {
        assert!(
            began.elapsed() < Duration::from_secs(60),
            "the backfill never got going"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let restarted = tokio::task::spawn_blocking(move || {
        cluster.restart().expect("restart");
        cluster
    })
    .await
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success(), "the cut-off run fails");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("run the same command again") || stderr.contains("connection"),
        "says what happened: {stderr}"
    );
    let done_before = query_i64(&url, "SELECT rows_done FROM tandem.backfills")
        .await
        .unwrap();
    assert!(done_before > 0 && done_before < 50_000);

    let out = tandem(&["start", change.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        query_i64(&url, "SELECT rows_done FROM tandem.backfills").await,
        Some(50_000),
        "resumed, no row twice"
    );
    assert_eq!(
        query_i64(&url, "SELECT count(*) FROM public_02_retype.items n JOIN public.items o USING (id) WHERE n.qty IS DISTINCT FROM o.qty::integer").await,
        Some(0)
    );
    let out = tandem(&["complete"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(restarted);
}
