//! Changing what existing rows hold while both versions write: alter_column, add_column with
//! `up`, drop_column with `down`. Old-version writers run during start (so during the
//! backfill); both versions write between start and the ending; each case runs to complete
//! and to rollback.

use tandem_testkit::{count, fails_with, two_versions_concurrent, Ending, Versions};
use tokio_postgres::error::SqlState;

const BASELINE: &str = r#"
operations:
  - create_table:
      name: teams
      columns:
        - {name: id, type: serial, pk: true}
        - {name: name, type: text}
  - create_table:
      name: items
      columns:
        - {name: id, type: serial, pk: true}
        - {name: price, type: text, nullable: true}
        - {name: name, type: text, nullable: true}
        - {name: team_id, type: integer, nullable: true}
        - {name: code, type: text, nullable: true}
"#;

const SEED: &str =
    "INSERT INTO public.teams (name) SELECT 'team ' || g FROM generate_series(1, 10) g;
INSERT INTO public.items (price, name, team_id, code)
SELECT (g % 100)::text || '.5',
       CASE WHEN g % 10 = 0 THEN NULL WHEN g % 10 = 1 THEN 'ab' ELSE 'item ' || g END,
       CASE WHEN g % 7 = 0 THEN 999 ELSE g % 10 + 1 END,
       'c' || g
FROM generate_series(1, 5000) g;";

async fn text(c: &tokio_postgres::Client, sql: &str) -> String {
    c.query_one(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
        .get(0)
}

/// The columns of public.items with their types and nullability, e.g. `price numeric not null`.
async fn items_columns(v: &Versions) -> Vec<String> {
    v.db.client()
        .await
        .query(
            "SELECT attname || ' ' || format_type(atttypid, atttypmod) || CASE WHEN attnotnull THEN ' not null' ELSE '' END \
             FROM pg_attribute WHERE attrelid = 'public.items'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

async fn constraints(v: &Versions) -> Vec<String> {
    v.db.client()
        .await
        .query(
            "SELECT conname || ' ' || contype::text || CASE WHEN convalidated THEN '' ELSE ' not valid' END FROM pg_constraint \
             WHERE conrelid = 'public.items'::regclass ORDER BY conname",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

fn old_price_writes(i: u64) -> String {
    format!("INSERT INTO items (price, name, code) VALUES ('{i}.25', 'old {i}', 'o{i}'); UPDATE items SET price = '7.5' WHERE id = {}", i % 5000 + 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn type_change_text_to_numeric() {
    two_versions_concurrent(
        BASELINE,
        SEED,
        "operations:\n  - alter_column:\n      table: items\n      column: price\n      type: numeric\n      up: CAST(price AS numeric)\n      down: CAST(price AS text)\n",
        old_price_writes,
        |i| format!("INSERT INTO items (price, name, code) VALUES ({i}.75, 'new {i}', 'n{i}'); UPDATE items SET price = price + 1 WHERE id = {}", (i * 7) % 5000 + 1),
        |v| async move {
            let mismatches = count(
                &v.new,
                "SELECT count(*) FROM public_01_baseline.items o JOIN public_02_change.items n USING (id) WHERE n.price IS DISTINCT FROM o.price::numeric",
            )
            .await;
            assert_eq!(mismatches, 0, "every row has the same price in both versions");
            assert_eq!(text(&v.new, "SELECT pg_typeof(price)::text FROM items LIMIT 1").await, "numeric");
            assert!(count(&v.old, "SELECT count(*) FROM items WHERE name LIKE 'new %' AND price LIKE '%.75'").await > 0);
            assert!(count(&v.new, "SELECT count(*) FROM items WHERE name LIKE 'old %' AND price % 1 = 0.25").await > 0);
        },
        |v, ending| async move {
            let cols = items_columns(&v).await;
            match ending {
                Ending::Complete => {
                    // The altered column is a new physical column: it comes last.
                    assert_eq!(cols, ["id integer not null", "name text", "team_id integer", "code text", "price numeric"]);
                    assert_eq!(count(&v.new, "SELECT count(*) FROM items WHERE price IS NULL").await, 0);
                }
                Ending::Rollback => {
                    assert_eq!(cols, ["id integer not null", "price text", "name text", "team_id integer", "code text"]);
                    assert!(count(&v.old, "SELECT count(*) FROM items WHERE name LIKE 'new %' AND price LIKE '%.75'").await > 0, "rows written by the new version are kept");
                }
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn not_null_with_up_for_nulls() {
    two_versions_concurrent(
        BASELINE,
        SEED,
        "operations:\n  - alter_column:\n      table: items\n      column: name\n      nullable: false\n      up: SELECT CASE WHEN name IS NULL THEN 'unnamed' ELSE name END\n      down: name\n",
        |i| format!("INSERT INTO items (name) VALUES (NULL); UPDATE items SET name = NULL WHERE id = {}", i % 5000 + 1),
        |i| format!("INSERT INTO items (name) VALUES ('new {i}')"),
        |v| async move {
            assert_eq!(count(&v.new, "SELECT count(*) FROM items WHERE name IS NULL").await, 0);
            assert!(count(&v.old, "SELECT count(*) FROM items WHERE name IS NULL").await > 0, "the old version still has its NULLs");
            assert_eq!(
                count(&v.new, "SELECT count(*) FROM public_01_baseline.items o JOIN items n USING (id) WHERE o.name IS NULL AND n.name <> 'unnamed'").await,
                0
            );
            fails_with(&v.new, "INSERT INTO items (name) VALUES (NULL)", &SqlState::CHECK_VIOLATION).await;
        },
        |v, ending| async move {
            let cols = items_columns(&v).await;
            match ending {
                Ending::Complete => assert!(cols.contains(&"name text not null".to_string()), "{cols:?}"),
                Ending::Rollback => {
                    assert!(cols.contains(&"name text".to_string()), "{cols:?}");
                    assert!(count(&v.old, "SELECT count(*) FROM items WHERE name IS NULL").await > 0);
                }
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unique() {
    two_versions_concurrent(
        BASELINE,
        SEED,
        "operations:\n  - alter_column:\n      table: items\n      column: code\n      unique: {name: items_code_unique}\n      up: code\n      down: code\n",
        |i| format!("INSERT INTO items (code) VALUES ('o{i}')"),
        |i| format!("INSERT INTO items (code) VALUES ('n{i}')"),
        |v| async move {
            fails_with(&v.new, "INSERT INTO items (code) VALUES ('c1')", &SqlState::UNIQUE_VIOLATION).await;
            assert_eq!(count(&v.new, "SELECT count(*) - count(DISTINCT code) FROM items").await, 0);
        },
        |v, ending| async move {
            let cons = constraints(&v).await;
            match ending {
                Ending::Complete => {
                    assert!(cons.contains(&"items_code_unique u".to_string()), "{cons:?}");
                    fails_with(&v.new, "INSERT INTO items (code) VALUES ('c2')", &SqlState::UNIQUE_VIOLATION).await;
                }
                Ending::Rollback => {
                    assert!(!cons.iter().any(|c| c.starts_with("items_code_unique")), "{cons:?}");
                    v.old.batch_execute("INSERT INTO items (code) VALUES ('c3')").await.unwrap();
                }
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn check_constraint() {
    two_versions_concurrent(
        BASELINE,
        SEED,
        "operations:\n  - alter_column:\n      table: items\n      column: name\n      check: {name: name_length, constraint: length(name) > 3}\n      up: SELECT CASE WHEN length(name) <= 3 THEN rpad(name, 4, '-') ELSE name END\n      down: name\n",
        |i| format!("INSERT INTO items (name) VALUES ('o{}')", i % 10),
        |i| format!("INSERT INTO items (name) VALUES ('new {i}')"),
        |v| async move {
            assert_eq!(count(&v.new, "SELECT count(*) FROM items WHERE length(name) <= 3").await, 0);
            assert!(count(&v.new, "SELECT count(*) FROM items WHERE name = 'ab--'").await > 0);
            assert!(count(&v.old, "SELECT count(*) FROM items WHERE name = 'ab'").await > 0);
            fails_with(&v.new, "INSERT INTO items (name) VALUES ('ab')", &SqlState::CHECK_VIOLATION).await;
        },
        |v, ending| async move {
            let cons = constraints(&v).await;
            assert_eq!(cons.contains(&"name_length c".to_string()), ending == Ending::Complete, "{cons:?}");
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn foreign_key() {
    two_versions_concurrent(
        BASELINE,
        SEED,
        "operations:\n  - alter_column:\n      table: items\n      column: team_id\n      references: {name: items_team_fk, table: teams, column: id, on_delete: SET NULL}\n      up: SELECT CASE WHEN EXISTS (SELECT 1 FROM teams WHERE teams.id = team_id) THEN team_id ELSE NULL END\n      down: team_id\n",
        |i| format!("INSERT INTO items (team_id) VALUES ({})", if i % 2 == 0 { 999 } else { 3 }),
        |i| format!("INSERT INTO items (team_id) VALUES ({})", i % 10 + 1),
        |v| async move {
            assert_eq!(count(&v.new, "SELECT count(*) FROM items WHERE team_id = 999").await, 0);
            assert!(count(&v.old, "SELECT count(*) FROM items WHERE team_id = 999").await > 0);
            fails_with(&v.new, "INSERT INTO items (team_id) VALUES (12345)", &SqlState::FOREIGN_KEY_VIOLATION).await;
        },
        |v, ending| async move {
            let cons = constraints(&v).await;
            assert_eq!(cons.contains(&"items_team_fk f".to_string()), ending == Ending::Complete, "{cons:?}");
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn default_value() {
    two_versions_concurrent(
        BASELINE,
        SEED,
        "operations:\n  - alter_column:\n      table: items\n      column: code\n      default: \"'none'\"\n      up: code\n      down: code\n",
        |i| format!("INSERT INTO items (name) VALUES ('old {i}')"),
        |i| format!("INSERT INTO items (name) VALUES ('new {i}')"),
        |v| async move {
            assert_eq!(count(&v.new, "SELECT count(*) FROM items WHERE name LIKE 'new %' AND code IS DISTINCT FROM 'none'").await, 0);
            assert_eq!(count(&v.old, "SELECT count(*) FROM items WHERE name LIKE 'new %' AND code IS DISTINCT FROM 'none'").await, 0);
            assert!(count(&v.new, "SELECT count(*) FROM items WHERE name LIKE 'old %' AND code IS NULL").await > 0);
        },
        |v, ending| async move {
            let default: Option<String> = v.db.client().await
                .query_one("SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef WHERE adrelid = 'public.items'::regclass AND adnum = (SELECT attnum FROM pg_attribute WHERE attrelid = 'public.items'::regclass AND attname = 'code')", &[])
                .await.ok().map(|r| r.get(0));
            match ending {
                Ending::Complete => assert_eq!(default.as_deref(), Some("'none'::text")),
                Ending::Rollback => assert_eq!(default, None),
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn several_changes_in_one_alter_column() {
    two_versions_concurrent(
        BASELINE,
        SEED,
        r#"operations:
  - alter_column:
      table: items
      column: price
      type: numeric(10,2)
      nullable: false
      default: "0"
      comment: the price in euros
      check: {name: price_positive, constraint: price >= 0}
      up: COALESCE(CAST(price AS numeric(10,2)), 0)
      down: CAST(price AS text)
"#,
        |i| format!("INSERT INTO items (price) VALUES (NULL); INSERT INTO items (price) VALUES ('{i}.5')"),
        |i| format!("INSERT INTO items (name) VALUES ('new {i}'); INSERT INTO items (price) VALUES ({i}.25)"),
        |v| async move {
            assert_eq!(count(&v.new, "SELECT count(*) FROM items WHERE price IS NULL").await, 0);
            assert_eq!(count(&v.new, "SELECT count(*) FROM items WHERE name LIKE 'new %' AND price <> 0").await, 0, "the new default");
            fails_with(&v.new, "INSERT INTO items (price) VALUES (-1)", &SqlState::CHECK_VIOLATION).await;
        },
        |v, ending| async move {
            let cols = items_columns(&v).await;
            let comment: Option<String> = v.db.client().await.query_one("SELECT col_description('public.items'::regclass, (SELECT attnum FROM pg_attribute WHERE attrelid = 'public.items'::regclass AND attname = 'price')::int)", &[]).await.unwrap().get(0);
            match ending {
                Ending::Complete => {
                    assert!(cols.contains(&"price numeric(10,2) not null".to_string()), "{cols:?}");
                    assert_eq!(comment.as_deref(), Some("the price in euros"));
                    assert!(constraints(&v).await.contains(&"price_positive c".to_string()));
                }
                Ending::Rollback => {
                    assert!(cols.contains(&"price text".to_string()), "{cols:?}");
                    assert_eq!(comment, None);
                }
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_operations_on_one_table_and_two_on_one_column() {
    two_versions_concurrent(
        BASELINE,
        SEED,
        r#"operations:
  - alter_column:
      table: items
      column: price
      type: numeric
      up: CAST(price AS numeric)
      down: CAST(price AS text)
  - alter_column:
      table: items
      column: price
      nullable: false
      up: COALESCE(price, 0)
      down: price
  - add_column:
      table: items
      up: (price * 100)::integer
      column: {name: price_cents, type: integer, nullable: true}
"#,
        |i| format!("INSERT INTO items (price) VALUES ('{i}.5'); INSERT INTO items (price) VALUES (NULL)"),
        |i| format!("INSERT INTO items (price, price_cents) VALUES ({i}.75, {i}75)"),
        |v| async move {
            assert_eq!(count(&v.new, "SELECT count(*) FROM items WHERE price IS NULL").await, 0);
            assert_eq!(
                count(&v.new, "SELECT count(*) FROM public_01_baseline.items o JOIN items n USING (id) WHERE n.price <> COALESCE(o.price::numeric, 0)").await,
                0,
                "the two changes of price compose"
            );
            assert_eq!(
                count(&v.new, "SELECT count(*) FROM items n JOIN public_01_baseline.items o USING (id) WHERE o.name NOT LIKE 'new %' AND n.price_cents IS DISTINCT FROM (COALESCE(o.price::numeric, 0) * 100)::integer AND n.id <= 5000").await,
                0,
                "add_column's up sees price as the new version computes it"
            );
            assert!(count(&v.old, "SELECT count(*) FROM items WHERE price LIKE '%.75'").await > 0);
        },
        |v, ending| async move {
            let cols = items_columns(&v).await;
            match ending {
                Ending::Complete => assert_eq!(cols, ["id integer not null", "name text", "team_id integer", "code text", "price numeric not null", "price_cents integer"]),
                Ending::Rollback => assert_eq!(cols, ["id integer not null", "price text", "name text", "team_id integer", "code text"]),
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn add_column_with_up() {
    two_versions_concurrent(
        BASELINE,
        SEED,
        "operations:\n  - add_column:\n      table: items\n      up: upper(code)\n      column: {name: label, type: text, comment: shown to customers}\n",
        |i| format!("INSERT INTO items (code) VALUES ('o{i}'); UPDATE items SET code = 'u{i}' WHERE id = {}", i % 5000 + 1),
        |i| format!("INSERT INTO items (code, label) VALUES ('n{i}', 'custom {i}')"),
        |v| async move {
            assert_eq!(count(&v.new, "SELECT count(*) FROM items WHERE label IS NULL").await, 0, "NOT NULL (pgroll's default) holds");
            assert_eq!(count(&v.new, "SELECT count(*) FROM items WHERE code NOT LIKE 'n%' AND label IS DISTINCT FROM upper(code)").await, 0);
            assert!(count(&v.new, "SELECT count(*) FROM items WHERE label LIKE 'custom %'").await > 0, "the new version's own values are kept");
        },
        |v, ending| async move {
            let cols = items_columns(&v).await;
            assert_eq!(cols.contains(&"label text not null".to_string()), ending == Ending::Complete, "{cols:?}");
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn drop_column_with_down() {
    two_versions_concurrent(
        BASELINE,
        "INSERT INTO public.teams (name) VALUES ('t'); INSERT INTO public.items (name, code) SELECT 'item ' || g, 'c' || g FROM generate_series(1, 3000) g; ALTER TABLE public.items ALTER COLUMN code SET NOT NULL;",
        "operations:\n  - drop_column:\n      table: items\n      column: code\n      down: \"'from-new-' || name\"\n",
        |i| format!("INSERT INTO items (name, code) VALUES ('old {i}', 'o{i}')"),
        |i| format!("INSERT INTO items (name) VALUES ('new {i}'); UPDATE items SET name = 'renamed {i}' WHERE id = {}", i % 3000 + 1),
        |v| async move {
            assert!(count(&v.old, "SELECT count(*) FROM items WHERE name LIKE 'new %' AND code = 'from-new-' || name").await > 0);
            assert_eq!(count(&v.old, "SELECT count(*) FROM items WHERE code IS NULL").await, 0);
            assert!(count(&v.old, "SELECT count(*) FROM items WHERE name LIKE 'renamed %' AND code = 'from-new-' || name").await > 0, "new-version updates recompute down");
        },
        |v, ending| async move {
            let cols = items_columns(&v).await;
            assert_eq!(cols.iter().any(|c| c.starts_with("code ")), ending == Ending::Rollback, "{cols:?}");
        },
    )
    .await;
}
