//! The binary on MariaDB: a mysql:// URL selects the MySQL backend, and a table copy killed
//! with SIGKILL resumes where its checkpoint says when `start` runs again.
//!
//! Nothing here depends on the machine's speed: the copy is held mid-table by a row lock and
//! the pause flag, and the test waits for the conditions it needs (with generous bounds).

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
    // The row the copy will stop at: held locked, so the copy cannot pass it (nor finish).
    const LOCKED: i64 = 50_000;
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

    let mut locker = conn(&url).await;
    locker.query_drop("START TRANSACTION").await.unwrap();
    let locked: Vec<i64> = locker
        .exec("SELECT id FROM items WHERE id = ? FOR UPDATE", (LOCKED,))
        .await
        .unwrap();
    assert_eq!(locked, vec![LOCKED]);

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
                if id == LOCKED {
                    continue; // would wait for the test's own lock
                }
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
            .args(["--chunk-time", "20ms"])
            .stdin(Stdio::null());
        if quiet {
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
        }
        cmd
    };
    let mut child = run(true).spawn().unwrap();
    // 1. The copy reaches the locked row and waits for it.
    let copy_waits = "SELECT COUNT(*) FROM information_schema.INNODB_TRX WHERE trx_state = 'LOCK WAIT' AND trx_query LIKE 'INSERT IGNORE INTO `items_tandem_new`%'";
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let waiting: Option<i64> = c.query_first(copy_waits).await.unwrap();
        if waiting.unwrap_or(0) > 0 {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "tandem start ended before its copy reached row {LOCKED}"
        );
        assert!(
            Instant::now() < deadline,
            "the copy did not reach row {LOCKED} in 300 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // 2. Pause it, then let its chunk through: the pause saves a checkpoint past that chunk,
    //    and the copy holds there.
    let paused = Command::new(BIN)
        .args(["--url", &url, "pause"])
        .output()
        .unwrap();
    assert!(
        paused.status.success(),
        "{}",
        String::from_utf8_lossy(&paused.stderr)
    );
    locker.query_drop("ROLLBACK").await.unwrap();
    // 3. Kill it once a checkpoint shows part of the table copied.
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
        copied_at_kill >= 5_000 && copied_at_kill < 100_000,
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
