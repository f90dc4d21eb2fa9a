//! Bad input gets a clear error naming the file, the line and what to do, and changes nothing.

use tandem_core::plan::Phase;
use tandem_core::Migration;
use tandem_pg::MigrationStatus;
use tandem_testkit::{fresh_db, migration};

const BASELINE: &str = "operations:\n  - create_table:\n      name: users\n      columns:\n        - {name: id, type: serial, pk: true}\n        - {name: name, type: text}\n";

/// What a failed command must leave as it was.
async fn state_of(db: &tandem_testkit::Db) -> (Vec<String>, serde_json::Value, i64) {
    let has_state = db
        .scalar_i64("SELECT (to_regclass('tandem.migrations') IS NOT NULL)::int::bigint")
        .await
        == 1;
    let in_progress = if has_state {
        db.scalar_i64("SELECT count(*) FROM tandem.migrations")
            .await
    } else {
        -1
    };
    (db.schemas().await, db.snapshot().await, in_progress)
}

#[test]
fn unknown_fields_are_errors_with_their_line() {
    let text = "operations:\n  - add_column:\n      table: users\n      column:\n        name: x\n        type: int\n        nulable: true\n";
    let err = Migration::parse("03_x", "03_x.yaml", text, false).expect_err("typo");
    assert_eq!(err.line, Some(7), "{err}");
    assert!(
        err.message.contains("unknown field `nulable`"),
        "{}",
        err.message
    );
    assert!(
        err.message.contains("nullable"),
        "lists the valid fields: {}",
        err.message
    );
}

#[test]
fn unknown_operations_and_json_errors_have_lines() {
    let err = Migration::parse("m", "m.yaml", "operations:\n  - make_it_so: {}\n", false)
        .expect_err("unknown op");
    assert_eq!(err.line, Some(2));
    assert!(
        err.message.contains("make_it_so") && err.message.contains("create_table"),
        "{}",
        err.message
    );
    let err = Migration::parse(
        "m",
        "m.json",
        "{\n  \"operations\": [\n    {\"drop_table\": {\"name\": 1}}\n  ]\n}",
        true,
    )
    .expect_err("bad type");
    assert_eq!(err.line, Some(3));
    let err = Migration::parse("m", "m.yaml", "operations: []\n", false).expect_err("empty");
    assert!(err.message.contains("no operations"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_migrations_change_nothing() {
    let db = fresh_db().await;
    let before = state_of(&db).await;
    db.execute("CREATE TABLE public.users (id serial PRIMARY KEY, name text NOT NULL)")
        .await;
    let before_with_table = state_of(&db).await;
    assert_ne!(before, before_with_table);
    let cases: &[(&str, &str, usize)] = &[
        (
            "operations:\n  - create_table:\n      name: teams\n      columns:\n        - {name: id, type: serial, pk: true}\n  - add_column:\n      table: userz\n      column: {name: a, type: int, nullable: true}\n",
            "table `userz` does not exist",
            6,
        ),
        (
            "operations:\n  - add_column:\n      table: users\n      column: {name: age, type: int}\n",
            "NOT NULL without a default",
            2,
        ),
        (
            "operations:\n  - add_column:\n      table: users\n      column: {name: token, type: double precision, default: random()}\n",
            "is volatile",
            2,
        ),
        (
            "operations:\n  - rename_column: {table: users, from: nam, to: full_name}\n",
            "column `nam` does not exist",
            2,
        ),
        (
            "operations:\n  - drop_column: {table: users, column: name}\n",
            "NOT NULL without a default",
            2,
        ),
        (
            "operations:\n  - sql: {up: CREATE TABLE t (id int)}\n  - drop_table: {name: users}\n",
            "must be the only operation",
            2,
        ),
        (
            "operations:\n  - create_table:\n      name: users\n      columns:\n        - {name: id, type: int}\n",
            "already exists",
            2,
        ),
    ];
    for (yaml, expected, line) in cases {
        let mut engine = db.engine().await;
        let err = engine
            .start(&migration("02_bad", yaml))
            .await
            .expect_err(expected);
        let tandem_pg::Error::Plan(plan) = &err else {
            panic!("expected a validation error for {expected}, got {err}")
        };
        assert!(
            plan.message.contains(expected),
            "expected `{expected}` in `{}`",
            plan.message
        );
        assert_eq!(
            plan.line,
            Some(*line),
            "line of the operation at fault for {expected}"
        );
        assert!(!plan.help.is_empty());
        assert_eq!(
            state_of(&db).await,
            before_with_table,
            "a failed validation changed the database ({expected})"
        );
    }
    // An invalid type in a default is reported by the server and changes nothing either.
    let mut engine = db.engine().await;
    let err = engine
        .start(&migration("02_bad", "operations:\n  - add_column:\n      table: users\n      column: {name: x, type: no_such_type, default: \"1\"}\n"))
        .await
        .expect_err("bad type");
    assert!(err.to_string().contains("no_such_type"), "{err}");
    assert_eq!(state_of(&db).await, before_with_table);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_migration_at_a_time_and_status_says_where_to_point_clients() {
    let db = fresh_db().await;
    let mut engine = db.engine().await;
    let status = engine.status().await.unwrap();
    assert_eq!(
        (
            status.migration.as_deref(),
            status.status,
            status.version_schema.as_deref()
        ),
        (None, None, None)
    );
    assert_eq!(
        serde_json::to_value(&status).unwrap()["status"],
        "none",
        "`tandem status --json` says none"
    );
    engine
        .start(&migration("01_users", BASELINE))
        .await
        .unwrap();
    let status = engine.status().await.unwrap();
    assert_eq!(status.status, Some(MigrationStatus::InProgress));
    assert_eq!(status.phase, Some(Phase::Start));
    let json = serde_json::to_value(&status).unwrap();
    assert_eq!(
        (&json["status"], &json["phase"]),
        (
            &serde_json::json!("in_progress"),
            &serde_json::json!("start")
        )
    );
    assert_eq!(status.version_schema.as_deref(), Some("public_01_users"));
    let err = engine
        .start(&migration(
            "02_more",
            "operations:\n  - drop_table: {name: users}\n",
        ))
        .await
        .expect_err("one at a time");
    assert!(
        err.to_string().contains("`01_users` is in progress"),
        "{err}"
    );
    assert_eq!(
        engine
            .start(&migration("01_users", BASELINE))
            .await
            .unwrap(),
        tandem_pg::StartOutcome::AlreadyStarted
    );
    engine.complete().await.unwrap();
    let status = engine.status().await.unwrap();
    assert_eq!(
        (status.migration.as_deref(), status.status),
        (Some("01_users"), Some(MigrationStatus::Complete))
    );
    // Run again after it succeeded: nothing to do, and no error (issue 8: idempotent commands).
    let again = engine.complete().await.unwrap();
    assert_eq!(
        again,
        tandem_pg::Finished {
            migration: "01_users".into(),
            already: true
        }
    );
    let err = engine
        .start(&migration("01_users", BASELINE))
        .await
        .expect_err("already applied");
    assert!(err.to_string().contains("already complete"), "{err}");
    let history = engine.history().await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(
        history[0].checksum,
        migration("01_users", BASELINE).checksum()
    );
    assert_eq!(
        (history[0].status, history[0].phase),
        (MigrationStatus::Complete, Phase::Complete)
    );
}

/// A phase this tandem does not know (a newer version's, or a hand edit) is an error naming it,
/// never read as `start`: resuming the wrong phase would run the wrong steps.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_phase_in_the_state_table_is_an_error() {
    let db = fresh_db().await;
    let mut engine = db.engine().await;
    engine
        .start(&migration("01_users", BASELINE))
        .await
        .unwrap();
    db.execute(
        "ALTER TABLE tandem.migrations DROP CONSTRAINT migrations_phase_check;
         UPDATE tandem.migrations SET phase = 'rehearse' WHERE name = '01_users'",
    )
    .await;
    for err in [
        engine.status().await.expect_err("status"),
        engine.complete().await.expect_err("complete"),
        engine
            .start(&migration("01_users", BASELINE))
            .await
            .expect_err("start"),
    ] {
        assert!(
            err.to_string().contains("unknown phase `rehearse`")
                && err.to_string().contains("01_users"),
            "{err}"
        );
        assert!(
            err.help().contains("another tandem version"),
            "{}",
            err.help()
        );
    }
    let steps_done = db
        .scalar_i64("SELECT steps_done::bigint FROM tandem.migrations WHERE name = '01_users'")
        .await;
    assert!(steps_done > 0, "nothing was reset or rerun");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_version_schema_names_are_used() {
    let db = fresh_db().await;
    db.apply("01_users", &format!("version_schema: app_v1\n{BASELINE}"))
        .await;
    assert_eq!(db.schemas().await, ["app_v1", "public", "tandem"]);
    let c = db.client_on("app_v1").await;
    c.batch_execute("INSERT INTO users (name) VALUES ('through app_v1')")
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_up_and_down_expressions_are_caught_before_anything_runs() {
    let db = fresh_db().await;
    db.apply("01_users", BASELINE).await;
    db.execute("INSERT INTO public.users (name) VALUES ('a'), ('b')")
        .await;
    let before = state_of(&db).await;
    for (yaml, expected) in [
        ("operations:\n  - alter_column:\n      table: users\n      column: name\n      type: integer\n      up: no_such_function(name)\n      down: name::text\n", "`up` of users"),
        ("operations:\n  - alter_column:\n      table: users\n      column: name\n      type: integer\n      up: name\n      down: name::text\n", "`up` of users"),
        ("operations:\n  - add_column:\n      table: users\n      up: \"'x' + 1\"\n      column: {name: n, type: integer}\n", "`up` of users.n"),
    ] {
        let mut engine = db.engine().await;
        let err = engine.start(&migration("02_bad", yaml)).await.expect_err(expected);
        assert!(err.to_string().contains(expected), "expected `{expected}` in: {err}");
        assert!(err.help().contains("nothing was changed"), "{}", err.help());
        assert_eq!(state_of(&db).await, before, "a bad expression changed the database");
    }
}

/// Records the engine's warnings.
#[derive(Default)]
struct Warnings(std::sync::Mutex<Vec<String>>);

impl tandem_pg::Reporter for Warnings {
    fn event(&self, event: tandem_pg::Event) {
        if let tandem_pg::Event::Warning(w) = event {
            self.0.lock().unwrap().push(w);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_down_is_a_warning_since_only_new_version_writes_need_it() {
    let db = fresh_db().await;
    db.apply("01_users", BASELINE).await;
    let warnings = std::sync::Arc::new(Warnings::default());
    let mut engine = tandem_pg::Engine::connect(
        &tandem_pg::ConnectOptions {
            url: Some(db.url.clone()),
        },
        tandem_testkit::settings(),
        warnings.clone(),
    )
    .await
    .unwrap();
    let m = migration("02_down", "operations:\n  - alter_column:\n      table: users\n      column: name\n      type: integer\n      up: length(name)\n      down: nme\n");
    engine.plan(&m).await.expect("plans");
    let seen = warnings.0.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        seen[0].contains("`down` for users.name") && seen[0].contains("nme"),
        "{seen:?}"
    );
}
