//! What the dual-write trigger, the backfill and the verification mean on schemas shaped like
//! applications' own: names resolved whatever the client's search_path, change detection on
//! types without `=`, the application's own BEFORE triggers, and every constraint verified.
//! Each two-version case runs to complete and to rollback, writers through both versions.

use std::future::Future;
use tandem_testkit::{count, fresh_db, migration, Db, Ending, Versions};

/// The schemas, functions and triggers of the application, which a migration must leave as
/// they were (the harness's `two_versions` expects none of them, so this runner checks that
/// what is left after complete is exactly the application's).
async fn app_objects(db: &Db) -> (Vec<String>, serde_json::Value, serde_json::Value) {
    let snap = db.snapshot().await;
    let schemas = db
        .schemas()
        .await
        .into_iter()
        .filter(|s| !s.starts_with("public_"))
        .collect();
    (
        schemas,
        snap["extra"]["functions"].clone(),
        snap["extra"]["triggers"].clone(),
    )
}

/// `two_versions` for schemas with objects of the application: `setup` runs before the
/// baseline (types, functions), `seed` after it (rows, triggers).
async fn both_endings<D, DF, A, AF>(
    setup: &str,
    baseline: &str,
    seed: &str,
    change: &str,
    during: D,
    after: A,
) where
    D: Fn(Versions) -> DF,
    DF: Future<Output = ()>,
    A: Fn(Versions, Ending) -> AF,
    AF: Future<Output = ()>,
{
    for ending in [Ending::Complete, Ending::Rollback] {
        let db = fresh_db().await;
        if !setup.is_empty() {
            db.execute(setup).await;
        }
        db.apply("01_baseline", baseline).await;
        if !seed.is_empty() {
            db.execute(seed).await;
        }
        let before = db.snapshot().await;
        let (schemas, functions, triggers) = app_objects(&db).await;
        let mut engine = db.engine().await;
        engine
            .start(&migration("02_change", change))
            .await
            .unwrap_or_else(|e| panic!("start: {e} ({})", e.help()));
        let versions = Versions::open(&db).await;
        during(versions.clone()).await;
        let rows_during = db.snapshot_rows().await;
        match ending {
            Ending::Complete => {
                engine
                    .complete()
                    .await
                    .unwrap_or_else(|e| panic!("complete: {e} ({})", e.help()));
                let mut all = db.schemas().await;
                all.retain(|s| s != "public_02_change");
                assert_eq!(all, schemas, "only the new version schema is added");
                let (_, f, t) = app_objects(&db).await;
                assert_eq!(f, functions, "only the application's functions are left");
                assert_eq!(t, triggers, "only the application's triggers are left");
            }
            Ending::Rollback => {
                engine
                    .rollback()
                    .await
                    .unwrap_or_else(|e| panic!("rollback: {e} ({})", e.help()));
                assert!(
                    db.snapshot().await == before,
                    "rollback leaves the schema exactly as before"
                );
                let kept = db.project_onto_current_tables(&rows_during).await;
                assert_eq!(
                    db.snapshot_rows().await,
                    kept,
                    "rollback keeps every row and value written meanwhile by either version"
                );
            }
        }
        after(versions, ending).await;
    }
}

/// One text value of the final table (or of a view, with `search_path`).
async fn text(db: &Db, sql: &str) -> Option<String> {
    db.client()
        .await
        .query_one(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
        .get(0)
}

// ---------------------------------------------------------------------------------------------
// 3. Names resolve the same whatever the writing session's search_path.

const APP_FUNCTIONS: &str = r#"
CREATE TYPE public.mood AS ENUM ('sad', 'ok', 'happy');
CREATE FUNCTION public.slugify(t text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT lower(replace(btrim(t), ' ', '-')) $$;
CREATE SCHEMA shadow;
CREATE FUNCTION shadow.slugify(t text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT 'WRONG' $$;
"#;

const ITEMS: &str = r#"
operations:
  - create_table:
      name: items
      columns:
        - {name: id, type: serial, pk: true}
        - {name: title, type: text}
        - {name: status, type: text}
"#;

const ITEMS_CHANGE: &str = r#"
operations:
  - alter_column: {table: items, column: title, up: "slugify(title)", down: "title"}
  - alter_column: {table: items, column: status, type: mood, up: "status::mood", down: "status::text"}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_and_down_resolve_names_in_the_tables_schema_whatever_the_clients_search_path() {
    both_endings(
        APP_FUNCTIONS,
        ITEMS,
        "INSERT INTO public.items (title, status) VALUES ('Seed Row', 'sad');",
        ITEMS_CHANGE,
        |v| async move {
            // Each client sees only its version schema (tandem's advice): neither the
            // function nor the type of `public` is on its path.
            v.old.batch_execute("INSERT INTO items (title, status) VALUES ('Hello World', 'ok')").await.unwrap();
            v.new.batch_execute("INSERT INTO items (title, status) VALUES ('from-new', 'happy')").await.unwrap();
            // A schema with a function of the same name before the version schema changes nothing.
            v.old.batch_execute("SET search_path TO shadow, public_01_baseline").await.unwrap();
            v.old.batch_execute("UPDATE items SET title = 'Edited By Old' WHERE title = 'Hello World'").await.unwrap();
            v.old.batch_execute("SET search_path TO public_01_baseline").await.unwrap();
            assert_eq!(count(&v.new, "SELECT count(*) FROM items WHERE title = 'seed-row' AND status = 'sad'").await, 1);
            assert_eq!(count(&v.new, "SELECT count(*) FROM items WHERE title = 'edited-by-old' AND status = 'ok'").await, 1);
            assert_eq!(count(&v.old, "SELECT count(*) FROM items WHERE title = 'from-new' AND status = 'happy'").await, 1);
            // A client whose path lists pg_catalog last and a schema of its own first.
            v.new.batch_execute("SET search_path TO shadow, public_02_change, pg_catalog").await.unwrap();
            v.new.batch_execute("UPDATE items SET title = 'from-new-2' WHERE title = 'from-new'").await.unwrap();
            // The writer's own search path is given back after the trigger ran.
            let path: String = v.new.query_one("SELECT current_setting('search_path')", &[]).await.unwrap().get(0);
            assert_eq!(path, "shadow, public_02_change, pg_catalog");
            v.new.batch_execute("SET search_path TO public_02_change").await.unwrap();
            assert_eq!(count(&v.old, "SELECT count(*) FROM items WHERE title = 'from-new-2'").await, 1);
        },
        |v, ending| async move {
            let titles = text(&v.db, "SELECT string_agg(title || ':' || status::text, ',' ORDER BY id) FROM public.items").await;
            match ending {
                Ending::Complete => assert_eq!(titles.as_deref(), Some("seed-row:sad,edited-by-old:ok,from-new-2:happy")),
                Ending::Rollback => assert_eq!(titles.as_deref(), Some("Seed Row:sad,Edited By Old:ok,from-new-2:happy")),
            }
        },
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// 4. Types without an equality operator, and the other type families.

const TYPES_SETUP: &str = r#"
CREATE DOMAIN public.doc AS json CHECK (json_typeof(VALUE) = 'object');
CREATE TYPE public.labelled AS (label text, body json);
"#;

const DOCS: &str = r#"
operations:
  - create_table:
      name: docs
      columns:
        - {name: id, type: serial, pk: true}
        - {name: j, type: json, nullable: true}
        - {name: xm, type: xml, nullable: true}
        - {name: p, type: point, nullable: true}
        - {name: bx, type: box, nullable: true}
        - {name: pg, type: polygon, nullable: true}
        - {name: ja, type: "json[]", nullable: true}
        - {name: pa, type: "point[]", nullable: true}
        - {name: d, type: doc, nullable: true}
        - {name: c, type: labelled, nullable: true}
        - {name: r, type: int4range, nullable: true}
        - {name: m, type: money, nullable: true}
        - {name: n, type: "numeric(10,2)", nullable: true}
"#;

const DOCS_CHANGE: &str = r#"
operations:
  - alter_column: {table: docs, column: j, up: "j", down: "j"}
  - alter_column: {table: docs, column: xm, up: "xm", down: "xm"}
  - alter_column: {table: docs, column: p, up: "p", down: "p"}
  - alter_column: {table: docs, column: bx, up: "bx", down: "bx"}
  - alter_column: {table: docs, column: pg, up: "pg", down: "pg"}
  - alter_column: {table: docs, column: ja, up: "ja", down: "ja"}
  - alter_column: {table: docs, column: pa, up: "pa", down: "pa"}
  - alter_column: {table: docs, column: d, up: "d", down: "d"}
  - alter_column: {table: docs, column: c, up: "c", down: "c"}
  - alter_column: {table: docs, column: r, up: "r", down: "r"}
  - alter_column: {table: docs, column: m, up: "m", down: "m"}
  - alter_column: {table: docs, column: n, type: "numeric(12,4)", up: "n", down: "round(n, 2)"}
"#;

const A_DOC: &str = r#"'{"a": 1}', '<a>1</a>', '(1,2)', '((0,0),(1,1))', '((0,0),(1,0),(1,1))', ARRAY['{"b": 2}'::json], ARRAY[point(3,4)], '{"d": 4}', ROW('l', '{"c": 3}')::public.labelled, '[1,5)', 12.34, 1.5"#;

/// Every column of a row as text, as `search_path`'s version shows it.
const ROW_TEXT: &str =
    "SELECT concat_ws('|', j, xm, p, bx, pg, ja, pa, d, c, r, m, n) FROM docs WHERE id = ";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_xml_geometry_arrays_domains_composites_ranges_money_and_numeric_sync_both_ways() {
    both_endings(
        TYPES_SETUP,
        DOCS,
        &format!("INSERT INTO public.docs (j, xm, p, bx, pg, ja, pa, d, c, r, m, n) VALUES ({A_DOC}), (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);"),
        DOCS_CHANGE,
        |v| async move {
            // Inserts and updates through both versions (each failed before with
            // "could not identify an equality operator for type json").
            v.old.batch_execute(&format!("INSERT INTO docs (j, xm, p, bx, pg, ja, pa, d, c, r, m, n) VALUES ({A_DOC})")).await.unwrap();
            v.new.batch_execute(&format!("INSERT INTO docs (j, xm, p, bx, pg, ja, pa, d, c, r, m, n) VALUES ({A_DOC})")).await.unwrap();
            v.old.batch_execute(r#"UPDATE docs SET j = '{"a": 2}', xm = '<b/>', p = '(5,6)', ja = ARRAY['{}'::json], c = ROW('m', '[]')::public.labelled, m = 1, n = 2.25 WHERE id = 3"#).await.unwrap();
            v.new.batch_execute(r#"UPDATE docs SET j = '{"z": 9}', pg = '((0,0),(2,0),(2,2))', d = '{"e": 5}', r = '[2,3)', n = 7.1234 WHERE id = 4"#).await.unwrap();
            // An update of a json value to the same text: nothing is lost either way.
            v.old.batch_execute(r#"UPDATE docs SET j = '{"a": 1}' WHERE id = 1"#).await.unwrap();
            // Setting a value to NULL and back through the other version.
            v.new.batch_execute("UPDATE docs SET j = NULL, xm = NULL WHERE id = 1").await.unwrap();
            for id in 1..=4 {
                let old: Option<String> = v.old.query_one(&format!("{ROW_TEXT}{id}"), &[]).await.unwrap().get(0);
                let new: Option<String> = v.new.query_one(&format!("{ROW_TEXT}{id}"), &[]).await.unwrap().get(0);
                // Only the numeric's scale may differ between the versions.
                let strip = |s: Option<String>| s.map(|s| s.rsplit_once('|').map(|(a, _)| a.to_string()).unwrap_or(s));
                assert_eq!(strip(old), strip(new), "row {id} reads the same through both versions");
            }
            assert_eq!(count(&v.old, r#"SELECT count(*) FROM docs WHERE id = 3 AND xm::text = '<b/>' AND p ~= '(5,6)' AND n = 2.25 AND m = 1::money"#).await, 1);
            assert_eq!(count(&v.new, r#"SELECT count(*) FROM docs WHERE id = 3 AND j::text = '{"a": 2}' AND xm::text = '<b/>' AND p ~= '(5,6)' AND (c).label = 'm' AND n = 2.25"#).await, 1);
            assert_eq!(count(&v.old, r#"SELECT count(*) FROM docs WHERE id = 4 AND j::text = '{"z": 9}' AND d::text = '{"e": 5}' AND r = '[2,3)' AND n = 7.12"#).await, 1);
            assert_eq!(count(&v.new, "SELECT count(*) FROM docs WHERE id = 4 AND n = 7.1234").await, 1);
            assert_eq!(count(&v.new, "SELECT count(*) FROM docs WHERE id = 1 AND j IS NULL AND xm IS NULL AND p IS NOT NULL").await, 1);
            assert_eq!(count(&v.old, "SELECT count(*) FROM docs WHERE id = 1 AND j IS NULL AND xm IS NULL AND p IS NOT NULL").await, 1);
            assert_eq!(count(&v.new, "SELECT count(*) FROM docs WHERE id = 2 AND j IS NULL AND c IS NULL AND n IS NULL").await, 1);
        },
        |v, ending| async move {
            let row3 = text(&v.db, "SELECT concat_ws('|', j, xm, p, ja, c, m, n) FROM public.docs WHERE id = 3").await;
            let n4 = text(&v.db, "SELECT n::text FROM public.docs WHERE id = 4").await;
            let scale = text(&v.db, "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'public.docs'::regclass AND attname = 'n'").await;
            match ending {
                Ending::Complete => {
                    assert_eq!(row3.as_deref(), Some(r#"{"a": 2}|<b/>|(5,6)|{"{}"}|(m,[])|$1.00|2.2500"#));
                    assert_eq!(n4.as_deref(), Some("7.1234"));
                    assert_eq!(scale.as_deref(), Some("numeric(12,4)"));
                }
                Ending::Rollback => {
                    assert_eq!(row3.as_deref(), Some(r#"{"a": 2}|<b/>|(5,6)|{"{}"}|(m,[])|$1.00|2.25"#));
                    assert_eq!(n4.as_deref(), Some("7.12"));
                    assert_eq!(scale.as_deref(), Some("numeric(10,2)"));
                }
            }
        },
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// 9. The application's own BEFORE triggers.

const USERS: &str = r#"
operations:
  - create_table:
      name: users
      columns:
        - {name: id, type: serial, pk: true}
        - {name: name, type: text}
        - {name: email, type: text, nullable: true}
        - {name: updated_at, type: timestamptz, nullable: true}
"#;

/// Triggers named as applications name them (all sort before tandem's `~tandem_sync`).
const USER_TRIGGERS: &str = r#"
CREATE FUNCTION public.trim_name() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.name := btrim(NEW.name); RETURN NEW; END $$;
CREATE FUNCTION public.lower_email() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.email := lower(NEW.email); RETURN NEW; END $$;
CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.updated_at := '2001-02-03 04:05:06+00'; RETURN NEW; END $$;
CREATE TRIGGER trim_name BEFORE INSERT OR UPDATE ON public.users FOR EACH ROW EXECUTE FUNCTION public.trim_name();
CREATE TRIGGER "Lower Email" BEFORE INSERT OR UPDATE ON public.users FOR EACH ROW EXECUTE FUNCTION public.lower_email();
CREATE TRIGGER zz_set_updated_at BEFORE INSERT OR UPDATE ON public.users FOR EACH ROW EXECUTE FUNCTION public.touch();
INSERT INTO public.users (name, email) VALUES ('  Seed  ', 'SEED@X');
"#;

const USERS_CHANGE: &str = r#"
operations:
  - alter_column: {table: users, column: name, type: "varchar(100)", up: "name", down: "name"}
  - alter_column: {table: users, column: email, up: "lower(email)", down: "email"}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dual_write_sees_the_row_as_the_applications_triggers_leave_it() {
    both_endings(
        "",
        USERS,
        USER_TRIGGERS,
        USERS_CHANGE,
        |v| async move {
            v.old.batch_execute("INSERT INTO users (name, email) VALUES ('  Bob  ', 'BOB@X')").await.unwrap();
            // The old version's trimmed, lowered value is what the new version sees.
            assert_eq!(count(&v.new, "SELECT count(*) FROM users WHERE name = 'Bob' AND email = 'bob@x' AND updated_at IS NOT NULL").await, 1);
            v.old.batch_execute("UPDATE users SET name = '  Robert ', email = 'ROB@X' WHERE name = 'Bob'").await.unwrap();
            assert_eq!(count(&v.new, "SELECT count(*) FROM users WHERE name = 'Robert' AND email = 'rob@x'").await, 1);
            // The new version writes its columns; the old version gets `down` of them, and the
            // application's triggers (which know only the old columns) cannot skew either side.
            v.new.batch_execute("INSERT INTO users (name, email) VALUES ('Ann', 'ANN@X')").await.unwrap();
            assert_eq!(count(&v.old, "SELECT count(*) FROM users WHERE name = 'Ann' AND email = 'ANN@X' AND updated_at IS NOT NULL").await, 1);
            v.new.batch_execute("UPDATE users SET name = 'Anne' WHERE name = 'Ann'").await.unwrap();
            assert_eq!(count(&v.old, "SELECT count(*) FROM users WHERE name = 'Anne'").await, 1);
            // The seeded row was backfilled from its trimmed value.
            assert_eq!(count(&v.new, "SELECT count(*) FROM users WHERE name = 'Seed' AND email = 'seed@x'").await, 1);
            // Both versions agree on every row.
            let both = "SELECT string_agg(name || '/' || coalesce(email, ''), ',' ORDER BY id) FROM users";
            let old: Option<String> = v.old.query_one(both, &[]).await.unwrap().get(0);
            let new: Option<String> = v.new.query_one(both, &[]).await.unwrap().get(0);
            assert_eq!(old.map(|s| s.to_lowercase()), new.map(|s| s.to_lowercase()));
        },
        |v, ending| async move {
            let names = text(&v.db, "SELECT string_agg(name || '/' || email, ',' ORDER BY id) FROM public.users").await;
            match ending {
                Ending::Complete => assert_eq!(names.as_deref(), Some("Seed/seed@x,Robert/rob@x,Anne/ANN@X")),
                Ending::Rollback => assert_eq!(names.as_deref(), Some("Seed/seed@x,Robert/rob@x,Anne/ANN@X")),
            }
            // The application's triggers still work afterwards.
            v.db.execute("INSERT INTO public.users (name, email) VALUES ('  Zed ', 'ZED@X')").await;
            assert_eq!(v.db.scalar_i64("SELECT count(*) FROM public.users WHERE name = 'Zed' AND email = 'zed@x'").await, 1);
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_trigger_that_would_fire_after_the_dual_write_is_refused_at_validate() {
    for name in ["~~audit", "Ärger"] {
        let db = fresh_db().await;
        db.apply("01_baseline", USERS).await;
        db.execute(USER_TRIGGERS).await;
        db.execute(&format!(
            "CREATE TRIGGER {} BEFORE UPDATE ON public.users FOR EACH ROW EXECUTE FUNCTION public.trim_name()",
            tandem_core::quote::ident(name)
        ))
        .await;
        let before = db.snapshot().await;
        let err = db
            .engine()
            .await
            .start(&migration("02_change", USERS_CHANGE))
            .await
            .err()
            .unwrap_or_else(|| panic!("a trigger named {name} must be refused"));
        let text = format!("{err} {}", err.help());
        assert!(
            text.contains(&format!("\"{name}\" on \"public\".\"users\"")),
            "{text}"
        );
        assert!(text.contains("ALTER TRIGGER"), "{text}");
        assert!(
            !text.contains("trim_name\" on"),
            "only the late trigger is named: {text}"
        );
        assert!(db.snapshot().await == before, "nothing was changed");
        assert_eq!(
            db.schemas().await,
            vec!["public", "public_01_baseline", "tandem"]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_verifies_again_and_refuses_rows_a_later_trigger_skewed() {
    let db = fresh_db().await;
    db.apply("01_baseline", USERS).await;
    db.execute("INSERT INTO public.users (name, email) VALUES ('ok', 'ok@x')")
        .await;
    let mut engine = db.engine().await;
    engine
        .start(&migration("02_change", USERS_CHANGE))
        .await
        .unwrap_or_else(|e| panic!("start: {e} ({})", e.help()));
    // Created after start, by a name that fires after the dual-write: its change to the old
    // column never reaches the new one.
    db.execute(
        "CREATE FUNCTION public.shout() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.name := upper(NEW.name); RETURN NEW; END $$;
         CREATE TRIGGER \"~~shout\" BEFORE INSERT ON public.users FOR EACH ROW EXECUTE FUNCTION public.shout();",
    )
    .await;
    let v = Versions::open(&db).await;
    v.old
        .batch_execute("INSERT INTO users (name, email) VALUES ('quiet', 'q@x')")
        .await
        .unwrap();
    assert_eq!(
        count(&v.new, "SELECT count(*) FROM users WHERE name = 'quiet'").await,
        1
    );
    assert_eq!(
        count(&v.old, "SELECT count(*) FROM users WHERE name = 'QUIET'").await,
        1
    );
    let err = engine
        .complete()
        .await
        .err()
        .unwrap_or_else(|| panic!("complete must refuse the skewed row"));
    let text = format!("{err} {}", err.help());
    assert!(text.contains(r#"("id") = (2)"#), "names the row: {text}");
    assert!(
        text.contains("consistent with the version that wrote it"),
        "{text}"
    );
    // The new column was not made permanent.
    assert_eq!(
        db.scalar_i64("SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'users' AND column_name LIKE '\\_tandem%'").await,
        2
    );
}

// ---------------------------------------------------------------------------------------------
// 8. Every constraint a migration adds is verified before start reports success.

const ORDERS: &str = r#"
operations:
  - create_table:
      name: sellers
      columns:
        - {name: name, type: text, pk: true}
        - {name: zip, type: text, pk: true}
  - create_table:
      name: orders
      columns:
        - {name: id, type: serial, pk: true}
        - {name: seller_name, type: text, nullable: true}
        - {name: seller_zip, type: text, nullable: true}
        - {name: amount, type: integer, nullable: true}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_key_over_rows_that_reference_nothing_fails_start_naming_it() {
    let db = fresh_db().await;
    db.apply("01_baseline", ORDERS).await;
    db.execute(
        "INSERT INTO public.sellers VALUES ('a', '1');
         INSERT INTO public.orders (seller_name, seller_zip, amount) VALUES ('a', '1', 5), ('a', NULL, 6), ('ghost', '9', 7), ('b', '2', -1);",
    )
    .await;
    let err = db
        .engine()
        .await
        .start(&migration(
            "02_change",
            r#"
operations:
  - create_constraint:
      type: foreign_key
      table: orders
      name: fk_orders_seller
      columns: [seller_name, seller_zip]
      references: {table: sellers, columns: [name, zip]}
      up: {seller_name: seller_name, seller_zip: seller_zip}
      down: {seller_name: seller_name, seller_zip: seller_zip}
"#,
        ))
        .await
        .err()
        .unwrap_or_else(|| panic!("start must fail on rows that reference nothing"));
    let text = format!("{err} {}", err.help());
    assert!(
        text.contains("foreign key fk_orders_seller"),
        "names the constraint: {text}"
    );
    assert!(
        text.contains(r#"("id") = (3)"#) && text.contains(r#"("id") = (4)"#),
        "names the offending keys: {text}"
    );
    assert!(
        !text.contains(r#"("id") = (2)"#),
        "a key with a NULL references nothing and passes: {text}"
    );
    assert!(
        text.contains("insert the referenced rows"),
        "says what to do: {text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_constraint_over_rows_that_break_it_fails_start_naming_it() {
    let db = fresh_db().await;
    db.apply("01_baseline", ORDERS).await;
    db.execute("INSERT INTO public.orders (amount) VALUES (5), (-1), (NULL);")
        .await;
    let err = db
        .engine()
        .await
        .start(&migration(
            "02_change",
            r#"
operations:
  - create_constraint:
      type: check
      table: orders
      name: amount_positive
      columns: [amount]
      check: "amount > 0"
      up: {amount: "amount"}
      down: {amount: "amount"}
"#,
        ))
        .await
        .err()
        .unwrap_or_else(|| panic!("start must fail on rows that break the check"));
    let text = format!("{err} {}", err.help());
    // A CHECK added NOT VALID still holds for every row written, the backfill's too: the
    // backfill stops at the first offending batch, naming the constraint and the row.
    assert!(
        text.contains("amount_positive") && text.contains("(2, null, null, -1"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_up_that_is_not_immutable_is_not_recomputed_by_the_verification() {
    both_endings(
        "",
        USERS,
        "INSERT INTO public.users (name) VALUES ('a'), ('b');",
        r#"
operations:
  - alter_column: {table: users, column: name, up: "name || ':' || gen_random_uuid()", down: "split_part(name, ':', 1)"}
"#,
        |v| async move {
            v.old.batch_execute("INSERT INTO users (name) VALUES ('c')").await.unwrap();
            v.new.batch_execute("INSERT INTO users (name) VALUES ('d:x')").await.unwrap();
            assert_eq!(count(&v.new, "SELECT count(*) FROM users WHERE name LIKE 'c:%' AND length(name) = 38").await, 1);
            assert_eq!(count(&v.old, "SELECT count(*) FROM users WHERE name = 'd'").await, 1);
        },
        |v, ending| async move {
            let n = v.db.scalar_i64("SELECT count(*) FROM public.users WHERE name LIKE '_:%'").await;
            assert_eq!(n, if ending == Ending::Complete { 4 } else { 0 });
        },
    )
    .await;
}

/// A schema of the application's own, not `public`, with mixed case: the new column's type, the
/// `up` function and the casts all resolve there, for tandem's session and the clients alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_mixed_case_schema_of_the_application_names_resolve_there() {
    for ending in [Ending::Complete, Ending::Rollback] {
        let db = fresh_db().await;
        db.execute(
            r#"CREATE SCHEMA "Shop";
               CREATE TYPE "Shop".currency AS ENUM ('EUR', 'USD');
               CREATE FUNCTION "Shop".cents(v numeric) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$ SELECT (v * 100)::bigint $$;"#,
        )
        .await;
        let settings = tandem_pg::Settings {
            schema: "Shop".into(),
            ..tandem_testkit::settings()
        };
        let mut engine = db.engine_with(settings.clone()).await;
        engine
            .start(&migration(
                "01_baseline",
                "operations:\n  - create_table:\n      name: order\n      columns:\n        - {name: id, type: serial, pk: true}\n        - {name: price, type: numeric}\n        - {name: cur, type: text}\n",
            ))
            .await
            .unwrap();
        engine.complete().await.unwrap();
        db.execute(r#"INSERT INTO "Shop"."order" (price, cur) VALUES (1.25, 'EUR')"#)
            .await;
        engine
            .start(&migration(
                "02_change",
                r#"
operations:
  - alter_column: {table: order, column: price, type: bigint, up: "cents(price)", down: "price / 100.0"}
  - alter_column: {table: order, column: cur, type: currency, up: "cur::currency", down: "cur::text"}
"#,
            ))
            .await
            .unwrap_or_else(|e| panic!("start: {e} ({})", e.help()));
        let old = db.client_on("Shop_01_baseline").await;
        let new = db.client_on("Shop_02_change").await;
        old.batch_execute(r#"INSERT INTO "order" (price, cur) VALUES (2.5, 'USD')"#)
            .await
            .unwrap();
        new.batch_execute(r#"INSERT INTO "order" (price, cur) VALUES (300, 'EUR')"#)
            .await
            .unwrap();
        let seen =
            "SELECT string_agg(price::text || ' ' || cur::text, ',' ORDER BY id) FROM \"order\"";
        let by_new: String = new.query_one(seen, &[]).await.unwrap().get(0);
        let by_old: String = old.query_one(seen, &[]).await.unwrap().get(0);
        assert_eq!(by_new, "125 EUR,250 USD,300 EUR");
        assert_eq!(by_old, "1.25 EUR,2.5 USD,3.0000000000000000 EUR");
        let finished = match ending {
            Ending::Complete => engine.complete().await,
            Ending::Rollback => engine.rollback().await,
        };
        finished.unwrap_or_else(|e| panic!("{ending:?}: {e} ({})", e.help()));
        let fin = text(
            &db,
            r#"SELECT string_agg(price::text || ' ' || cur::text, ',' ORDER BY id) FROM "Shop"."order""#,
        )
        .await;
        let expected = match ending {
            Ending::Complete => "125 EUR,250 USD,300 EUR",
            Ending::Rollback => "1.25 EUR,2.5 USD,3.0000000000000000 EUR",
        };
        assert_eq!(fin.as_deref(), Some(expected));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unique_constraint_over_duplicates_fails_start_naming_it_and_the_key() {
    let db = fresh_db().await;
    db.apply("01_baseline", ORDERS).await;
    db.execute("INSERT INTO public.orders (amount) VALUES (5), (7), (5);")
        .await;
    let err = db
        .engine()
        .await
        .start(&migration(
            "02_change",
            "operations:\n  - create_constraint: {table: orders, name: orders_amount_key, type: unique, columns: [amount], up: {amount: amount}, down: {amount: amount}}\n",
        ))
        .await
        .err()
        .unwrap_or_else(|| panic!("start must fail on duplicates"));
    let text = format!("{err} {}", err.help());
    assert!(
        text.contains("orders_amount_key"),
        "names the constraint: {text}"
    );
    assert!(text.contains("=(5)"), "names the duplicated key: {text}");
}
