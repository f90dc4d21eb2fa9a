//! A migration that renames a table, adds a column computed from another (`up`) and drops one
//! (`down` gives it back): rows flow blue -> green and, after switchover, green -> blue.

mod common;

use common::*;
use tandem_bluegreen::{Quiet, Side, SwitchSettings, VerifySettings};
use tandem_core::Migration;

const MIGRATION: &str = r#"
operations:
  - rename_table: {from: customers, to: clients}
  - add_column:
      table: clients
      column: {name: domain, type: text, nullable: true}
      up: "split_part(email, '@', 2)"
  - drop_column:
      table: clients
      column: legacy
      down: "'from green'"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renamed_table_added_and_dropped_columns_flow_both_ways() {
    let blue_cluster = logical_cluster(&[]);
    let green_cluster = logical_cluster(&[]);
    let blue = database(&blue_cluster, "crm").await;
    let green = database(&green_cluster, "crm").await;
    let b = client(&blue).await;
    b.batch_execute(
        "CREATE TABLE public.customers (id serial PRIMARY KEY, email text NOT NULL, legacy text NOT NULL DEFAULT 'old');
         INSERT INTO public.customers (email) SELECT 'c' || g || '@site' || (g % 3) || '.example' FROM generate_series(1, 500) g;",
    )
    .await
    .unwrap();
    let options = options(&blue, &green);
    let m = Migration::parse("03_clients", "03_clients.yaml", MIGRATION, false).unwrap();
    let report = tandem_bluegreen::create(&options, &[m], &Quiet)
        .await
        .unwrap();
    assert_eq!(report.staged, vec!["customers".to_string()]);
    wait_streaming(&options).await;
    b.execute(
        "INSERT INTO public.customers (email) VALUES ('new@blue.example')",
        &[],
    )
    .await
    .unwrap();
    b.execute(
        "UPDATE public.customers SET email = 'moved@other.example' WHERE id = 1",
        &[],
    )
    .await
    .unwrap();
    b.execute("DELETE FROM public.customers WHERE id = 2", &[])
        .await
        .unwrap();
    let v = tandem_bluegreen::verify(&options, &VerifySettings::default(), &Quiet)
        .await
        .unwrap();
    assert!(v.ok, "{v:?}");

    let g = client(&green).await;
    assert_eq!(
        strings(
            &g,
            "SELECT email || ' ' || domain FROM public.clients WHERE id IN (1, 501) ORDER BY id"
        )
        .await,
        vec![
            "moved@other.example other.example",
            "new@blue.example blue.example"
        ]
    );
    assert_eq!(
        count(&g, "SELECT count(*) FROM public.clients WHERE id = 2").await,
        0
    );

    tandem_bluegreen::switchover(&options, &SwitchSettings::default(), &Quiet)
        .await
        .unwrap();
    assert_eq!(count(&g, "SELECT count(*) FROM public.clients").await, 500);
    g.execute(
        "INSERT INTO public.clients (email, domain) VALUES ('g@green.example', 'green.example')",
        &[],
    )
    .await
    .unwrap();
    g.execute(
        "UPDATE public.clients SET email = 'changed@green.example' WHERE id = 3",
        &[],
    )
    .await
    .unwrap();
    g.execute("DELETE FROM public.clients WHERE id = 4", &[])
        .await
        .unwrap();
    wait_streaming(&options).await;
    let v = tandem_bluegreen::verify(&options, &VerifySettings::default(), &Quiet)
        .await
        .unwrap();
    assert!(v.ok, "{v:?}");
    let back = tandem_bluegreen::switchback(&options, &SwitchSettings::default(), &Quiet)
        .await
        .unwrap();
    assert_eq!(back.to, Side::Blue);
    assert_eq!(
        strings(&b, "SELECT id || ' ' || email || ' ' || legacy FROM public.customers WHERE id IN (3, 5, 502) ORDER BY id").await,
        // A row green wrote gets the dropped column from `down` (as a write of the new
        // version does under expand/contract); a row green never touched keeps blue's value.
        vec!["3 changed@green.example from green", "5 c5@site2.example old", "502 g@green.example from green"],
        "green's writes on blue in blue's shape"
    );
    assert_eq!(
        count(&b, "SELECT count(*) FROM public.customers WHERE id = 4").await,
        0
    );
    b.execute(
        "INSERT INTO public.customers (email) VALUES ('back@blue.example')",
        &[],
    )
    .await
    .unwrap();
    tandem_bluegreen::cleanup(&options).await.unwrap();
}
