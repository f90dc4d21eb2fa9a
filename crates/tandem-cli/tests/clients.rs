//! Real client libraries connect with what `tandem url` prints and read and write through the
//! version schema it names: node-postgres (npm `pg`) on the new version, psycopg 3 (PyPI) on
//! the old one, while the migration is in progress.
//!
//! Needs `npm` and `python3` with `venv` (scripts/test.sh installs them); the packages are
//! installed once into this test's target directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn tandem(url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tandem"))
        .arg("--url")
        .arg(url)
        .args(args)
        .env_remove("DATABASE_URL")
        .output()
        .unwrap()
}

fn ok(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn clients_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("clients");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// node-postgres, installed with npm into the target directory.
fn node_postgres() -> PathBuf {
    let dir = clients_dir().join("node");
    if !dir.join("node_modules/pg/package.json").exists() {
        std::fs::create_dir_all(&dir).unwrap();
        let out = Command::new("npm")
            .args([
                "install",
                "--no-save",
                "--no-audit",
                "--no-fund",
                "--prefix",
            ])
            .arg(&dir)
            .arg("pg@8")
            .output()
            .expect("npm is needed for this test (scripts/test.sh installs it)");
        ok(out, "npm install pg@8");
    }
    dir
}

/// A Python virtualenv with psycopg 3 from PyPI.
fn psycopg_python() -> PathBuf {
    let venv = clients_dir().join("py");
    let python = venv.join("bin/python");
    if !python.exists() {
        let out = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .output()
            .expect("python3 is needed for this test (scripts/test.sh installs it)");
        ok(out, "python3 -m venv");
    }
    let probe = Command::new(&python)
        .args(["-c", "import psycopg"])
        .output()
        .unwrap();
    if !probe.status.success() {
        let out = Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "psycopg[binary]>=3.1",
            ])
            .output()
            .unwrap();
        ok(out, "pip install psycopg[binary]");
    }
    python
}

const NODE_SCRIPT: &str = r#"
const { Client } = require('pg');
(async () => {
  const client = new Client({ connectionString: process.argv[2] });
  await client.connect();
  await client.query("INSERT INTO users (full_name) VALUES ('from node')");
  const path = await client.query('SHOW search_path');
  const rows = await client.query('SELECT full_name, active FROM users ORDER BY id');
  console.log(JSON.stringify({ search_path: path.rows[0].search_path, rows: rows.rows }));
  await client.end();
})().catch((e) => { console.error(e.message); process.exit(1); });
"#;

const PYTHON_SCRIPT: &str = r#"
import json, sys, psycopg
with psycopg.connect(sys.argv[1], autocommit=True) as conn:
    conn.execute("INSERT INTO users (name) VALUES ('from psycopg')")
    path = conn.execute("SHOW search_path").fetchone()[0]
    rows = conn.execute("SELECT name FROM users ORDER BY id").fetchall()
    print(json.dumps({"search_path": path, "rows": [r[0] for r in rows]}))
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_postgres_and_psycopg_use_the_versions_tandem_url_names() {
    // Install the clients first: a missing tool fails before a cluster is started.
    let node_dir = node_postgres();
    let python = psycopg_python();

    let cluster = tokio::task::spawn_blocking(tandem_ephemeral::Cluster::start)
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{e}"));
    let url = cluster.url("postgres");

    let dir = std::env::temp_dir().join(format!("tandem-clients-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let first = dir.join("01_create_users.yaml");
    std::fs::write(
        &first,
        "operations:\n  - create_table:\n      name: users\n      columns:\n        - {name: id, type: serial, pk: true}\n        - {name: name, type: text, nullable: true}\n",
    )
    .unwrap();
    let second = dir.join("02_rename.yaml");
    std::fs::write(
        &second,
        "operations:\n  - rename_column: {table: users, from: name, to: full_name}\n  - add_column:\n      table: users\n      column: {name: active, type: boolean, default: \"true\"}\n",
    )
    .unwrap();
    ok(
        tandem(&url, &["start", first.to_str().unwrap(), "--complete"]),
        "start 01",
    );
    ok(
        tandem(&url, &["start", second.to_str().unwrap()]),
        "start 02",
    );

    let new_url = ok(tandem(&url, &["url"]), "tandem url");
    let old_url = ok(
        tandem(&url, &["url", "--migration", "01_create_users"]),
        "tandem url --migration 01_create_users",
    );
    assert!(
        new_url.contains("?options=-c%20search_path%3D%22public_02_rename%22%2C%5C%20%22public%22"),
        "{new_url}"
    );
    assert!(
        old_url.contains("search_path%3D%22public_01_create_users%22"),
        "{old_url}"
    );
    let options = ok(tandem(&url, &["url", "--format", "options"]), "options");
    assert_eq!(options, r#"-c search_path="public_02_rename",\ "public""#);
    let gone = tandem(&url, &["url", "--migration", "00_nothing"]);
    assert!(!gone.status.success());
    assert!(
        String::from_utf8_lossy(&gone.stderr).contains("01_create_users, 02_rename"),
        "{}",
        String::from_utf8_lossy(&gone.stderr)
    );

    let script = dir.join("client.js");
    std::fs::write(&script, NODE_SCRIPT).unwrap();
    let node: serde_json::Value = serde_json::from_str(&ok(
        Command::new("node")
            .arg(&script)
            .arg(&new_url)
            .env("NODE_PATH", node_dir.join("node_modules"))
            .output()
            .unwrap(),
        "node-postgres client",
    ))
    .unwrap();
    assert_eq!(node["search_path"], r#""public_02_rename", "public""#);
    assert_eq!(
        node["rows"],
        serde_json::json!([{"full_name": "from node", "active": true}])
    );

    let script = dir.join("client.py");
    std::fs::write(&script, PYTHON_SCRIPT).unwrap();
    let py: serde_json::Value = serde_json::from_str(&ok(
        Command::new(&python)
            .arg(&script)
            .arg(&old_url)
            .output()
            .unwrap(),
        "psycopg client",
    ))
    .unwrap();
    assert_eq!(py["search_path"], r#""public_01_create_users", "public""#);
    assert_eq!(
        py["rows"],
        serde_json::json!(["from node", "from psycopg"]),
        "the old version sees the new version's row under its old column name"
    );

    // And the new version sees the old version's row, with the new column's default.
    let out = ok(
        Command::new("node")
            .arg(dir.join("client.js"))
            .arg(&new_url)
            .env("NODE_PATH", node_dir.join("node_modules"))
            .output()
            .unwrap(),
        "node-postgres client, second run",
    );
    let node: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        node["rows"],
        serde_json::json!([
            {"full_name": "from node", "active": true},
            {"full_name": "from psycopg", "active": true},
            {"full_name": "from node", "active": true}
        ])
    );
    let _ = std::fs::remove_dir_all(&dir);
}
