//! Defaults and sequences across a type change (issue 8, point 5): the most common migration,
//! `integer` to `bigint`, keeps the column's default (cast where needed), a `serial` column
//! keeps its one sequence (owned by the new column after complete), and an identity column
//! stays an identity column with its options and position. Both versions insert throughout,
//! and each case runs to complete and to rollback.

use tandem_testkit::{count, fresh_db, migration, two_versions_concurrent, Ending, Versions};

/// A mixed-case table in which nothing is the primary key but `id`: a serial counter, an
/// identity column with its own options, and plain defaults.
const BASELINE: &str = r#"
operations:
  - create_table:
      name: Orders
      columns:
        - {name: id, type: bigserial, pk: true}
        - {name: seq_no, type: serial}
        - name: ticket
          type: integer
          generated: {identity: {user_specified_values: BY DEFAULT, sequence_options: "START WITH 100 INCREMENT BY 5 CACHE 1"}}
        - name: stamp
          type: smallint
          generated: {identity: {user_specified_values: ALWAYS}}
        - {name: qty, type: integer, default: "1"}
        - {name: label, type: text, nullable: true}
"#;

const SEED: &str =
    r#"INSERT INTO public."Orders" (label) SELECT 'seed ' || g FROM generate_series(1, 3000) g;"#;

fn old_writes(i: u64) -> String {
    format!(r#"INSERT INTO "Orders" (label) VALUES ('old {i}')"#)
}

fn new_writes(i: u64) -> String {
    format!(r#"INSERT INTO "Orders" (label) VALUES ('new {i}')"#)
}

async fn text(c: &tokio_postgres::Client, sql: &str) -> Option<String> {
    c.query_one(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
        .get(0)
}

async fn default_of(v: &Versions, column: &str) -> Option<String> {
    text(
        &v.db.client().await,
        &format!(
            r#"SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
               WHERE a.attrelid = 'public."Orders"'::regclass AND a.attname = '{column}'"#
        ),
    )
    .await
}

/// Every value a counter column handed out is distinct, in both versions' views.
async fn assert_no_duplicates(clients: &[&tokio_postgres::Client], column: &str) {
    for c in clients {
        let dups = count(
            c,
            &format!(r#"SELECT count(*) - count(DISTINCT {column}) FROM "Orders""#),
        )
        .await;
        assert_eq!(dups, 0, "{column} never hands out a value twice");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn serial_integer_to_bigint_keeps_its_one_sequence() {
    two_versions_concurrent(
        BASELINE,
        SEED,
        "operations:\n  - alter_column:\n      table: Orders\n      column: seq_no\n      type: bigint\n",
        old_writes,
        new_writes,
        |v| async move {
            assert_no_duplicates(&[&v.old, &v.new], "seq_no").await;
            let unset = count(&v.new, r#"SELECT count(*) FROM "Orders" WHERE seq_no IS NULL"#).await;
            assert_eq!(unset, 0, "the new version's inserts get a value from the sequence");
            let behind = count(
                &v.new,
                r#"SELECT count(*) FROM "Orders" WHERE seq_no > (SELECT last_value FROM public."Orders_seq_no_seq")"#,
            )
            .await;
            assert_eq!(behind, 0, "one sequence: no value beyond what it handed out");
        },
        |v, ending| async move {
            let c = v.db.client().await;
            let owner = text(&c, r#"SELECT pg_get_serial_sequence('public."Orders"', 'seq_no')"#).await;
            assert_eq!(owner.as_deref(), Some(r#"public."Orders_seq_no_seq""#), "the column still owns its sequence");
            let client = match ending {
                Ending::Complete => &v.new,
                Ending::Rollback => &v.old,
            };
            // Inserts after the ending still work, and carry on from the sequence.
            let before = count(client, r#"SELECT max(seq_no)::bigint FROM "Orders""#).await;
            client.batch_execute(r#"INSERT INTO "Orders" (label) VALUES ('after')"#).await.unwrap();
            let after = count(client, r#"SELECT seq_no::bigint FROM "Orders" WHERE label = 'after'"#).await;
            assert!(after > before, "{after} follows {before}");
            assert_no_duplicates(&[&c], "seq_no").await;
            let ty = text(&c, r#"SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'public."Orders"'::regclass AND attname = 'seq_no'"#).await;
            let seq_type = text(&c, r#"SELECT format_type(seqtypid, NULL) FROM pg_sequence WHERE seqrelid = 'public."Orders_seq_no_seq"'::regclass"#).await;
            match ending {
                Ending::Complete => {
                    assert_eq!(ty.as_deref(), Some("bigint"));
                    assert_eq!(seq_type.as_deref(), Some("bigint"), "the sequence widens with the column");
                    let d = default_of(&v, "seq_no").await.unwrap_or_default();
                    assert!(d.contains(r#"nextval('"Orders_seq_no_seq"'::regclass)"#), "{d}");
                    assert!(!d.contains("_tandem"), "{d}");
                }
                Ending::Rollback => {
                    assert_eq!(ty.as_deref(), Some("integer"));
                    assert_eq!(seq_type.as_deref(), Some("integer"));
                }
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn identity_integer_to_bigint_stays_an_identity() {
    two_versions_concurrent(
        BASELINE,
        SEED,
        "operations:\n  - alter_column:\n      table: Orders\n      column: ticket\n      type: bigint\n",
        old_writes,
        new_writes,
        |v| async move {
            assert_no_duplicates(&[&v.old, &v.new], "ticket").await;
            let off_step = count(&v.new, r#"SELECT count(*) FROM "Orders" WHERE (ticket - 100) % 5 <> 0 OR ticket IS NULL"#).await;
            assert_eq!(off_step, 0, "both versions draw from the identity's own sequence");
        },
        |v, ending| async move {
            let c = v.db.client().await;
            let identity = text(&c, r#"SELECT attidentity::text FROM pg_attribute WHERE attrelid = 'public."Orders"'::regclass AND attname = 'ticket'"#).await;
            assert_eq!(identity.as_deref(), Some("d"), "still GENERATED BY DEFAULT AS IDENTITY");
            let seq = text(&c, r#"SELECT pg_get_serial_sequence('public."Orders"', 'ticket')"#).await;
            assert_eq!(seq.as_deref(), Some(r#"public."Orders_ticket_seq""#), "the sequence keeps its name");
            let options = text(&c, r#"SELECT seqincrement || ' ' || seqstart || ' ' || seqcache || ' ' || format_type(seqtypid, NULL) FROM pg_sequence WHERE seqrelid = 'public."Orders_ticket_seq"'::regclass"#).await;
            let client = match ending {
                Ending::Complete => &v.new,
                Ending::Rollback => &v.old,
            };
            let before = count(client, r#"SELECT max(ticket)::bigint FROM "Orders""#).await;
            client.batch_execute(r#"INSERT INTO "Orders" (label) VALUES ('after')"#).await.unwrap();
            let after = count(client, r#"SELECT ticket::bigint FROM "Orders" WHERE label = 'after'"#).await;
            assert!(after > before, "{after} follows {before}: the identity went on from where it was");
            assert_eq!((after - 100) % 5, 0);
            assert_no_duplicates(&[&c], "ticket").await;
            let helpers = count(&c, "SELECT count(*) FROM pg_class WHERE relname LIKE '\\_tandem%'").await;
            assert_eq!(helpers, 0, "no helper sequence left");
            match ending {
                Ending::Complete => assert_eq!(options.as_deref(), Some("5 100 1 bigint")),
                Ending::Rollback => assert_eq!(options.as_deref(), Some("5 100 1 integer")),
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_default_is_cast_to_the_new_type() {
    two_versions_concurrent(
        BASELINE,
        SEED,
        "operations:\n  - alter_column:\n      table: Orders\n      column: qty\n      type: numeric(12,2)\n",
        old_writes,
        new_writes,
        |v| async move {
            let missing = count(&v.new, r#"SELECT count(*) FROM "Orders" WHERE qty IS DISTINCT FROM 1"#).await;
            assert_eq!(missing, 0, "inserts of both versions get the default");
        },
        |v, ending| async move {
            let d = default_of(&v, "qty").await;
            match ending {
                Ending::Complete => {
                    let d = d.unwrap_or_default();
                    assert!(d.contains("numeric"), "the default now gives the new type: {d}");
                    v.new.batch_execute(r#"INSERT INTO "Orders" (label) VALUES ('after')"#).await.unwrap();
                    assert_eq!(count(&v.new, r#"SELECT count(*) FROM "Orders" WHERE label = 'after' AND qty = 1"#).await, 1);
                }
                Ending::Rollback => assert_eq!(d.as_deref(), Some("1")),
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_default_that_cannot_apply_to_the_new_type_is_refused_at_validate() {
    let db = fresh_db().await;
    db.apply("01_baseline", "operations:\n  - create_table:\n      name: t\n      columns:\n        - {name: id, type: serial, pk: true}\n        - {name: flag, type: text, default: \"'yes'\"}\n        - {name: made, type: boolean, default: \"true\"}\n").await;
    let before = db.snapshot().await;
    let mut engine = db.engine().await;
    for (column, ty) in [("flag", "integer"), ("made", "date")] {
        let yaml = format!("operations:\n  - alter_column:\n      table: t\n      column: {column}\n      type: {ty}\n      up: 'NULL'\n");
        let err = engine
            .start(&migration("02_change", &yaml))
            .await
            .expect_err("the default cannot apply to the new type");
        let message = format!("{err} {}", err.help());
        assert!(message.contains("default"), "{message}");
        assert_eq!(db.snapshot().await, before, "nothing was changed");
    }
    // With its own default the same change is fine.
    engine
        .start(&migration(
            "02_change",
            "operations:\n  - alter_column:\n      table: t\n      column: flag\n      type: integer\n      default: '0'\n      up: 'NULL'\n",
        ))
        .await
        .unwrap();
    engine.complete().await.unwrap();
    assert_eq!(
        db.scalar_i64("SELECT count(*) FROM pg_attrdef WHERE adrelid = 'public.t'::regclass AND pg_get_expr(adbin, adrelid) = '0'").await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn identity_always_smallint_to_integer() {
    two_versions_concurrent(
        BASELINE,
        SEED,
        "operations:\n  - alter_column:\n      table: Orders\n      column: stamp\n      type: integer\n",
        old_writes,
        new_writes,
        |v| async move {
            assert_no_duplicates(&[&v.old, &v.new], "stamp").await;
        },
        |v, ending| async move {
            let c = v.db.client().await;
            let identity = text(&c, r#"SELECT attidentity::text FROM pg_attribute WHERE attrelid = 'public."Orders"'::regclass AND attname = 'stamp'"#).await;
            assert_eq!(identity.as_deref(), Some("a"), "still GENERATED ALWAYS AS IDENTITY");
            let client = match ending {
                Ending::Complete => &v.new,
                Ending::Rollback => &v.old,
            };
            let before = count(client, r#"SELECT max(stamp)::bigint FROM "Orders""#).await;
            client.batch_execute(r#"INSERT INTO "Orders" (label) VALUES ('after')"#).await.unwrap();
            let after = count(client, r#"SELECT stamp::bigint FROM "Orders" WHERE label = 'after'"#).await;
            assert!(after > before, "{after} follows {before}");
            let max = count(&c, r#"SELECT seqmax FROM pg_sequence WHERE seqrelid = pg_get_serial_sequence('public."Orders"', 'stamp')::regclass"#).await;
            match ending {
                Ending::Complete => assert_eq!(max, i64::from(i32::MAX), "the bound follows the new type"),
                Ending::Rollback => assert_eq!(max, i64::from(i16::MAX)),
            }
        },
    )
    .await;
}
