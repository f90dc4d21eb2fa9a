//! Every operation of the engine, with an old and a new client writing through their version
//! schemas between start and the ending, run once to complete and once to rollback.

use tandem_testkit::{count, fails_with, two_versions, Ending, Versions};
use tokio_postgres::error::SqlState;

const BASELINE: &str = r#"
operations:
  - create_table:
      name: teams
      columns:
        - {name: id, type: serial, pk: true}
        - {name: title, type: text}
  - create_table:
      name: users
      columns:
        - {name: id, type: serial, pk: true}
        - {name: name, type: text}
        - {name: email, type: text, nullable: true}
"#;

const SEED: &str = "INSERT INTO public.teams (title) VALUES ('red'), ('blue');
INSERT INTO public.users (name, email) SELECT 'seed ' || g, 'seed' || g || '@x' FROM generate_series(1, 50) g;";

async fn column_names(v: &Versions, table: &str) -> Vec<String> {
    v.db.client()
        .await
        .query(
            "SELECT column_name::text FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
            &[&table],
        )
        .await
        .expect("columns")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rename_column() {
    let migration = "operations:\n  - rename_column: {table: users, from: name, to: full_name}\n";
    two_versions(
        BASELINE,
        SEED,
        migration,
        |v| async move {
            v.old.batch_execute("INSERT INTO users (name, email) VALUES ('from old', 'o@x')").await.unwrap();
            v.new.batch_execute("INSERT INTO users (full_name, email) VALUES ('from new', 'n@x')").await.unwrap();
            assert_eq!(count(&v.new, "SELECT count(*) FROM users WHERE full_name = 'from old'").await, 1);
            assert_eq!(count(&v.old, "SELECT count(*) FROM users WHERE name = 'from new'").await, 1);
            v.old.batch_execute("UPDATE users SET name = 'edited by old' WHERE name = 'from new'").await.unwrap();
            assert_eq!(count(&v.new, "SELECT count(*) FROM users WHERE full_name = 'edited by old'").await, 1);
            v.new.batch_execute("UPDATE users SET full_name = 'edited by new' WHERE full_name = 'from old'").await.unwrap();
            assert_eq!(count(&v.old, "SELECT count(*) FROM users WHERE name = 'edited by new'").await, 1);
            fails_with(&v.new, "SELECT name FROM users", &SqlState::UNDEFINED_COLUMN).await;
            fails_with(&v.old, "SELECT full_name FROM users", &SqlState::UNDEFINED_COLUMN).await;
        },
        |v, ending| async move {
            match ending {
                Ending::Complete => {
                    assert_eq!(column_names(&v, "users").await, ["id", "full_name", "email"]);
                    // The new version's views survive the physical rename.
                    assert_eq!(count(&v.new, "SELECT count(*) FROM users WHERE full_name = 'edited by old'").await, 1);
                    v.new.batch_execute("INSERT INTO users (full_name) VALUES ('after complete')").await.unwrap();
                }
                Ending::Rollback => {
                    assert_eq!(column_names(&v, "users").await, ["id", "name", "email"]);
                    assert_eq!(count(&v.old, "SELECT count(*) FROM users WHERE name IN ('edited by old', 'edited by new')").await, 2);
                }
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_column_with_default() {
    let migration = r#"
operations:
  - add_column:
      table: users
      column: {name: active, type: boolean, default: "true"}
  - add_column:
      table: users
      column: {name: nickname, type: text, nullable: true, comment: what friends say}
"#;
    two_versions(
        BASELINE,
        SEED,
        migration,
        |v| async move {
            v.old.batch_execute("INSERT INTO users (name) VALUES ('old row')").await.unwrap();
            v.new.batch_execute("INSERT INTO users (name, active, nickname) VALUES ('new row', false, 'nn')").await.unwrap();
            assert_eq!(count(&v.new, "SELECT count(*) FROM users WHERE name = 'old row' AND active AND nickname IS NULL").await, 1);
            assert_eq!(count(&v.new, "SELECT count(*) FROM users WHERE active").await, 51, "existing rows get the default");
            assert_eq!(count(&v.old, "SELECT count(*) FROM users WHERE name = 'new row'").await, 1);
            fails_with(&v.old, "SELECT active FROM users", &SqlState::UNDEFINED_COLUMN).await;
        },
        |v, ending| async move {
            let cols = column_names(&v, "users").await;
            match ending {
                Ending::Complete => {
                    assert_eq!(cols, ["id", "name", "email", "active", "nickname"]);
                    let comment: Option<String> = v.db.client().await
                        .query_one("SELECT col_description('public.users'::regclass, 5)", &[]).await.unwrap().get(0);
                    assert_eq!(comment.as_deref(), Some("what friends say"));
                }
                Ending::Rollback => assert_eq!(cols, ["id", "name", "email"]),
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_column_with_constraints() {
    let migration = r#"
operations:
  - add_column:
      table: users
      column:
        name: team_id
        type: integer
        nullable: true
        references: {name: users_team_fk, table: teams, column: id, on_delete: SET NULL}
  - add_column:
      table: users
      column:
        name: age
        type: integer
        default: "18"
        check: {name: users_age_adult, constraint: age >= 18}
  - add_column:
      table: users
      column: {name: handle, type: text, nullable: true, unique: true}
"#;
    two_versions(
        BASELINE,
        SEED,
        migration,
        |v| async move {
            v.old.batch_execute("INSERT INTO users (name) VALUES ('old row')").await.unwrap();
            v.new.batch_execute("INSERT INTO users (name, team_id, age, handle) VALUES ('new row', 1, 30, 'nr')").await.unwrap();
            assert_eq!(count(&v.new, "SELECT count(*) FROM users WHERE name = 'old row' AND age = 18 AND team_id IS NULL").await, 1);
            // The constraints hold for new writes from the moment start finishes.
            fails_with(&v.new, "INSERT INTO users (name, age) VALUES ('kid', 12)", &SqlState::CHECK_VIOLATION).await;
            fails_with(&v.new, "INSERT INTO users (name, team_id) VALUES ('lost', 999)", &SqlState::FOREIGN_KEY_VIOLATION).await;
            fails_with(&v.new, "INSERT INTO users (name, handle) VALUES ('dup', 'nr')", &SqlState::UNIQUE_VIOLATION).await;
            assert_eq!(count(&v.old, "SELECT count(*) FROM users WHERE name = 'new row'").await, 1);
        },
        |v, ending| async move {
            let c = v.db.client().await;
            let constraints: Vec<(String, bool)> = c
                .query("SELECT conname::text, convalidated FROM pg_constraint WHERE conrelid = 'public.users'::regclass AND contype NOT IN ('p', 'n') ORDER BY 1", &[])
                .await
                .unwrap()
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
            match ending {
                Ending::Complete => assert_eq!(
                    constraints,
                    [("users_age_adult".to_string(), true), ("users_handle_key".to_string(), true), ("users_team_fk".to_string(), true)],
                    "constraints validated and the unique index attached at complete"
                ),
                Ending::Rollback => assert!(constraints.is_empty(), "{constraints:?}"),
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_column() {
    let migration = "operations:\n  - drop_column: {table: users, column: email}\n";
    two_versions(
        BASELINE,
        SEED,
        migration,
        |v| async move {
            fails_with(
                &v.new,
                "SELECT email FROM users",
                &SqlState::UNDEFINED_COLUMN,
            )
            .await;
            v.old
                .batch_execute("INSERT INTO users (name, email) VALUES ('old row', 'kept@x')")
                .await
                .unwrap();
            v.new
                .batch_execute("INSERT INTO users (name) VALUES ('new row')")
                .await
                .unwrap();
            assert_eq!(
                count(
                    &v.old,
                    "SELECT count(*) FROM users WHERE name = 'new row' AND email IS NULL"
                )
                .await,
                1
            );
            assert_eq!(
                count(&v.new, "SELECT count(*) FROM users WHERE name = 'old row'").await,
                1
            );
        },
        |v, ending| async move {
            match ending {
                Ending::Complete => assert_eq!(column_names(&v, "users").await, ["id", "name"]),
                Ending::Rollback => {
                    assert_eq!(
                        count(&v.old, "SELECT count(*) FROM users WHERE email = 'kept@x'").await,
                        1
                    );
                }
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rename_table() {
    let migration = "operations:\n  - rename_table: {from: teams, to: squads}\n";
    two_versions(
        BASELINE,
        SEED,
        migration,
        |v| async move {
            v.old
                .batch_execute("INSERT INTO teams (title) VALUES ('old team')")
                .await
                .unwrap();
            v.new
                .batch_execute("INSERT INTO squads (title) VALUES ('new squad')")
                .await
                .unwrap();
            assert_eq!(
                count(
                    &v.new,
                    "SELECT count(*) FROM squads WHERE title = 'old team'"
                )
                .await,
                1
            );
            assert_eq!(
                count(
                    &v.old,
                    "SELECT count(*) FROM teams WHERE title = 'new squad'"
                )
                .await,
                1
            );
            fails_with(&v.new, "SELECT 1 FROM teams", &SqlState::UNDEFINED_TABLE).await;
        },
        |v, ending| async move {
            let c = v.db.client().await;
            let exists = |t: &'static str| {
                let c = &c;
                async move {
                    c.query_one("SELECT to_regclass($1) IS NOT NULL", &[&t])
                        .await
                        .unwrap()
                        .get::<_, bool>(0)
                }
            };
            match ending {
                Ending::Complete => {
                    assert!(exists("public.squads").await && !exists("public.teams").await);
                    assert_eq!(count(&v.new, "SELECT count(*) FROM squads").await, 4);
                }
                Ending::Rollback => {
                    assert!(exists("public.teams").await && !exists("public.squads").await)
                }
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_table() {
    let migration = "operations:\n  - drop_table: {name: teams}\n";
    two_versions(
        BASELINE,
        SEED,
        migration,
        |v| async move {
            fails_with(&v.new, "SELECT 1 FROM teams", &SqlState::UNDEFINED_TABLE).await;
            v.old
                .batch_execute("INSERT INTO teams (title) VALUES ('still used by old')")
                .await
                .unwrap();
            v.new
                .batch_execute("INSERT INTO users (name) VALUES ('new row')")
                .await
                .unwrap();
            assert_eq!(
                count(&v.old, "SELECT count(*) FROM users WHERE name = 'new row'").await,
                1
            );
        },
        |v, ending| async move {
            let gone: bool =
                v.db.client()
                    .await
                    .query_one("SELECT to_regclass('public.teams') IS NULL", &[])
                    .await
                    .unwrap()
                    .get(0);
            assert_eq!(gone, ending == Ending::Complete);
            if ending == Ending::Rollback {
                assert_eq!(
                    count(
                        &v.old,
                        "SELECT count(*) FROM teams WHERE title = 'still used by old'"
                    )
                    .await,
                    1
                );
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_table() {
    let migration = r#"
operations:
  - create_table:
      name: projects
      comment: work items
      columns:
        - {name: id, type: bigint, pk: true, generated: {identity: {user_specified_values: BY DEFAULT}}}
        - {name: owner_id, type: integer, references: {name: projects_owner_fk, table: users, column: id, on_delete: CASCADE}}
        - {name: title, type: varchar(100), unique: true, check: {name: title_not_empty, constraint: "length(title) > 0"}}
        - {name: budget, type: "numeric(10,2)", default: 0}
      constraints:
        - {name: budget_positive, type: check, check: budget >= 0}
"#;
    two_versions(
        BASELINE,
        SEED,
        migration,
        |v| async move {
            v.new
                .batch_execute("INSERT INTO projects (owner_id, title) VALUES (1, 'p1')")
                .await
                .unwrap();
            fails_with(
                &v.new,
                "INSERT INTO projects (owner_id, title) VALUES (1, '')",
                &SqlState::CHECK_VIOLATION,
            )
            .await;
            fails_with(
                &v.new,
                "INSERT INTO projects (owner_id, title, budget) VALUES (1, 'p2', -1)",
                &SqlState::CHECK_VIOLATION,
            )
            .await;
            fails_with(&v.old, "SELECT 1 FROM projects", &SqlState::UNDEFINED_TABLE).await;
            v.old
                .batch_execute("INSERT INTO users (name) VALUES ('old row')")
                .await
                .unwrap();
            assert_eq!(
                count(&v.new, "SELECT count(*) FROM users WHERE name = 'old row'").await,
                1
            );
        },
        |v, ending| async move {
            let exists: bool =
                v.db.client()
                    .await
                    .query_one("SELECT to_regclass('public.projects') IS NOT NULL", &[])
                    .await
                    .unwrap()
                    .get(0);
            assert_eq!(exists, ending == Ending::Complete);
            if ending == Ending::Complete {
                assert_eq!(
                    count(&v.new, "SELECT count(*) FROM projects WHERE budget = 0").await,
                    1
                );
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_sql_with_down() {
    let migration = r#"
operations:
  - sql:
      up: CREATE TABLE public.tags (id serial PRIMARY KEY, label text NOT NULL); CREATE INDEX tags_label ON public.tags (label)
      down: DROP TABLE public.tags
"#;
    two_versions(
        BASELINE,
        SEED,
        migration,
        |v| async move {
            // The raw SQL's table appears in the new version, generated from the catalog.
            v.new
                .batch_execute("INSERT INTO tags (label) VALUES ('t')")
                .await
                .unwrap();
            fails_with(&v.old, "SELECT 1 FROM tags", &SqlState::UNDEFINED_TABLE).await;
        },
        |v, ending| async move {
            let exists: bool =
                v.db.client()
                    .await
                    .query_one("SELECT to_regclass('public.tags') IS NOT NULL", &[])
                    .await
                    .unwrap()
                    .get(0);
            assert_eq!(exists, ending == Ending::Complete);
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_operations_compose() {
    let migration = r#"
operations:
  - rename_table: {from: users, to: members}
  - rename_column: {table: members, from: name, to: display_name}
  - add_column:
      table: members
      column: {name: score, type: integer, default: "0"}
  - drop_column: {table: members, column: email}
  - sql:
      up: COMMENT ON TABLE public.teams IS 'set at complete'
      onComplete: true
"#;
    two_versions(
        BASELINE,
        SEED,
        migration,
        |v| async move {
            v.new
                .batch_execute("INSERT INTO members (display_name, score) VALUES ('new member', 5)")
                .await
                .unwrap();
            v.old
                .batch_execute("INSERT INTO users (name, email) VALUES ('old user', 'o@x')")
                .await
                .unwrap();
            assert_eq!(
                count(
                    &v.new,
                    "SELECT count(*) FROM members WHERE display_name = 'old user' AND score = 0"
                )
                .await,
                1
            );
            assert_eq!(
                count(
                    &v.old,
                    "SELECT count(*) FROM users WHERE name = 'new member' AND email IS NULL"
                )
                .await,
                1
            );
        },
        |v, ending| async move {
            match ending {
                Ending::Complete => {
                    assert_eq!(
                        column_names(&v, "members").await,
                        ["id", "display_name", "score"]
                    );
                    let comment: Option<String> =
                        v.db.client()
                            .await
                            .query_one("SELECT obj_description('public.teams'::regclass)", &[])
                            .await
                            .unwrap()
                            .get(0);
                    assert_eq!(comment.as_deref(), Some("set at complete"));
                    assert_eq!(count(&v.new, "SELECT count(*) FROM members").await, 52);
                }
                Ending::Rollback => {
                    assert_eq!(column_names(&v, "users").await, ["id", "name", "email"])
                }
            }
        },
    )
    .await;
}
