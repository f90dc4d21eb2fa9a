//! Two throwaway clusters with logical replication on, and an application that writes.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tandem_bluegreen::{Options, Side};
use tandem_ephemeral::{Cluster, ClusterOptions};
use tokio_postgres::{Client, NoTls};

pub fn logical_cluster(extra: &[(&str, &str)]) -> Cluster {
    let mut settings: Vec<(String, String)> = [
        ("wal_level", "logical"),
        ("max_replication_slots", "10"),
        ("max_wal_senders", "10"),
        ("max_logical_replication_workers", "6"),
        ("max_worker_processes", "16"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    for (a, b) in extra {
        settings.push((a.to_string(), b.to_string()));
    }
    Cluster::start_with(ClusterOptions {
        bin_dir: None,
        settings,
    })
    .expect("start a cluster")
}

pub async fn client(url: &str) -> Client {
    let (client, conn) = tokio_postgres::connect(url, NoTls).await.expect(url);
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

/// Creates database `name` on the cluster and returns its URL.
pub async fn database(cluster: &Cluster, name: &str) -> String {
    let admin = client(&cluster.url("postgres")).await;
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    cluster.url(name)
}

pub fn options(blue: &str, green: &str) -> Options {
    Options {
        blue_url: blue.to_string(),
        green_url: green.to_string(),
        schema: "public".into(),
    }
}

/// The end of a cluster's server log, for failure messages.
pub fn log_tail(cluster: &Cluster) -> String {
    let log = cluster.data_dir().parent().unwrap().join("postgres.log");
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("ERROR") || l.contains("FATAL") || l.contains("CONTEXT"))
        .collect();
    lines[lines.len().saturating_sub(12)..].join("\n")
}

/// Polls status until it says `streaming` (the initial copy is done).
pub async fn wait_streaming(options: &Options) -> tandem_bluegreen::LinkStatus {
    for _ in 0..600 {
        let s = tandem_bluegreen::status(options).await.unwrap();
        if s.state == "streaming" {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "replication never reached streaming: {:?}",
        tandem_bluegreen::status(options).await.unwrap()
    );
}

pub async fn strings(c: &Client, sql: &str) -> Vec<String> {
    c.query(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
        .iter()
        .map(|r| r.get(0))
        .collect()
}

pub async fn count(c: &Client, sql: &str) -> i64 {
    c.query_one(sql, &[]).await.unwrap().get(0)
}

/// What the application believes each item is, from its acknowledged writes: price in
/// cents (None: deleted), and name.
pub type Expected = BTreeMap<i64, Option<(i64, String)>>;

/// The application: writers insert, update and delete `items` on whichever side is active,
/// in that side's shape (blue: `price text` like '12.25 EUR', `name`; green: `price numeric`,
/// `title`). A write counts once the server acknowledged its commit; a refused or cut write is
/// retried on the side in use at the time.
pub struct App {
    pub active: Arc<Mutex<(Side, String)>>,
    pub expected: Arc<Mutex<Expected>>,
    pub stop: Arc<AtomicBool>,
    pub acknowledged: Arc<AtomicU64>,
    pub refused: Arc<AtomicU64>,
    handles: Vec<tokio::task::JoinHandle<()>>,
}

impl App {
    pub fn start(side: Side, url: &str, writers: usize) -> App {
        let app = App {
            active: Arc::new(Mutex::new((side, url.to_string()))),
            expected: Arc::new(Mutex::new(BTreeMap::new())),
            stop: Arc::new(AtomicBool::new(false)),
            acknowledged: Arc::new(AtomicU64::new(0)),
            refused: Arc::new(AtomicU64::new(0)),
            handles: Vec::new(),
        };
        let mut handles = Vec::new();
        for w in 0..writers {
            let active = app.active.clone();
            let expected = app.expected.clone();
            let stop = app.stop.clone();
            let ack = app.acknowledged.clone();
            let refused = app.refused.clone();
            handles.push(tokio::spawn(async move {
                writer(w as u64, active, expected, stop, ack, refused).await
            }));
        }
        App { handles, ..app }
    }

    pub fn point_to(&self, side: Side, url: &str) {
        *self.active.lock().unwrap() = (side, url.to_string());
    }

    pub async fn finish(mut self) -> Expected {
        self.stop.store(true, Ordering::SeqCst);
        for h in self.handles.drain(..) {
            h.await.unwrap();
        }
        self.expected.lock().unwrap().clone()
    }
}

async fn writer(
    seed: u64,
    active: Arc<Mutex<(Side, String)>>,
    expected: Arc<Mutex<Expected>>,
    stop: Arc<AtomicBool>,
    ack: Arc<AtomicU64>,
    refused: Arc<AtomicU64>,
) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut conn: Option<(String, Client)> = None;
    let mut mine: Vec<i64> = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        let (side, url) = active.lock().unwrap().clone();
        if conn.as_ref().map(|c| &c.0) != Some(&url)
            || conn.as_ref().is_some_and(|c| c.1.is_closed())
        {
            match tokio_postgres::connect(&url, NoTls).await {
                Ok((c, h)) => {
                    tokio::spawn(async move {
                        let _ = h.await;
                    });
                    conn = Some((url.clone(), c));
                }
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            }
        }
        let Some((_, c)) = &conn else { continue };
        let cents = rng.i64(100..100_000);
        let name = format!("item {}", rng.u32(..));
        let (price_sql, price_param): (&str, String) = match side {
            Side::Blue => (
                "$1::text",
                format!("{}.{:02} EUR", cents / 100, cents % 100),
            ),
            Side::Green => (
                "$1::text::numeric",
                format!("{}.{:02}", cents / 100, cents % 100),
            ),
        };
        let name_col = if side == Side::Blue { "name" } else { "title" };
        // Each writer changes only the rows it inserted: the expectation then follows commit order.
        let existing: Option<i64> = if mine.is_empty() {
            None
        } else {
            Some(mine[rng.usize(..mine.len())])
        };
        let op = rng.u8(..10);
        let result: Result<(i64, Option<(i64, String)>), tokio_postgres::Error> = match (op, existing) {
            (0..=5, _) | (_, None) => c
                .query_one(
                    &format!("INSERT INTO public.items (price, {name_col}) VALUES ({price_sql}, $2) RETURNING id"),
                    &[&price_param, &name],
                )
                .await
                .map(|r| (r.get(0), Some((cents, name.clone())))),
            (6..=8, Some(id)) => c
                .execute(
                    &format!("UPDATE public.items SET price = {price_sql}, {name_col} = $2 WHERE id = $3"),
                    &[&price_param, &name, &id],
                )
                .await
                .map(|_| (id, Some((cents, name.clone())))),
            (_, Some(id)) => c
                .execute("DELETE FROM public.items WHERE id = $1", &[&id])
                .await
                .map(|_| (id, None)),
        };
        match result {
            Ok((id, value)) => {
                if value.is_none() {
                    mine.retain(|m| *m != id);
                } else if !mine.contains(&id) {
                    mine.push(id);
                }
                expected.lock().unwrap().insert(id, value);
                ack.fetch_add(1, Ordering::SeqCst);
            }
            Err(_) => {
                refused.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
}
