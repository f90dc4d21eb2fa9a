//! Application roles that own nothing use every version schema exactly as they may use the
//! tables: the same table and column privileges through both versions while a migration runs,
//! after complete and after rollback. tandem itself works as the owning role (`--role`), on a
//! non-public, mixed-case schema whose USAGE only some roles have.
//!
//! Roles are cluster-wide and the cluster is shared by the tests of this binary, so every role
//! name starts with the test's database name.

use std::sync::Arc;
use std::sync::Mutex;
use tandem_core::quote::ident;
use tandem_pg::{ConnectOptions, Engine, Event, Reporter, Settings, Silent};
use tandem_testkit::{connect, count, fails_with, fresh_db, migration, settings, Db, Ending};
use tokio_postgres::error::SqlState;
use tokio_postgres::Client;

const SCHEMA: &str = "Shop";
const OLD: &str = "Shop_01_baseline";
const NEW: &str = "Shop_02_change";

const BASELINE: &str = r#"
operations:
  - create_table:
      name: users
      columns:
        - {name: id, type: serial, pk: true}
        - {name: name, type: text}
        - {name: email, type: text, nullable: true}
"#;

/// A database with schema `Shop` owned by a NOLOGIN role `<db>_owner`, which tandem acts as.
struct Case {
    db: Db,
}

impl Case {
    async fn new() -> Case {
        let db = fresh_db().await;
        let case = Case { db };
        let owner = case.role("owner");
        case.db
            .execute(&format!(
                "CREATE ROLE {owner} NOLOGIN; GRANT CREATE ON DATABASE {} TO {owner}; \
                 CREATE SCHEMA {} AUTHORIZATION {owner};",
                ident(&case.db.name),
                ident(SCHEMA)
            ))
            .await;
        case
    }

    /// The quoted name of this test's role `suffix`.
    fn role(&self, suffix: &str) -> String {
        ident(&self.role_name(suffix))
    }

    fn role_name(&self, suffix: &str) -> String {
        format!("{}_{suffix}", self.db.name)
    }

    /// LOGIN roles that own nothing.
    async fn login_roles(&self, suffixes: &[&str]) {
        for s in suffixes {
            self.db
                .execute(&format!("CREATE ROLE {} LOGIN", self.role(s)))
                .await;
        }
    }

    async fn engine(&self) -> Engine {
        self.engine_reporting(Arc::new(Silent)).await
    }

    async fn engine_reporting(&self, reporter: Arc<dyn Reporter>) -> Engine {
        let mut engine = Engine::connect(
            &ConnectOptions {
                url: Some(self.db.url.clone()),
            },
            Settings {
                schema: SCHEMA.into(),
                ..settings()
            },
            reporter,
        )
        .await
        .expect("engine connects");
        engine
            .set_role(&self.role_name("owner"))
            .await
            .expect("tandem acts as the owner");
        engine
    }

    async fn apply(&self, name: &str, yaml: &str) {
        let mut e = self.engine().await;
        e.start(&migration(name, yaml)).await.expect("start");
        e.complete().await.expect("complete");
    }

    /// A session of role `suffix` on version schema `version`.
    async fn client(&self, suffix: &str, version: &str) -> Client {
        let url = self.db.url.replacen(
            "postgres://postgres@",
            &format!("postgres://{}@", self.role_name(suffix)),
            1,
        );
        assert_ne!(url, self.db.url, "the test cluster's URL names its user");
        let c = connect(&url).await;
        let who: String = c
            .query_one("SELECT current_user::text", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(who, self.role_name(suffix));
        c.batch_execute(&format!("SET search_path TO {}", ident(version)))
            .await
            .unwrap();
        c
    }
}

/// The warnings an engine reported.
#[derive(Default)]
struct Warnings(Mutex<Vec<String>>);

impl Reporter for Warnings {
    fn event(&self, event: Event) {
        if let Event::Warning(w) = event {
            self.0.lock().unwrap().push(w);
        }
    }
}

async fn denied(c: &Client, sql: &str) {
    fails_with(c, sql, &SqlState::INSUFFICIENT_PRIVILEGE).await;
}

async fn major(c: &Client) -> i32 {
    let n: i32 = c
        .query_one("SELECT current_setting('server_version_num')::int", &[])
        .await
        .unwrap()
        .get(0);
    n / 10000
}

/// What each role may do through version `version`, where the table's columns are `name_col`
/// (the version's name for `name`) and `email`.
async fn check_roles(case: &Case, version: &str, name_col: &str) {
    let n = ident(name_col);
    // SELECT only.
    let reader = case.client("reader", version).await;
    assert!(count(&reader, "SELECT count(*) FROM users").await > 0);
    denied(&reader, &format!("INSERT INTO users ({n}) VALUES ('r')")).await;
    denied(&reader, "UPDATE users SET email = 'r@x'").await;
    denied(&reader, "DELETE FROM users").await;

    // Everything, and the sequence behind the serial key.
    let writer = case.client("writer", version).await;
    writer
        .batch_execute(&format!(
            "INSERT INTO users ({n}, email) VALUES ('w {version}', 'w@x'); \
             UPDATE users SET email = 'w2@x' WHERE {n} = 'w {version}'"
        ))
        .await
        .unwrap();
    assert_eq!(
        count(
            &writer,
            &format!("SELECT count(*) FROM users WHERE {n} = 'w {version}' AND email = 'w2@x'")
        )
        .await,
        1
    );
    writer
        .batch_execute(&format!("DELETE FROM users WHERE {n} = 'w {version}'"))
        .await
        .unwrap();

    // Column-level UPDATE of email and nothing else: only an UPDATE without a WHERE.
    let update_only = case.client("update_only", version).await;
    update_only
        .batch_execute(&format!("UPDATE users SET email = 'all {version}'"))
        .await
        .unwrap_or_else(|e| panic!("column-only update through {version}: {e:?}"));
    denied(&update_only, "UPDATE users SET email = 'x' WHERE id = 1").await;
    denied(&update_only, "SELECT count(*) FROM users").await;
    assert_eq!(
        count(
            &reader,
            &format!("SELECT count(*) FROM users WHERE email <> 'all {version}'")
        )
        .await,
        0
    );

    // Column-level UPDATE of email only (and SELECT on id, to find the row).
    let updater = case.client("col_updater", version).await;
    updater
        .batch_execute(&format!(
            "UPDATE users SET email = 'u {version}' WHERE id = 1"
        ))
        .await
        .unwrap_or_else(|e| panic!("column-level update through {version}: {e:?}"));
    denied(
        &updater,
        &format!("UPDATE users SET {n} = 'x' WHERE id = 1"),
    )
    .await;
    denied(&updater, "SELECT email FROM users").await;
    assert_eq!(
        count(
            &reader,
            &format!("SELECT count(*) FROM users WHERE id = 1 AND email = 'u {version}'")
        )
        .await,
        1,
        "the column-level update went through and is seen by the version"
    );

    // Column-level SELECT on id and name only.
    let col_reader = case.client("col_reader", version).await;
    assert_eq!(
        count(
            &col_reader,
            &format!("SELECT count({n}) FROM users WHERE id = 1")
        )
        .await,
        1
    );
    denied(&col_reader, "SELECT email FROM users").await;
    denied(&col_reader, "SELECT * FROM users").await;

    // A LOGIN role with no USAGE on the table's schema has none on the version schema either:
    // the name does not resolve, and the qualified name is refused.
    let outsider = case.client("outsider", version).await;
    fails_with(
        &outsider,
        "SELECT count(*) FROM users",
        &SqlState::UNDEFINED_TABLE,
    )
    .await;
    denied(
        &outsider,
        &format!("SELECT count(*) FROM {}.users", ident(version)),
    )
    .await;
}

/// Table and column grants, a rename and a type change (which adds a replacement column), with
/// every kind of role going through both versions, then through the survivor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn table_and_column_grants_hold_through_both_versions_complete_and_rollback() {
    for ending in [Ending::Complete, Ending::Rollback] {
        let case = Case::new().await;
        case.apply("01_baseline", BASELINE).await;
        case.login_roles(&[
            "reader",
            "writer",
            "col_updater",
            "update_only",
            "col_reader",
            "outsider",
        ])
        .await;
        let r = |s| case.role(s);
        case.db
            .execute(&format!(
                "INSERT INTO \"Shop\".users (name, email) SELECT 'seed ' || g, 's' || g || '@x' FROM generate_series(1, 20) g;
                 GRANT USAGE ON SCHEMA \"Shop\" TO {reader}, {writer}, {upd}, {colr}, {only};
                 GRANT UPDATE (email) ON \"Shop\".users TO {only};
                 GRANT SELECT ON \"Shop\".users TO {reader};
                 GRANT SELECT, INSERT, UPDATE, DELETE ON \"Shop\".users TO {writer};
                 GRANT USAGE ON ALL SEQUENCES IN SCHEMA \"Shop\" TO {writer};
                 GRANT UPDATE (email), SELECT (id) ON \"Shop\".users TO {upd};
                 GRANT SELECT (id, name) ON \"Shop\".users TO {colr};",
                reader = r("reader"),
                writer = r("writer"),
                upd = r("col_updater"),
                colr = r("col_reader"),
                only = r("update_only"),
            ))
            .await;
        let mut engine = case.engine().await;
        engine
            .start(&migration(
                "02_change",
                "operations:\n  - rename_column: {table: users, from: name, to: full_name}\n  - alter_column:\n      table: users\n      column: email\n      type: varchar(200)\n      up: CAST(email AS varchar(200))\n      down: email\n",
            ))
            .await
            .unwrap_or_else(|e| panic!("start: {e} ({})", e.help()));
        // The grants were made after the baseline's version schema was created: start copied
        // them onto it.
        check_roles(&case, OLD, "name").await;
        check_roles(&case, NEW, "full_name").await;
        // Each version sees the other's column-level write.
        let old = case.client("col_updater", OLD).await;
        old.batch_execute("UPDATE users SET email = 'from old' WHERE id = 2")
            .await
            .unwrap();
        let new_reader = case.client("reader", NEW).await;
        assert_eq!(
            count(
                &new_reader,
                "SELECT count(*) FROM users WHERE id = 2 AND email = 'from old'"
            )
            .await,
            1
        );

        match ending {
            Ending::Complete => {
                engine.complete().await.expect("complete");
                check_roles(&case, NEW, "full_name").await;
                // The replacement column kept the column grant when it took the old one's place.
                let acl: String = case
                    .db
                    .client()
                    .await
                    .query_one(
                        "SELECT attacl::text FROM pg_attribute WHERE attrelid = '\"Shop\".users'::regclass AND attname = 'email'",
                        &[],
                    )
                    .await
                    .unwrap()
                    .get(0);
                assert!(
                    acl.contains(&format!("{}=w", case.role_name("col_updater"))),
                    "{acl}"
                );
            }
            Ending::Rollback => {
                engine.rollback().await.expect("rollback");
                check_roles(&case, OLD, "name").await;
                assert_eq!(
                    case.db
                        .scalar_i64(
                            "SELECT count(*) FROM pg_namespace WHERE nspname = 'Shop_02_change'"
                        )
                        .await,
                    0
                );
            }
        }
    }
}

/// `ALTER DEFAULT PRIVILEGES` set before a create_table migration: the new table gets them (it
/// belongs to the owner tandem acts as), and so does its view in the new version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_privileges_reach_a_created_table_through_its_version() {
    for ending in [Ending::Complete, Ending::Rollback] {
        let case = Case::new().await;
        case.apply("01_baseline", BASELINE).await;
        case.login_roles(&["app"]).await;
        let (owner, app) = (case.role("owner"), case.role("app"));
        case.db
            .execute(&format!(
                "GRANT USAGE ON SCHEMA \"Shop\" TO {app};
                 ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA \"Shop\" GRANT SELECT, INSERT ON TABLES TO {app};
                 ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA \"Shop\" GRANT USAGE ON SEQUENCES TO {app};"
            ))
            .await;
        let mut engine = case.engine().await;
        engine
            .start(&migration(
                "02_change",
                "operations:\n  - create_table:\n      name: orders\n      columns:\n        - {name: id, type: serial, pk: true}\n        - {name: note, type: text}\n",
            ))
            .await
            .expect("start");
        let owner_of: String = case
            .db
            .client()
            .await
            .query_one("SELECT pg_get_userbyid(relowner)::text FROM pg_class WHERE oid = '\"Shop\".orders'::regclass", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(
            owner_of,
            case.role_name("owner"),
            "--role: tandem's table belongs to the role"
        );
        let c = case.client("app", NEW).await;
        c.batch_execute("INSERT INTO orders (note) VALUES ('first')")
            .await
            .unwrap();
        assert_eq!(count(&c, "SELECT count(*) FROM orders").await, 1);
        denied(&c, "DELETE FROM orders").await;
        denied(&c, "SELECT count(*) FROM users").await;
        // The old version has no orders, and app has no rights on users.
        denied(&case.client("app", OLD).await, "SELECT count(*) FROM users").await;
        match ending {
            Ending::Complete => {
                engine.complete().await.expect("complete");
                let c = case.client("app", NEW).await;
                c.batch_execute("INSERT INTO orders (note) VALUES ('second')")
                    .await
                    .unwrap();
                assert_eq!(count(&c, "SELECT count(*) FROM orders").await, 2);
                denied(&c, "UPDATE orders SET note = 'x'").await;
            }
            Ending::Rollback => {
                engine.rollback().await.expect("rollback");
                assert_eq!(
                    case.db
                        .scalar_i64("SELECT count(*) FROM pg_class WHERE relname = 'orders'")
                        .await,
                    0
                );
            }
        }
    }
}

/// `GRANT ... ON ALL TABLES IN SCHEMA` (and a REVOKE) on the table's schema after start: on
/// PostgreSQL 15+ they take effect through both versions at once; on 14 the new version's views
/// take them at complete. Either way a role granted while the migration ran works after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grant_on_all_tables_after_start() {
    for ending in [Ending::Complete, Ending::Rollback] {
        let case = Case::new().await;
        case.apply("01_baseline", BASELINE).await;
        case.login_roles(&["late", "revoked"]).await;
        let (late, revoked) = (case.role("late"), case.role("revoked"));
        case.db
            .execute(&format!(
                "INSERT INTO \"Shop\".users (name) VALUES ('a'), ('b');
                 GRANT USAGE ON SCHEMA \"Shop\" TO {late}, {revoked};
                 GRANT SELECT ON ALL TABLES IN SCHEMA \"Shop\" TO {revoked};"
            ))
            .await;
        let mut engine = case.engine().await;
        engine
            .start(&migration(
                "02_change",
                "operations:\n  - add_column:\n      table: users\n      column: {name: age, type: integer, nullable: true}\n",
            ))
            .await
            .expect("start");
        assert_eq!(
            count(
                &case.client("revoked", NEW).await,
                "SELECT count(age) + count(*) FROM users"
            )
            .await,
            2
        );
        case.db
            .execute(&format!(
                "GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA \"Shop\" TO {late};
                 GRANT USAGE ON ALL SEQUENCES IN SCHEMA \"Shop\" TO {late};
                 REVOKE ALL ON ALL TABLES IN SCHEMA \"Shop\" FROM {revoked};"
            ))
            .await;
        let pg = major(&case.db.client().await).await;
        if pg >= 15 {
            for version in [OLD, NEW] {
                let c = case.client("late", version).await;
                c.batch_execute("INSERT INTO users (name) VALUES ('late')")
                    .await
                    .unwrap();
                assert!(count(&c, "SELECT count(*) FROM users").await >= 3);
                denied(
                    &case.client("revoked", version).await,
                    "SELECT count(*) FROM users",
                )
                .await;
            }
        } else {
            // PostgreSQL 14: the views still carry the copy made when they were created.
            denied(
                &case.client("late", NEW).await,
                "SELECT count(*) FROM users",
            )
            .await;
            assert_eq!(
                count(
                    &case.client("revoked", NEW).await,
                    "SELECT count(*) FROM users"
                )
                .await,
                2
            );
        }
        match ending {
            Ending::Complete => {
                engine.complete().await.expect("complete");
                let c = case.client("late", NEW).await;
                c.batch_execute("INSERT INTO users (name, age) VALUES ('after', 3)")
                    .await
                    .unwrap();
                assert_eq!(
                    count(&c, "SELECT count(*) FROM users WHERE age = 3").await,
                    1
                );
                denied(
                    &case.client("revoked", NEW).await,
                    "SELECT count(*) FROM users",
                )
                .await;
            }
            Ending::Rollback => {
                engine.rollback().await.expect("rollback");
                // The next start refreshes the old version's copies on 14; on 15+ they are live.
                let mut next = case.engine().await;
                next.start(&migration(
                    "03_next",
                    "operations:\n  - add_column:\n      table: users\n      column: {name: nick, type: text, nullable: true}\n",
                ))
                .await
                .expect("start 03");
                let c = case.client("late", OLD).await;
                c.batch_execute("INSERT INTO users (name) VALUES ('late old')")
                    .await
                    .unwrap();
                assert!(count(&c, "SELECT count(*) FROM users").await >= 3);
                denied(
                    &case.client("revoked", OLD).await,
                    "SELECT count(*) FROM users",
                )
                .await;
                next.rollback().await.expect("rollback 03");
            }
        }
    }
}

/// `--role` names a role the connecting user must be a member of; anything else is refused
/// with what to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_that_cannot_be_taken_is_refused_clearly() {
    let case = Case::new().await;
    case.login_roles(&["stranger"]).await;
    let stranger_url = case.db.url.replacen(
        "postgres://postgres@",
        &format!("postgres://{}@", case.role_name("stranger")),
        1,
    );
    let mut engine = Engine::connect(
        &ConnectOptions {
            url: Some(stranger_url),
        },
        settings(),
        Arc::new(Silent),
    )
    .await
    .expect("connect");
    let err = engine.set_role(&case.role_name("owner")).await.unwrap_err();
    assert_eq!(err.sqlstate(), Some("42501"), "{err}");
    assert!(err.help().contains("member"), "{}", err.help());
    let err = case
        .engine()
        .await
        .set_role("no such role")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no such role"), "{err}");
}

/// Row security: on PostgreSQL 15+ the views check as the querying role, so each role sees the
/// rows its policies allow through every version (the view stays `security_invoker` even with
/// column grants on the table). PostgreSQL 14 has no such views: its views read as their owner,
/// which the policies of an owner-bypassed table do not restrict (documented).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_security_through_the_versions() {
    for ending in [Ending::Complete, Ending::Rollback] {
        let case = Case::new().await;
        case.apply(
            "01_baseline",
            "operations:\n  - create_table:\n      name: notes\n      columns:\n        - {name: id, type: serial, pk: true}\n        - {name: author, type: text}\n        - {name: body, type: text}\n",
        )
        .await;
        case.login_roles(&["alice", "bob"]).await;
        let (alice, bob) = (case.role("alice"), case.role("bob"));
        let (alice_name, bob_name) = (case.role_name("alice"), case.role_name("bob"));
        case.db
            .execute(&format!(
                "INSERT INTO \"Shop\".notes (author, body) VALUES ('{alice_name}', 'a1'), ('{alice_name}', 'a2'), ('{bob_name}', 'b1');
                 ALTER TABLE \"Shop\".notes ENABLE ROW LEVEL SECURITY;
                 CREATE POLICY own ON \"Shop\".notes USING (author = current_user);
                 GRANT USAGE ON SCHEMA \"Shop\" TO {alice}, {bob};
                 GRANT SELECT, UPDATE (body) ON \"Shop\".notes TO {alice}, {bob};"
            ))
            .await;
        let warnings = Arc::new(Warnings::default());
        let mut engine = case.engine_reporting(warnings.clone()).await;
        engine
            .start(&migration(
                "02_change",
                "operations:\n  - rename_column: {table: notes, from: author, to: owner}\n  - alter_column:\n      table: notes\n      column: body\n      type: varchar(100)\n      up: CAST(body AS varchar(100))\n      down: body\n",
            ))
            .await
            .expect("start");
        let pg = major(&case.db.client().await).await;
        let warned = warnings
            .0
            .lock()
            .unwrap()
            .iter()
            .any(|w| w.contains("row-level security is on for notes"));
        assert_eq!(warned, pg < 15, "PostgreSQL 14 warns about row security");
        let expected = |own: i64| if pg >= 15 { own } else { 3 };
        // The new version's `body` is a replacement column written through a view that checks
        // as the querying role on 15+: it took bob's column grant.
        for (version, author) in [(OLD, "author"), (NEW, "owner")] {
            let a = case.client("alice", version).await;
            assert_eq!(
                count(&a, "SELECT count(*) FROM notes").await,
                expected(2),
                "{version}"
            );
            let b = case.client("bob", version).await;
            assert_eq!(
                count(&b, "SELECT count(*) FROM notes").await,
                expected(1),
                "{version}"
            );
            b.batch_execute(&format!(
                "UPDATE notes SET body = 'edited {version}' WHERE id = 3"
            ))
            .await
            .unwrap_or_else(|e| panic!("bob updates through {version}: {e:?}"));
            assert_eq!(
                count(&b, &format!("SELECT count(*) FROM notes WHERE body = 'edited {version}' AND {} LIKE '%bob'", ident(author))).await,
                1
            );
            denied(
                &b,
                &format!("UPDATE notes SET {} = 'x' WHERE id = 3", ident(author)),
            )
            .await;
        }
        match ending {
            Ending::Complete => engine.complete().await.expect("complete"),
            Ending::Rollback => engine.rollback().await.expect("rollback"),
        };
        let survivor = if ending == Ending::Complete { NEW } else { OLD };
        let a = case.client("alice", survivor).await;
        assert_eq!(count(&a, "SELECT count(*) FROM notes").await, expected(2));
        // Both versions' writes reached the survivor, the new one's last.
        let b = case.client("bob", survivor).await;
        assert_eq!(
            count(
                &b,
                &format!("SELECT count(*) FROM notes WHERE id = 3 AND body = 'edited {NEW}'")
            )
            .await,
            1
        );
        b.batch_execute("UPDATE notes SET body = 'after' WHERE id = 3")
            .await
            .unwrap();
    }
}
