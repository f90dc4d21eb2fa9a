//! `tandem lint` and `tandem convert` as a user runs them: exit codes, flags, output, errors,
//! `--url` and `--trace` on a throwaway PostgreSQL.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tokio_postgres::NoTls;

fn tandem(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(args)
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn tmp(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tandem-cli-lint-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (f, body) in files {
        let p = dir.join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }
    dir
}

#[test]
fn exit_codes() {
    let dir = tmp(
        "exit",
        &[
            (
                "clean.sql",
                "SET lock_timeout = '2s';\nCREATE INDEX CONCURRENTLY i ON t (c);\n",
            ),
            ("bad.sql", "CREATE INDEX i ON t (c);\n"),
            ("broken.sql", "CREATE INDEX ON;\n"),
        ],
    );
    assert_eq!(tandem(&dir, &["lint", "clean.sql"]).status.code(), Some(0));
    let bad = tandem(&dir, &["lint", "bad.sql"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(text(&bad.stdout).contains("error[require-concurrent-index-creation]"));
    assert_eq!(tandem(&dir, &["lint", "broken.sql"]).status.code(), Some(2));
    let missing = tandem(&dir, &["lint", "missing.sql"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        text(&missing.stderr).contains("missing.sql"),
        "{}",
        text(&missing.stderr)
    );
    let list = tandem(&dir, &["lint", "--list-rules"]);
    assert_eq!(list.status.code(), Some(0));
    assert!(text(&list.stdout).contains("set-logged-unlogged"));
}

#[test]
fn assume_in_transaction_flag_is_honoured_without_a_config_file() {
    let dir = tmp(
        "tx",
        &[(
            "m.sql",
            "SET lock_timeout = '1s';\nALTER TABLE a ADD COLUMN x int;\nSELECT pg_sleep(1);\n",
        )],
    );
    let plain = tandem(&dir, &["lint", "--format", "json", "m.sql"]);
    assert!(!text(&plain.stdout).contains("statements-after-access-exclusive"));
    let flagged = tandem(
        &dir,
        &[
            "lint",
            "--format",
            "json",
            "--assume-in-transaction",
            "m.sql",
        ],
    );
    assert!(
        text(&flagged.stdout).contains("statements-after-access-exclusive"),
        "{}",
        text(&flagged.stdout)
    );
}

#[test]
fn config_file_and_bad_config() {
    let dir = tmp(
        "config",
        &[
            ("m.sql", "CREATE TABLE t (id int PRIMARY KEY, data json);\n"),
            (
                "tandem.toml",
                "[lint]\ndisable = [\"prefer-jsonb\", \"prefer-bigint-keys\"]\n",
            ),
            ("bad.toml", "[lint]\ndisable = [\"no-such-rule\"]\n"),
        ],
    );
    assert_eq!(tandem(&dir, &["lint", "m.sql"]).status.code(), Some(0));
    let bad = tandem(&dir, &["lint", "--config", "bad.toml", "m.sql"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("no-such-rule"));
}

#[test]
fn convert_writes_a_file_and_reports_parse_errors() {
    let dir = tmp(
        "convert",
        &[
            (
                "m.sql",
                "ALTER TABLE users RENAME COLUMN name TO full_name;\n",
            ),
            ("broken.sql", "ALTER TABLE;"),
        ],
    );
    let out = tandem(&dir, &["convert", "m.sql", "-o", "m.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let yaml = std::fs::read_to_string(dir.join("m.yaml")).unwrap();
    assert!(yaml.contains("rename_column"));
    let broken = tandem(&dir, &["convert", "broken.sql"]);
    assert_eq!(broken.status.code(), Some(2));
    assert!(
        text(&broken.stderr).contains("broken.sql:1:"),
        "{}",
        text(&broken.stderr)
    );
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn url_makes_a_small_table_a_note_and_trace_reports_what_the_server_did() {
    let cluster = tandem_ephemeral::shared().unwrap();
    let url = cluster.url("postgres");
    runtime().block_on(async {
        let (c, conn) = tokio_postgres::connect(&url, NoTls).await.unwrap();
        tokio::spawn(conn);
        for sql in [
            "DROP TABLE IF EXISTS tiny",
            "CREATE TABLE tiny (id bigint PRIMARY KEY, status text)",
            "INSERT INTO tiny SELECT g, 'x' FROM generate_series(1, 10) g",
            "ANALYZE tiny",
        ] {
            c.execute(sql, &[]).await.unwrap();
        }
    });
    let dir = tmp(
        "url",
        &[(
            "001_idx.sql",
            "SET lock_timeout = '1s';\nCREATE INDEX tiny_status ON tiny (status);\n",
        )],
    );
    let without = tandem(&dir, &["lint", "001_idx.sql"]);
    assert_eq!(without.status.code(), Some(1));
    let with = tandem(&dir, &["--url", &url, "lint", "001_idx.sql"]);
    assert_eq!(
        with.status.code(),
        Some(0),
        "{}{}",
        text(&with.stdout),
        text(&with.stderr)
    );
    assert!(text(&with.stdout).contains("note[require-concurrent-index-creation]"));

    // --trace: the set runs on its own throwaway PostgreSQL.
    let traced = tmp(
        "trace",
        &[
            (
                "migrations/001_create.sql",
                "CREATE TABLE orders (id bigint PRIMARY KEY, total int);\n",
            ),
            (
                "migrations/002_alter.sql",
                "SET lock_timeout = '1s';\nALTER TABLE orders ALTER COLUMN total TYPE bigint;\n",
            ),
        ],
    );
    let out = tandem(
        &traced,
        &["lint", "--trace", "--format", "json", "migrations"],
    );
    let findings: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let trace: Vec<&serde_json::Value> = findings
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "trace")
        .collect();
    assert_eq!(trace.len(), 1, "{findings:#}");
    assert!(trace[0]["file"]
        .as_str()
        .unwrap()
        .ends_with("002_alter.sql"));
    assert!(trace[0]["message"]
        .as_str()
        .unwrap()
        .contains("rewrote `orders`"));
}

#[test]
fn mysql_dialect_flags_a_copying_alter_and_passes_the_online_form() {
    let dir = tandem_testkit::TempDir::new("tandem-lint-mysql");
    let bad = dir.path().join("01_bad.sql");
    std::fs::write(
        &bad,
        "ALTER TABLE orders MODIFY amount BIGINT;\nOPTIMIZE TABLE orders;\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(["lint", "--dialect", "mysql", "--format", "json"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let findings: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rules: Vec<&str> = findings
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"mysql-lock-wait-timeout"), "{rules:?}");
    assert!(rules.contains(&"mysql-optimize-table"), "{rules:?}");
    assert!(findings[1]["line"].as_u64().is_some());

    let good = dir.path().join("02_good.sql");
    std::fs::write(
        &good,
        "SET SESSION lock_wait_timeout = 2;\nALTER TABLE orders ADD COLUMN note TEXT, ALGORITHM=INSTANT;\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(["lint", "--dialect", "mysql"])
        .arg(&good)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
