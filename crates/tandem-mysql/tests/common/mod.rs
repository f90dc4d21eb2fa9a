//! Shared test setup: one throwaway MariaDB per test binary, a database per test, and an
//! application that writes while tandem works and remembers exactly what it wrote.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tandem_core::Migration;
use tandem_mysql::engine::Options;
use tandem_mysql::mysql_async::prelude::*;
use tandem_mysql::mysql_async::{Conn, Opts, Pool};
use tandem_mysql::shadow::CopyConfig;
use tandem_mysql::{Engine, Event};

/// A fresh database on the shared server; returns its URL.
pub async fn database(name: &str) -> String {
    let server = tandem_ephemeral::mariadb::shared().expect("start MariaDB");
    let admin_url = server.url("mysql");
    let mut admin = Conn::new(Opts::from_url(&admin_url).unwrap())
        .await
        .unwrap();
    admin
        .query_drop(format!("DROP DATABASE IF EXISTS `{name}`"))
        .await
        .unwrap();
    admin
        .query_drop(format!("CREATE DATABASE `{name}`"))
        .await
        .unwrap();
    server.url(name)
}

pub async fn conn(url: &str) -> Conn {
    Conn::new(Opts::from_url(url).unwrap()).await.unwrap()
}

pub fn migration(name: &str, yaml: &str) -> Migration {
    Migration::parse(name, &format!("{name}.yaml"), yaml, false).unwrap()
}

/// Options that make a copy slow enough for the writer to interleave with it.
pub fn copy_options(force_copy: bool) -> Options {
    Options {
        force_copy,
        copy: CopyConfig {
            chunk_size: 300,
            adaptive: false,
            cut_over_timeout: Duration::from_secs(2),
            ..CopyConfig::default()
        },
        ..Options::default()
    }
}

pub async fn engine(url: &str, options: Options) -> Engine {
    Engine::connect(url, options).await.unwrap()
}

/// Events, collected.
#[derive(Default, Clone)]
pub struct Log(pub Arc<Mutex<Vec<Event>>>);

impl Log {
    pub fn push(&self, e: Event) {
        self.0.lock().unwrap().push(e);
    }
    pub fn events(&self) -> Vec<Event> {
        self.0.lock().unwrap().clone()
    }
}

/// `items (id, v, note)` with `rows` rows.
pub async fn seed(url: &str, rows: u64) {
    let mut c = conn(url).await;
    c.query_drop(
        "CREATE TABLE items (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, v INT NOT NULL, note VARCHAR(40) NULL) ENGINE=InnoDB",
    )
    .await
    .unwrap();
    c.query_drop(format!(
        "INSERT INTO items (v, note) SELECT seq, CONCAT('n', seq) FROM seq_1_to_{rows}"
    ))
    .await
    .unwrap();
}

/// The application: inserts, updates and deletes (of any row, copied or not) on `items`,
/// remembering the committed value of every row. Each write is timed.
pub struct Writer {
    pub model: Arc<Mutex<BTreeMap<i64, i32>>>,
    stop: Arc<AtomicBool>,
    pub inserts: Arc<AtomicU64>,
    pub updates: Arc<AtomicU64>,
    pub deletes: Arc<AtomicU64>,
    pub slowest_ms: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Writer {
    pub async fn start(url: &str) -> Writer {
        let pool = Pool::new(Opts::from_url(url).unwrap());
        let mut c = pool.get_conn().await.unwrap();
        let rows: Vec<(i64, i32)> = c.query("SELECT id, v FROM items").await.unwrap();
        drop(c);
        let model = Arc::new(Mutex::new(rows.into_iter().collect::<BTreeMap<_, _>>()));
        let stop = Arc::new(AtomicBool::new(false));
        let (inserts, updates, deletes, slowest) = (
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicU64::new(0)),
        );
        let task = {
            let (model, stop) = (model.clone(), stop.clone());
            let (inserts, updates, deletes, slowest) = (
                inserts.clone(),
                updates.clone(),
                deletes.clone(),
                slowest.clone(),
            );
            tokio::spawn(async move {
                let mut c = pool.get_conn().await.unwrap();
                // The writes of a well-behaved application wait at most this long for a lock.
                c.query_drop("SET SESSION lock_wait_timeout = 30")
                    .await
                    .unwrap();
                while !stop.load(Ordering::Relaxed) {
                    let pick = {
                        let m = model.lock().unwrap();
                        let max = m.keys().next_back().copied().unwrap_or(1);
                        let id = fastrand::i64(1..=max.max(1));
                        m.range(id..).next().map(|(k, _)| *k)
                    };
                    let value = fastrand::i32(0..1_000_000);
                    let started = Instant::now();
                    match (fastrand::u8(0..10), pick) {
                        (0..=3, _) | (_, None) => {
                            c.exec_drop("INSERT INTO items (v) VALUES (?)", (value,))
                                .await
                                .unwrap();
                            let id = c.last_insert_id().unwrap() as i64;
                            model.lock().unwrap().insert(id, value);
                            inserts.fetch_add(1, Ordering::Relaxed);
                        }
                        (4..=7, Some(id)) => {
                            c.exec_drop("UPDATE items SET v = ? WHERE id = ?", (value, id))
                                .await
                                .unwrap();
                            model.lock().unwrap().insert(id, value);
                            updates.fetch_add(1, Ordering::Relaxed);
                        }
                        (_, Some(id)) => {
                            c.exec_drop("DELETE FROM items WHERE id = ?", (id,))
                                .await
                                .unwrap();
                            model.lock().unwrap().remove(&id);
                            deletes.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    slowest.fetch_max(started.elapsed().as_millis() as u64, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            })
        };
        Writer {
            model,
            stop,
            inserts,
            updates,
            deletes,
            slowest_ms: slowest,
            task,
        }
    }

    pub fn writes(&self) -> (u64, u64, u64) {
        (
            self.inserts.load(Ordering::Relaxed),
            self.updates.load(Ordering::Relaxed),
            self.deletes.load(Ordering::Relaxed),
        )
    }

    /// Stops; returns the committed state.
    pub async fn stop(self) -> BTreeMap<i64, i32> {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap();
        let m = self.model.lock().unwrap().clone();
        m
    }
}

/// `(id, v)` of every row of `table`, with `v_column` naming the value column.
pub async fn rows(url: &str, table: &str, v_column: &str) -> BTreeMap<i64, i32> {
    let mut c = conn(url).await;
    let rows: Vec<(i64, i32)> = c
        .query(format!(
            "SELECT id, `{v_column}` FROM `{table}` ORDER BY id"
        ))
        .await
        .unwrap();
    rows.into_iter().collect()
}

pub async fn tables(url: &str) -> Vec<String> {
    let mut c = conn(url).await;
    c.query("SHOW TABLES").await.unwrap()
}

pub async fn column_type(url: &str, table: &str, column: &str) -> Option<String> {
    let mut c = conn(url).await;
    c.exec_first(
        "SELECT COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND COLUMN_NAME = ?",
        (table, column),
    )
    .await
    .unwrap()
}

/// Asserts two row sets are equal, printing only the differences.
pub fn assert_same_rows(actual: &BTreeMap<i64, i32>, expected: &BTreeMap<i64, i32>) {
    let mut diffs = Vec::new();
    for (id, v) in expected {
        match actual.get(id) {
            Some(a) if a == v => {}
            other => diffs.push(format!("id {id}: expected {v}, found {other:?}")),
        }
    }
    for id in actual.keys() {
        if !expected.contains_key(id) {
            diffs.push(format!("id {id}: should not exist"));
        }
    }
    assert!(
        diffs.is_empty(),
        "{} difference(s) among {} expected rows, first: {:?}",
        diffs.len(),
        expected.len(),
        &diffs[..diffs.len().min(10)]
    );
}
