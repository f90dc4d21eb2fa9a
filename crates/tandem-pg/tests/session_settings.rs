//! Timeouts set on the role or the database for the application must not break tandem's own
//! long statements (concurrent index builds, VALIDATE, backfill batches).

use tandem_pg::BackfillSettings;
use tandem_testkit::{fresh_db, migration, settings};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_statement_timeout_does_not_fail_long_steps() {
    let db = fresh_db().await;
    db.execute(
        "CREATE TABLE orders (id bigint PRIMARY KEY, amount text NOT NULL, note text);
         INSERT INTO orders SELECT g, (g % 1000)::text, md5(g::text) FROM generate_series(1, 200000) g;",
    )
    .await;
    // What a DBA sets for the application; every new session of the database inherits it.
    db.execute(&format!(
        "ALTER DATABASE \"{}\" SET statement_timeout = '30ms'; \
         ALTER DATABASE \"{}\" SET idle_in_transaction_session_timeout = '30ms'",
        db.name, db.name
    ))
    .await;
    // The timeout really applies to a new session: a slow statement fails.
    let probe = db.client().await;
    let slow = probe.batch_execute("SELECT pg_sleep(0.2)").await;
    assert!(
        slow.is_err(),
        "the database's statement_timeout is in force"
    );

    let mut s = settings();
    // One batch for the whole table: a single long UPDATE, well over 30 ms.
    s.backfill = BackfillSettings {
        batch_size: Some(1_000_000),
        ..Default::default()
    };
    let mut engine = db.engine_with(s).await;
    let m = migration(
        "02_amount_numeric",
        r#"
operations:
  - alter_column:
      table: orders
      column: amount
      type: numeric
      up: amount::numeric
      down: amount::text
  - create_index:
      name: orders_note_idx
      table: orders
      columns: [note]
"#,
    );
    engine
        .start(&m)
        .await
        .unwrap_or_else(|e| panic!("start under a 30 ms statement_timeout: {e} ({})", e.help()));
    engine.complete().await.unwrap_or_else(|e| {
        panic!(
            "complete under a 30 ms statement_timeout: {e} ({})",
            e.help()
        )
    });
    let c = db.client().await;
    c.batch_execute("SET statement_timeout = 0").await.unwrap();
    let row = c
        .query_one(
            "SELECT format_type(atttypid, atttypmod), (SELECT count(*) FROM orders WHERE amount IS NULL), \
             (SELECT indisvalid FROM pg_index WHERE indexrelid = 'orders_note_idx'::regclass) \
             FROM pg_attribute WHERE attrelid = 'orders'::regclass AND attname = 'amount'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "numeric");
    assert_eq!(row.get::<_, i64>(1), 0);
    assert!(row.get::<_, bool>(2), "the index was built and is valid");
}
