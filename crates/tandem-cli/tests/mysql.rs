//! The binary on MariaDB: a mysql:// URL selects the MySQL backend, and a table copy killed
//! with SIGKILL resumes where its checkpoint says when `start` runs again.
//!
//! Nothing here depends on the machine's speed: chunks are kept small (a 1 ms chunk time
//! shrinks them to the 100-row minimum, so the copy takes hundreds of chunks), the copy is
//! paused once a checkpoint shows progress, and the test waits for the conditions it needs
//! (with generous bounds) instead of sleeping.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tandem_ephemeral::mariadb::MariaDb;
use tandem_mysql::mysql_async::prelude::*;
use tandem_mysql::mysql_async::{Conn, Opts};

const BIN: &str = env!("CARGO_BIN_EXE_tandem");

async fn conn(url: &str) -> Conn {
    Conn::new(Opts::from_url(url).unwrap()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_copy_resumes_and_loses_no_write() {
    let server = MariaDb::start().unwrap();
    let mut admin = conn(&server.url("mysql")).await;
    admin.query_drop("CREATE DATABASE app").await.unwrap();
    let url = server.url("app");
    let mut c = conn(&url).await;
    c.query_drop(
        "CREATE TABLE items (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, v INT NOT NULL)",
    )
    .await
    .unwrap();
    c.query_drop("INSERT INTO items (v) SELECT seq FROM seq_1_to_100000")
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(format!("tandem-mysql-kill-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("01_bigint.yaml");
    std::fs::write(
        &file,
        "operations:\n  - alter_column: {table: items, column: v, type: bigint}\n",
    )
    .unwrap();

    // The application writes throughout and remembers what it committed.
    let rows: Vec<(i64, i32)> = c.query("SELECT id, v FROM items").await.unwrap();
    let model = Arc::new(Mutex::new(rows.into_iter().collect::<BTreeMap<_, _>>()));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (model, stop, url) = (model.clone(), stop.clone(), url.clone());
        tokio::spawn(async move {
            let mut c = conn(&url).await;
            while !stop.load(Ordering::Relaxed) {
                let id = fastrand::i64(1..=100_000);
                let v = fastrand::i32(0..1000);
                match fastrand::u8(0..3) {
                    0 => {
                        c.exec_drop("INSERT INTO items (v) VALUES (?)", (v,))
                            .await
                            .unwrap();
                        let new = c.last_insert_id().unwrap() as i64;
                        model.lock().unwrap().insert(new, v);
                    }
                    1 => {
                        c.exec_drop("UPDATE items SET v = ? WHERE id = ?", (v, id))
                            .await
                            .unwrap();
                        if let Some(x) = model.lock().unwrap().get_mut(&id) {
                            *x = v;
                        }
                    }
                    _ => {
                        c.exec_drop("DELETE FROM items WHERE id = ?", (id,))
                            .await
                            .unwrap();
                        model.lock().unwrap().remove(&id);
                    }
                }
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
        })
    };

    let run = |quiet: bool| {
        let mut cmd = Command::new(BIN);
        cmd.args(["--url", &url, "start"])
            .arg(&file)
            .args(["--chunk-time", "1ms"])
            .stdin(Stdio::null());
        if quiet {
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
        }
        cmd
    };
    let mut child = run(true).spawn().unwrap();
    // 1. Wait for a checkpoint that shows part of the table copied (5,000 rows), then pause.
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let shadow: Option<Option<String>> = c
            .query_first("SELECT shadow FROM _tandem_mysql_migrations")
            .await
            .unwrap_or(None);
        if let Some(Some(json)) = shadow {
            let s: serde_json::Value = serde_json::from_str(&json).unwrap();
            if s["rows_copied"].as_u64().unwrap_or(0) > 5_000 {
                assert_eq!(s["copy_done"], false, "the copy was still running: {s}");
                break;
            }
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "tandem start ended before a checkpoint showed progress"
        );
        assert!(
            Instant::now() < deadline,
            "no checkpoint showed progress in 300 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let paused = Command::new(BIN)
        .args(["--url", &url, "pause"])
        .output()
        .unwrap();
    assert!(
        paused.status.success(),
        "{}",
        String::from_utf8_lossy(&paused.stderr)
    );
    // 2. The copy holds between chunks and saves a checkpoint saying so.
    // 3. Kill it there.
    let deadline = Instant::now() + Duration::from_secs(300);
    let copied_at_kill = loop {
        let shadow: Option<Option<String>> = c
            .query_first("SELECT shadow FROM _tandem_mysql_migrations")
            .await
            .unwrap();
        if let Some(Some(json)) = shadow {
            let s: serde_json::Value = serde_json::from_str(&json).unwrap();
            let copied = s["rows_copied"].as_u64().unwrap_or(0);
            let held = s["throttle"].as_str().unwrap_or("").contains("paused");
            if held && copied > 0 {
                assert_eq!(s["copy_done"], false, "{s}");
                break copied;
            }
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "tandem start ended while its copy was paused"
        );
        assert!(Instant::now() < deadline, "no paused checkpoint in 300 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        copied_at_kill > 5_000 && copied_at_kill < 100_000,
        "the copy made progress before the kill, and not all of it: {copied_at_kill} rows"
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let status = Command::new(BIN)
        .args(["--url", &url, "status"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&status.stdout).to_string();
    assert!(text.contains("in_progress"), "{text}");
    assert!(text.contains("copy of items"), "{text}");
    let resumed = Command::new(BIN)
        .args(["--url", &url, "resume"])
        .output()
        .unwrap();
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );

    let output = run(false).output().unwrap();
    let err = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(output.status.success(), "{err}");
    assert!(err.contains("resuming the online copy"), "{err}");
    assert!(err.contains("checksum of `items`"), "{err}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();
    let expected = model.lock().unwrap().clone();
    let rows: Vec<(i64, i32)> = c.query("SELECT id, v FROM items").await.unwrap();
    assert_eq!(rows.into_iter().collect::<BTreeMap<_, _>>(), expected);
    let ty: Option<String> = c
        .query_first("SELECT COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'app' AND TABLE_NAME = 'items' AND COLUMN_NAME = 'v'")
        .await
        .unwrap();
    assert_eq!(ty.as_deref(), Some("bigint(20)"));
    let _ = std::fs::remove_dir_all(&dir);
}
