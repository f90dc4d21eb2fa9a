//! `tandem bluegreen` as a user meets it, on two throwaway clusters with logical replication:
//! create with a migration file, status --json, verify, switchover, cleanup.

use std::process::{Command, Output};
use std::time::Duration;
use tandem_ephemeral::{Cluster, ClusterOptions};

fn cluster() -> Cluster {
    Cluster::start_with(ClusterOptions {
        bin_dir: None,
        settings: vec![
            ("wal_level".into(), "logical".into()),
            ("max_worker_processes".into(), "16".into()),
        ],
    })
    .unwrap()
}

fn tandem(blue: &str, green: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tandem"))
        .arg("bluegreen")
        .args(args)
        .args(["--url", blue, "--green-url", green])
        .env_remove("DATABASE_URL")
        .env_remove("GREEN_DATABASE_URL")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

async fn client(url: &str) -> tokio_postgres::Client {
    let (c, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    c
}

#[tokio::test]
async fn create_status_verify_switchover_cleanup() {
    let (b, g) = (cluster(), cluster());
    client(&b.url("postgres"))
        .await
        .batch_execute("CREATE DATABASE app")
        .await
        .unwrap();
    client(&g.url("postgres"))
        .await
        .batch_execute("CREATE DATABASE app")
        .await
        .unwrap();
    let (blue, green) = (b.url("app"), g.url("app"));
    client(&blue)
        .await
        .batch_execute(
            "CREATE TABLE public.users (id serial PRIMARY KEY, name text NOT NULL);
             INSERT INTO public.users (name) SELECT 'user ' || g FROM generate_series(1, 200) g;",
        )
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(format!("tandem-bluegreen-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("02_rename.yaml");
    std::fs::write(
        &file,
        "operations:\n  - rename_column: {table: users, from: name, to: full_name}\n",
    )
    .unwrap();

    let out = tandem(&blue, &green, &["create", file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("through the migration's up: users"),
        "{}",
        text(&out.stdout)
    );

    let mut status = serde_json::Value::Null;
    for _ in 0..300 {
        let out = tandem(&blue, &green, &["status", "--json"]);
        status = serde_json::from_slice(&out.stdout).unwrap();
        if status["state"] == "streaming" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status["state"], "streaming", "{status}");
    assert!(status["lag_bytes"].is_i64(), "{status}");
    assert_eq!(status["active"], "blue");

    // Switchover refuses without a verify, and says what to run.
    let out = tandem(&blue, &green, &["switchover"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("verify"),
        "{}",
        text(&out.stderr)
    );

    let out = tandem(&blue, &green, &["verify"]);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(text(&out.stdout).contains("both sides hold the same rows"));

    let out = tandem(&blue, &green, &["switchover"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("green is live; writes were unavailable for"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("connect applications to: {green}")),
        "{stdout}"
    );
    let names: Vec<String> = client(&green)
        .await
        .query(
            "SELECT full_name FROM public.users ORDER BY id LIMIT 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(names, vec!["user 1".to_string()]);

    let out = tandem(&blue, &green, &["cleanup"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for url in [&blue, &green] {
        let c = client(url).await;
        let n: i64 = c
            .query_one("SELECT (SELECT count(*) FROM pg_replication_slots) + (SELECT count(*) FROM pg_subscription) + (SELECT count(*) FROM pg_publication)", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 0, "{url}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
