//! The binary as a user meets it: output, exit codes, errors.

use std::process::{Command, Output};
use tandem_testkit::{fresh_db, pgroll_examples_dir, Db, TempDir};

fn tandem(db: Option<&Db>, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tandem"));
    if let Some(db) = db {
        c.arg("--url").arg(&db.url);
    }
    c.args(args).env_remove("DATABASE_URL").output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn write(dir: &TempDir, name: &str, body: &str) -> String {
    dir.write(name, body).to_str().unwrap().to_string()
}

fn tmpdir() -> TempDir {
    TempDir::new("tandem-cli")
}

const USERS: &str = "operations:\n  - create_table:\n      name: users\n      columns:\n        - {name: id, type: serial, pk: true}\n        - {name: name, type: text}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_json_follows_the_lifecycle() {
    let db = fresh_db().await;
    let dir = tmpdir();
    let status = |db: &Db| -> serde_json::Value {
        let out = tandem(Some(db), &["status", "--json"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let s = status(&db);
    assert_eq!(
        (
            s["schema"].as_str(),
            s["migration"].is_null(),
            s["status"].as_str(),
            s["version_schema"].is_null()
        ),
        (Some("public"), true, Some("none"), true)
    );
    let f = write(&dir, "01_users.yaml", USERS);
    let out = tandem(Some(&db), &["start", &f]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("SET search_path TO public_01_users"),
        "{}",
        text(&out.stdout)
    );
    let s = status(&db);
    assert_eq!(
        (
            s["migration"].as_str(),
            s["status"].as_str(),
            s["version_schema"].as_str()
        ),
        (
            Some("01_users"),
            Some("in_progress"),
            Some("public_01_users")
        )
    );
    assert!(tandem(Some(&db), &["complete"]).status.success());
    let s = status(&db);
    assert_eq!(s["status"].as_str(), Some("complete"));
    let out = tandem(Some(&db), &["history", "--json"]);
    let h: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(h[0]["name"].as_str(), Some("01_users"));
    assert_eq!(h[0]["status"].as_str(), Some("complete"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_file_is_reported_with_file_line_and_help_and_changes_nothing() {
    let db = fresh_db().await;
    let dir = tmpdir();
    let f = write(
        &dir,
        "01_bad.yaml",
        "operations:\n  - create_table:\n      name: users\n      colums: []\n",
    );
    let out = tandem(Some(&db), &["start", &f]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("01_bad.yaml:4"),
        "names the file and line: {err}"
    );
    assert!(err.contains("unknown field `colums`"), "{err}");
    assert!(err.contains("help"), "{err}");
    assert_eq!(db.schemas().await, ["public"], "nothing created");

    let f = write(
        &dir,
        "02_missing.yaml",
        "operations:\n  - drop_table: {name: nope}\n",
    );
    let out = tandem(Some(&db), &["validate", &f]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("table `nope` does not exist") && err.contains("02_missing.yaml"),
        "{err}"
    );
    assert_eq!(db.schemas().await, ["public"], "validate changes nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_shows_every_step_with_its_lock_and_changes_nothing() {
    let db = fresh_db().await;
    db.apply("01_users", USERS).await;
    let before = db.snapshot().await;
    let dir = tmpdir();
    let f = write(&dir, "02_add.yaml", "operations:\n  - add_column:\n      table: users\n      column: {name: handle, type: text, nullable: true, unique: true}\n  - rename_column: {table: users, from: name, to: full_name}\n");
    let out = tandem(Some(&db), &["plan", &f]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let plan = text(&out.stdout);
    for expected in [
        "start (3 steps)",
        "ACCESS EXCLUSIVE on public.users",
        "CREATE UNIQUE INDEX CONCURRENTLY \"users_handle_key\"",
        "SHARE UPDATE EXCLUSIVE on public.users, outside a transaction",
        "CREATE VIEW \"public_02_add\".\"users\"",
        "\"name\" AS \"full_name\"",
        "complete (3 steps)",
        "DROP SCHEMA IF EXISTS \"public_01_users\" CASCADE",
        "ALTER TABLE \"public\".\"users\" RENAME COLUMN \"name\" TO \"full_name\"",
        "rollback (2 steps)",
    ] {
        assert!(plan.contains(expected), "plan lacks `{expected}`:\n{plan}");
    }
    assert_eq!(db.snapshot().await, before);
    let out = tandem(Some(&db), &["plan", &f, "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["start"].as_array().map(Vec::len), Some(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_applies_a_folder_once() {
    let db = fresh_db().await;
    let dir = tmpdir();
    write(&dir, "01_users.yaml", USERS);
    write(&dir, "02_add.yaml", "operations:\n  - add_column:\n      table: users\n      column: {name: bio, type: text, nullable: true}\n");
    let d = dir.path().to_str().unwrap();
    let out = tandem(Some(&db), &["migrate", d]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s: serde_json::Value =
        serde_json::from_slice(&tandem(Some(&db), &["status", "--json"]).stdout).unwrap();
    assert_eq!(
        (s["migration"].as_str(), s["status"].as_str()),
        (Some("02_add"), Some("in_progress")),
        "the last one is left in progress without --complete"
    );
    let out = tandem(Some(&db), &["migrate", d, "--complete"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = tandem(Some(&db), &["migrate", d, "--complete"]);
    assert!(
        text(&out.stdout).contains("nothing to apply"),
        "{}",
        text(&out.stdout)
    );
    // A changed file is refused.
    write(
        &dir,
        "01_users.yaml",
        &USERS.replace("name: name", "name: title"),
    );
    let out = tandem(Some(&db), &["migrate", d]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("changed after migration `01_users` was applied"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn passwords_never_appear_in_output() {
    let out = Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args([
            "--url",
            "postgres://someone:s3cr3t-pw@127.0.0.1:1/db",
            "status",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        all.contains("someone@127.0.0.1:1/db"),
        "says where it tried: {all}"
    );
    assert!(!all.contains("s3cr3t-pw"), "leaked the password: {all}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_compat_readme_command_applies_every_pgroll_example() {
    let Some(dir) = pgroll_examples_dir() else {
        eprintln!("pgroll examples not found beside the repository (expected ../shared/compat/pgroll-examples): this test checked nothing");
        return;
    };
    let db = fresh_db().await;
    let out = tandem(Some(&db), &["migrate", dir.to_str().unwrap(), "--complete"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("applied 56 migration(s)"),
        "{}",
        text(&out.stdout)
    );
    let h: serde_json::Value =
        serde_json::from_slice(&tandem(Some(&db), &["history", "--json"]).stdout).unwrap();
    let statuses: Vec<&str> = h
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses.len(), 56);
    assert!(statuses.iter().all(|s| *s == "complete"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_and_rollback_run_again_are_no_ops_that_succeed() {
    let db = fresh_db().await;
    let dir = tmpdir();
    let users = write(&dir, "01_users.yaml", USERS);
    let add = write(
        &dir,
        "02_add.yaml",
        "operations:\n  - add_column:\n      table: users\n      column: {name: age, type: integer, nullable: true}\n",
    );
    assert!(tandem(Some(&db), &["start", &users]).status.success());
    let first = tandem(Some(&db), &["complete"]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert!(text(&first.stdout).contains("migration 01_users is complete"));
    let again = tandem(Some(&db), &["complete"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    assert!(
        text(&again.stdout).contains("01_users was already complete: nothing to do"),
        "{}",
        text(&again.stdout)
    );
    // Rolling back a completed migration is refused, and says what to do instead.
    let refused = tandem(Some(&db), &["rollback"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains("01_users` is complete"),
        "{}",
        text(&refused.stderr)
    );

    assert!(tandem(Some(&db), &["start", &add]).status.success());
    assert!(tandem(Some(&db), &["rollback"]).status.success());
    let again = tandem(Some(&db), &["rollback"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    assert!(
        text(&again.stdout).contains("02_add was already rolled back: nothing to do"),
        "{}",
        text(&again.stdout)
    );
    // A complete after a rollback has nothing to complete: an error, not a silent success.
    let nothing = tandem(Some(&db), &["complete"]);
    assert_eq!(nothing.status.code(), Some(1));
}
