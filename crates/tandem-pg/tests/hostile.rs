//! Hostile migration files: `validate` and `plan` (`Engine::plan`, which both run) change
//! nothing, whatever a field holds; `start` refuses before its first step what they refuse;
//! tandem never drops a user object named like its helpers.
//!
//! The fields are enumerated by construction: every path of the shared field map
//! (`tandem_testkit::sql_fields::FIELDS`, which tandem-core's `sql_fields` test keeps complete:
//! a new string field of the format fails there until it is mapped) gets every payload, in a
//! one-operation file taken from the fixture that sets every field of every operation. After
//! each run, the catalog snapshot, every table's rows, the sequence, the large objects and
//! another session are checked unchanged.

use serde_json::Value;
use tandem_core::Migration;
use tandem_testkit::sql_fields::{strings, EVERYTHING, FIELDS};
use tandem_testkit::{fresh_db, migration, Db};
use tokio_postgres::Client;

/// Tables the fixture's operations name, with rows, and the things a payload would hit.
const SEED: &str = "
CREATE TABLE rooms (id integer PRIMARY KEY);
INSERT INTO rooms SELECT generate_series(1, 5);
CREATE TABLE bookings (id bigint PRIMARY KEY, room integer, nights integer, during daterange,
  doubled numeric(10,2), deleted_at timestamptz, cancelled boolean NOT NULL DEFAULT false);
INSERT INTO bookings SELECT g, g % 5 + 1, 1, daterange('2020-01-01'::date + g, '2020-01-02'::date + g), 0, NULL, false
  FROM generate_series(1, 20) g;
CREATE TABLE reservations (LIKE bookings INCLUDING ALL);
INSERT INTO reservations SELECT * FROM bookings;
ALTER TABLE reservations ADD CONSTRAINT room_check CHECK (room > 0),
  ADD CONSTRAINT pair_check CHECK (room > 0 AND nights > 0), ADD CONSTRAINT a_check CHECK (room >= 0);
CREATE INDEX reservations_old_idx ON reservations (nights);
CREATE TABLE old_bookings (id integer);
CREATE TABLE victim (id integer PRIMARY KEY, secret text NOT NULL);
INSERT INTO victim VALUES (1, 'keep me'), (2, 'me too');
CREATE SEQUENCE s;
SELECT setval('s', 42);
";

/// Payloads for every field. `{pid}` is replaced by another session's process id.
const PAYLOADS: &[&str] = &[
    "int; COMMIT; DROP TABLE victim; --",
    "1); DROP TABLE victim; --",
    "0 /* ; */ ; DELETE FROM victim",
    "0 -- hidden\n; DROP TABLE victim",
    "$$ ; DROP TABLE victim; $$",
    "pg_terminate_backend({pid})",
    "nextval('s')",
    "setval('s', 1)",
    "set_config('search_path', 'victim', false)",
    "lo_import('/etc/hostname')",
    "(SELECT dblink_exec('host=x', 'DROP TABLE victim'))",
    "(SELECT count(*) FROM (DELETE FROM victim RETURNING 1) d)",
    "x\"; DROP TABLE victim; --",
    "COMMIT",
    "E'\\'' ; DROP TABLE victim; --'",
];

/// Everything a run must leave as it was.
#[derive(Debug, PartialEq)]
struct Observed {
    snapshot: Value,
    rows: Vec<(String, String)>,
    sequence: (i64, bool),
    large_objects: i64,
}

async fn observe(db: &Db, c: &Client) -> Observed {
    let tables: Vec<String> = c
        .query(
            "SELECT relname::text FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r' ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut rows = Vec::new();
    for t in tables {
        let sql = format!(
            "SELECT coalesce(md5(string_agg(x::text, ',' ORDER BY x::text)), '') FROM public.{} x",
            tandem_core::quote::ident(&t)
        );
        rows.push((t, c.query_one(&sql, &[]).await.unwrap().get(0)));
    }
    let seq = c
        .query_one("SELECT last_value, is_called FROM s", &[])
        .await
        .unwrap();
    Observed {
        snapshot: db.snapshot().await,
        rows,
        sequence: (seq.get(0), seq.get(1)),
        large_objects: c
            .query_one("SELECT count(*) FROM pg_largeobject_metadata", &[])
            .await
            .unwrap()
            .get(0),
    }
}

/// Replaces every string at `target` (a path of the field map) with `payload`.
fn replace(v: &mut Value, path: &str, target: &str, payload: &str) -> usize {
    let join = |k: &str| {
        if path.is_empty() {
            k.to_owned()
        } else {
            format!("{path}.{k}")
        }
    };
    match v {
        Value::String(s) if path == target => {
            *s = payload.to_owned();
            1
        }
        Value::Array(items) => items
            .iter_mut()
            .map(|i| replace(i, path, target, payload))
            .sum(),
        Value::Object(map) => {
            let mut n = 0;
            for (k, v) in map.iter_mut() {
                let key = if path.ends_with(".up") || path.ends_with(".down") {
                    "*"
                } else {
                    k.as_str()
                };
                let next = if path == "operations" {
                    k.clone()
                } else {
                    join(key)
                };
                n += replace(v, &next, target, payload);
            }
            n
        }
        _ => 0,
    }
}

/// The fixture cut to the one operation that holds `field` (the first, for top-level fields),
/// with create_table's table renamed so that it does not exist yet.
fn one_operation_document(everything: &Value, field: &str) -> Value {
    let mut doc = everything.clone();
    let ops = doc["operations"].as_array().unwrap().clone();
    let kind = field.split('.').next().unwrap();
    let op = ops
        .iter()
        .find(|o| o.get(kind).is_some())
        .unwrap_or(&ops[1])
        .clone();
    doc["operations"] = Value::Array(vec![op]);
    if let Some(t) = doc["operations"][0].get_mut("create_table") {
        t["name"] = Value::String("fresh_table".into());
    }
    if let Some(map) = doc.as_object_mut() {
        if field != "verify" {
            map.remove("verify");
        }
        map.remove("name");
    }
    doc
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payload_in_any_field_changes_nothing_at_validate_and_plan() {
    let db = fresh_db().await;
    db.execute(SEED).await;
    let watcher = db.client().await;
    let bystander = db.client().await;
    let pid: i32 = bystander
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    let before = observe(&db, &watcher).await;
    let everything = serde_json::to_value(
        Migration::parse("everything", "everything.yaml", EVERYTHING, false).unwrap(),
    )
    .unwrap();
    let mut fixture_paths = Vec::new();
    strings(&everything, "", &mut fixture_paths);
    let mut engine = db.engine().await;
    let (mut runs, mut refused_by_parser, mut planned, mut refused_by_plan) = (0, 0, 0, 0);
    // Fields whose statement-hiding payload plan accepted: they are safe at validate and plan
    // (checked below) but must be parsed by their operation before `start` (issue 9).
    let mut accepted_statement_payloads = std::collections::BTreeSet::new();
    for (field, _) in FIELDS {
        for payload in PAYLOADS {
            let payload = payload.replace("{pid}", &pid.to_string());
            let mut doc = one_operation_document(&everything, field);
            let replaced = replace(&mut doc, "", field, &payload);
            assert!(replaced > 0, "the fixture has no value at `{field}`");
            let text = serde_json::to_string(&doc).unwrap();
            runs += 1;
            let m = match Migration::parse("02_hostile", "02_hostile.json", &text, true) {
                Ok(m) => m,
                Err(_) => {
                    refused_by_parser += 1;
                    continue;
                }
            };
            match engine.plan(&m).await {
                Ok(_) => {
                    planned += 1;
                    if payload.contains("DROP TABLE") {
                        accepted_statement_payloads.insert(*field);
                    }
                }
                Err(e) => {
                    refused_by_plan += 1;
                    let shown = format!("{e} {}", e.help());
                    assert!(!shown.contains("db error"), "{field}: {shown}");
                }
            }
            let after = observe(&db, &watcher).await;
            assert_eq!(before, after, "`{field}` = {payload:?} changed something");
            bystander
                .query_one("SELECT 1", &[])
                .await
                .unwrap_or_else(|e| panic!("`{field}` = {payload:?} killed a session: {e}"));
            // The engine's own session must keep reading SQL as the slot parsers do.
            let path: String = engine
                .client()
                .query_one("SHOW search_path", &[])
                .await
                .unwrap()
                .get(0);
            assert_ne!(path, "victim", "`{field}` = {payload:?} ran set_config");
        }
    }
    eprintln!(
        "{runs} hostile files: {refused_by_parser} refused by the file parser, {refused_by_plan} by plan, {planned} planned; nothing changed"
    );
    eprintln!(
        "fields that planned with a statement-hiding payload: {accepted_statement_payloads:?}"
    );
    assert_eq!(runs, FIELDS.len() * PAYLOADS.len());
    assert!(refused_by_plan > 0, "the payloads reached no check");
}

/// Files that reach the server's checks (new columns of an existing table with rows): the
/// payload is in the type, the `up`, the default, the check, or the verify query.
fn server_checked(payload: &str) -> Vec<String> {
    let p = serde_json::to_string(payload).unwrap();
    vec![
        format!(
            r#"{{"operations":[{{"add_column":{{"table":"bookings","up":"room * 2","column":{{"name":"twice","type":{p},"nullable":true}}}}}}]}}"#
        ),
        format!(
            r#"{{"operations":[{{"add_column":{{"table":"bookings","up":{p},"column":{{"name":"twice","type":"integer","nullable":true}}}}}}]}}"#
        ),
        format!(
            r#"{{"operations":[{{"add_column":{{"table":"bookings","column":{{"name":"twice","type":"integer","default":{p}}}}}}}]}}"#
        ),
        format!(
            r#"{{"operations":[{{"add_column":{{"table":"bookings","up":"1","column":{{"name":"twice","type":"integer","check":{{"name":"c","constraint":{p}}}}}}}}}]}}"#
        ),
        format!(
            r#"{{"operations":[{{"alter_column":{{"table":"bookings","column":"room","type":{p},"up":"room","down":"room"}}}}]}}"#
        ),
        format!(
            r#"{{"operations":[{{"alter_column":{{"table":"bookings","column":"room","type":"bigint","up":{p},"down":"room"}}}}]}}"#
        ),
        format!(
            r#"{{"operations":[{{"alter_column":{{"table":"bookings","column":"room","up":"room","down":"room","check":{{"name":"c","constraint":{p}}}}}}}]}}"#
        ),
        format!(
            r#"{{"operations":[{{"add_column":{{"table":"bookings","column":{{"name":"twice","type":"integer","nullable":true}}}}}}],"verify":[{p}]}}"#
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payloads_the_server_checks_are_refused_before_anything_runs_and_start_refuses_them_too() {
    let db = fresh_db().await;
    db.execute(SEED).await;
    let watcher = db.client().await;
    let bystander = db.client().await;
    let pid: i32 = bystander
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    let before = observe(&db, &watcher).await;
    let mut engine = db.engine().await;
    let mut checked = 0;
    for payload in PAYLOADS {
        let payload = payload.replace("{pid}", &pid.to_string());
        for text in server_checked(&payload) {
            let m = Migration::parse("02_hostile", "02_hostile.json", &text, true).unwrap();
            let planned = engine.plan(&m).await;
            if let Err(e) = &planned {
                assert!(
                    e.to_string().contains("02_hostile.json"),
                    "names the file: {e}"
                );
                // start plans first: it must refuse the same file before its first step.
                let started = engine.start(&m).await;
                assert!(started.is_err(), "start ran {text}");
            }
            checked += 1;
            assert_eq!(
                before,
                observe(&db, &watcher).await,
                "{text} changed something"
            );
            bystander
                .query_one("SELECT 1", &[])
                .await
                .unwrap_or_else(|e| panic!("{text} killed a session: {e}"));
        }
    }
    assert_eq!(checked, PAYLOADS.len() * 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defaults_with_side_effects_are_never_evaluated_by_validate_or_plan() {
    let db = fresh_db().await;
    db.execute(SEED).await;
    let watcher = db.client().await;
    let bystander = db.client().await;
    let pid: i32 = bystander
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    db.execute(
        "CREATE TABLE calls (n integer);
         CREATE FUNCTION counted() RETURNS integer VOLATILE LANGUAGE sql AS 'INSERT INTO calls VALUES (1) RETURNING 1';
         CREATE FUNCTION counted_plus(integer, integer) RETURNS integer VOLATILE LANGUAGE sql
           AS 'INSERT INTO calls VALUES (2) RETURNING $1 + $2';
         CREATE OPERATOR ## (LEFTARG = integer, RIGHTARG = integer, FUNCTION = counted_plus);",
    )
    .await;
    let before = observe(&db, &watcher).await;
    let mut engine = db.engine().await;
    for default in [
        "nextval('s')".to_string(),
        format!("pg_terminate_backend({pid})::int"),
        "counted()".to_string(),
        "1 ## 2".to_string(),
        "setval('s', 1)::int".to_string(),
        "lo_import('/etc/hostname')::int".to_string(),
        "length(set_config('search_path', 'victim', false))".to_string(),
    ] {
        let yaml = format!(
            "operations:\n  - add_column:\n      table: victim\n      column: {{name: extra, type: integer, default: {}}}\n",
            serde_json::to_string(&default).unwrap()
        );
        let err = engine
            .plan(&migration("02_default", &yaml))
            .await
            .expect_err("a volatile default is refused");
        assert!(err.to_string().contains("volatile"), "{default}: {err}");
        assert_eq!(before, observe(&db, &watcher).await, "{default} ran");
        bystander.query_one("SELECT 1", &[]).await.unwrap();
    }
    // A stable or immutable default is accepted, still without running anything.
    let yaml = "operations:\n  - add_column:\n      table: victim\n      column: {name: extra, type: timestamptz, default: now()}\n";
    engine.plan(&migration("02_default", yaml)).await.unwrap();
    assert_eq!(before, observe(&db, &watcher).await);
    assert_eq!(db.scalar_i64("SELECT count(*) FROM calls").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_objects_named_like_helpers_survive_a_refused_start_and_a_rollback() {
    let db = fresh_db().await;
    db.execute(
        "CREATE TABLE items (id integer PRIMARY KEY, price integer NOT NULL, _tandem_new_price text);
         INSERT INTO items VALUES (1, 10, 'user data'), (2, 20, 'more user data');
         CREATE TABLE log (n integer);
         CREATE FUNCTION \"_tandem_sync_items\"() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN INSERT INTO log VALUES (1); RETURN NEW; END';
         CREATE TRIGGER _tandem_sync AFTER INSERT ON items FOR EACH ROW EXECUTE FUNCTION \"_tandem_sync_items\"();",
    )
    .await;
    let watcher = db.client().await;
    let before = observe_without_sequence(&db, &watcher).await;
    let mut engine = db.engine().await;
    let change = migration(
        "02_price",
        "operations:\n  - alter_column: {table: items, column: price, type: bigint, up: price, down: price}\n",
    );
    let err = engine
        .plan(&change)
        .await
        .expect_err("helper names collide");
    let text = err.to_string();
    assert!(
        text.contains("column `_tandem_new_price` of table `public.items`"),
        "{text}"
    );
    assert!(err.help().contains("rename that object"), "{}", err.help());
    assert!(engine.start(&change).await.is_err());
    let rolled_back = engine.rollback().await;
    assert!(rolled_back.is_err(), "nothing was started: {rolled_back:?}");
    assert_eq!(before, observe_without_sequence(&db, &watcher).await);
    assert_eq!(
        db.scalar_i64("SELECT count(*) FROM items WHERE _tandem_new_price LIKE '%user data'")
            .await,
        2
    );
    // Once the user's column is out of the way, the user's function of the helper's name is
    // refused the same way. (The dual-write trigger is named `~tandem_sync`, so the user's
    // trigger `_tandem_sync` no longer collides: it stays, and must survive the rollback.)
    db.execute("ALTER TABLE items RENAME COLUMN _tandem_new_price TO note")
        .await;
    let err = engine.plan(&change).await.expect_err("function collides");
    assert!(
        err.to_string()
            .contains("function `public._tandem_sync_items`"),
        "{err}"
    );
    db.execute("ALTER FUNCTION \"_tandem_sync_items\"() RENAME TO user_function")
        .await;
    let before = observe_without_sequence(&db, &watcher).await;
    engine.start(&change).await.unwrap();
    engine.rollback().await.unwrap();
    assert_eq!(before, observe_without_sequence(&db, &watcher).await);
    let user_trigger = db
        .scalar_i64("SELECT count(*) FROM pg_trigger WHERE tgname = '_tandem_sync' AND tgrelid = 'items'::regclass")
        .await;
    assert_eq!(
        user_trigger, 1,
        "the user's trigger named like a helper survived"
    );
}

/// `observe` for databases without the seed's sequence.
async fn observe_without_sequence(db: &Db, c: &Client) -> (Value, String) {
    let rows: String = c
        .query_one(
            "SELECT md5(string_agg(x::text, ',' ORDER BY x::text)) FROM items x",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    (db.snapshot().await, rows)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_refuses_what_start_would_hit() {
    let db = fresh_db().await;
    let columns: Vec<String> = (1..=1599).map(|i| format!("c{i} integer")).collect();
    db.execute(&format!(
        "CREATE TABLE wide ({}); CREATE TABLE items (id integer PRIMARY KEY, a integer, b integer, c integer);
         INSERT INTO items VALUES (1, 1, 1, 1);",
        columns.join(", ")
    ))
    .await;
    let many: Vec<String> = (1..=33).map(|i| format!("c{i}")).collect();
    let cases: Vec<(String, &str)> = vec![
        (
            "operations:\n  - add_column: {table: wide, column: {name: x1, type: int, nullable: true}}\n  - add_column: {table: wide, column: {name: x2, type: int, nullable: true}}\n".into(),
            "at most 1600",
        ),
        (
            format!("operations:\n  - create_index: {{name: too_many, table: wide, columns: [{}]}}\n", many.join(", ")),
            "at most 32",
        ),
        (
            "operations:\n  - add_column: {table: items, column: {name: d, type: int, nullable: true}}\nverify:\n  - SELECT id FROM items WHERE\n".into(),
            "verify entry 1",
        ),
        (
            "operations:\n  - add_column: {table: items, column: {name: d, type: int, nullable: true}}\nverify:\n  - SELECT id FROM items WHERE no_such_function(a) > 0\n".into(),
            "verify entry 1 cannot run",
        ),
        (
            "operations:\n  - add_column: {table: items, column: {name: d, type: int, nullable: true}}\nverify:\n  - WITH gone AS (DELETE FROM items RETURNING id) SELECT id FROM gone\n".into(),
            "verify entry 1",
        ),
        (
            "operations:\n  - add_column: {table: items, column: {name: d, type: int, nullable: true}}\n  - add_column: {table: items, column: {name: d, type: text, nullable: true}}\n".into(),
            "operation 2",
        ),
        (
            "operations:\n  - drop_column: {table: items, column: a, down: '0'}\n  - alter_column: {table: items, column: a, nullable: false, up: 'coalesce(a, 0)'}\n".into(),
            "operation 2",
        ),
        (
            "operations:\n  - rename_column: {table: items, from: a, to: z}\n  - rename_column: {table: items, from: b, to: z}\n".into(),
            "operation 2",
        ),
    ];
    let watcher = db.client().await;
    let before = observe_without_items_sequence(&db, &watcher).await;
    let mut engine = db.engine().await;
    for (yaml, expected) in cases {
        let err = engine
            .plan(&migration("02_bad", &yaml))
            .await
            .expect_err(&yaml);
        let shown = match &err {
            tandem_pg::Error::Plan(p) => format!(
                "{}{}",
                p.operation
                    .as_ref()
                    .map(|(i, _)| format!("operation {} ", i + 1))
                    .unwrap_or_default(),
                p.message
            ),
            other => other.to_string(),
        };
        assert!(shown.contains(expected), "{yaml}: {shown}");
        assert!(engine.start(&migration("02_bad", &yaml)).await.is_err());
        assert_eq!(before, observe_without_items_sequence(&db, &watcher).await);
    }
    // The limits are limits, not off by one: 1600 columns and 32 index columns are fine.
    let yaml = "operations:\n  - add_column: {table: wide, column: {name: x1, type: int, nullable: true}}\n";
    engine.plan(&migration("02_ok", yaml)).await.unwrap();
    let yaml = format!(
        "operations:\n  - create_index: {{name: just_enough, table: wide, columns: [{}]}}\n",
        many[..32].join(", ")
    );
    engine.plan(&migration("02_ok", &yaml)).await.unwrap();
}

async fn observe_without_items_sequence(db: &Db, c: &Client) -> (Value, String) {
    observe_without_sequence(db, c).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_errors_carry_the_servers_reason_and_never_the_password() {
    let db = fresh_db().await;
    let (base, _) = db.url.rsplit_once('/').unwrap();
    let host_part = base.split_once('@').map(|(_, h)| h).unwrap_or(base);
    let cases = [
        (
            format!("{base}/no_such_database"),
            "SQLSTATE 3D000",
            "does not exist",
        ),
        (
            format!("postgres://no_such_user:secret-xyz@{host_part}/{}", db.name),
            "SQLSTATE 28000",
            "no_such_user",
        ),
    ];
    for (url, code, reason) in cases {
        let err = match tandem_pg::Engine::connect(
            &tandem_pg::ConnectOptions {
                url: Some(url.clone()),
            },
            tandem_testkit::settings(),
            std::sync::Arc::new(tandem_pg::Silent),
        )
        .await
        {
            Ok(_) => panic!("{url} connected"),
            Err(e) => e,
        };
        let shown = format!("{err} {}", err.help());
        assert!(!shown.contains("db error"), "{shown}");
        assert!(shown.contains(code) && shown.contains(reason), "{shown}");
        assert!(!shown.contains("secret-xyz"), "{shown}");
    }
}
