//! Which version wrote a row: decided by the session's effective search path, also when it is
//! a list (`new_version, public`), set per transaction (SET LOCAL), or when the write bypasses
//! the version schemas.

use tandem_testkit::{fresh_db, migration};

const BASELINE: &str = "operations:\n  - create_table:\n      name: items\n      columns:\n        - {name: id, type: serial, pk: true}\n        - {name: price, type: text, nullable: true}\n";
const CHANGE: &str = "operations:\n  - alter_column:\n      table: items\n      column: price\n      type: integer\n      up: CAST(price AS integer) * 10\n      down: CAST(price / 10 AS text)\n";

/// The physical old column and the new version's value of one row.
async fn both(db: &tandem_testkit::Db, id: i32) -> (Option<String>, Option<String>) {
    let c = db.client().await;
    let old: Option<String> = c
        .query_one("SELECT price FROM public.items WHERE id = $1", &[&id])
        .await
        .unwrap()
        .get(0);
    let new: Option<String> = c
        .query_one(
            "SELECT price::text FROM public_02_change.items WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap()
        .get(0);
    (old, new)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_search_path_decides_which_version_wrote() {
    let db = fresh_db().await;
    db.apply("01_baseline", BASELINE).await;
    let mut engine = db.engine().await;
    engine.start(&migration("02_change", CHANGE)).await.unwrap();

    // A list with the new version first: the new version's write, so down computes the old value.
    let c = db.client().await;
    c.batch_execute("SET search_path TO public_02_change, public")
        .await
        .unwrap();
    let id: i32 = c
        .query_one("INSERT INTO items (price) VALUES (50) RETURNING id", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(both(&db, id).await, (Some("5".into()), Some("50".into())));

    // The table's schema first: unqualified names reach the table itself, an old-version write.
    c.batch_execute("SET search_path TO public, public_02_change")
        .await
        .unwrap();
    let id: i32 = c
        .query_one("INSERT INTO items (price) VALUES ('7') RETURNING id", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(both(&db, id).await, (Some("7".into()), Some("70".into())));

    // SET LOCAL: the new version inside the transaction only.
    let mut c = db.client().await;
    c.batch_execute("SET search_path TO public").await.unwrap();
    let tx = c.transaction().await.unwrap();
    tx.batch_execute("SET LOCAL search_path TO public_02_change")
        .await
        .unwrap();
    let id_new: i32 = tx
        .query_one("INSERT INTO items (price) VALUES (30) RETURNING id", &[])
        .await
        .unwrap()
        .get(0);
    tx.commit().await.unwrap();
    assert_eq!(
        both(&db, id_new).await,
        (Some("3".into()), Some("30".into()))
    );
    // After the transaction the session is back on the old version.
    let id_old: i32 = c
        .query_one("INSERT INTO items (price) VALUES ('4') RETURNING id", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        both(&db, id_old).await,
        (Some("4".into()), Some("40".into()))
    );

    // A write that bypasses the version schemas, schema-qualified to the table: the old version.
    let c = db.client_on("public_02_change").await;
    c.batch_execute(&format!(
        "UPDATE public.items SET price = '9' WHERE id = {id_old}"
    ))
    .await
    .unwrap();
    assert_eq!(
        both(&db, id_old).await,
        (Some("9".into()), Some("90".into()))
    );

    // An update through the new version keeps the old side in step.
    c.batch_execute(&format!("UPDATE items SET price = 120 WHERE id = {id_old}"))
        .await
        .unwrap();
    assert_eq!(
        both(&db, id_old).await,
        (Some("12".into()), Some("120".into()))
    );

    engine.complete().await.unwrap();
    let c = db.client().await;
    let values: Vec<String> = c
        .query("SELECT price::text FROM public.items ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(values, ["50", "70", "30", "120"]);
}
