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

/// Two migration files, the first a type change with no inverse (text to its length, no
/// `down`): green gets the composed mapping; after switchover, rows green writes reach blue
/// with the value cast back, as tandem does for a new-version write without `down`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_files_and_a_type_change_without_inverse() {
    let blue_cluster = logical_cluster(&[]);
    let green_cluster = logical_cluster(&[]);
    let blue = database(&blue_cluster, "inv").await;
    let green = database(&green_cluster, "inv").await;
    let b = client(&blue).await;
    b.batch_execute(
        "CREATE TABLE public.parts (id bigint PRIMARY KEY, code text, label text NOT NULL);
         INSERT INTO public.parts SELECT g, 'code-' || repeat('x', g % 7), 'part ' || g FROM generate_series(1, 300) g;",
    )
    .await
    .unwrap();
    let first = Migration::parse(
        "01_code_length",
        "01_code_length.yaml",
        "operations:\n  - alter_column:\n      table: parts\n      column: code\n      type: integer\n      up: \"length(code)\"\n",
        false,
    )
    .unwrap();
    let second = Migration::parse(
        "02_rename",
        "02_rename.yaml",
        "operations:\n  - rename_column: {table: parts, from: code, to: code_length}\n",
        false,
    )
    .unwrap();
    let options = options(&blue, &green);
    let report = tandem_bluegreen::create(&options, &[first, second], &Quiet)
        .await
        .unwrap();
    assert_eq!(report.staged, vec!["parts".to_string()]);
    wait_streaming(&options).await;
    b.execute("UPDATE public.parts SET code = 'abc' WHERE id = 1", &[])
        .await
        .unwrap();
    let v = tandem_bluegreen::verify(&options, &VerifySettings::default(), &Quiet)
        .await
        .unwrap();
    assert!(v.ok, "{v:?}");
    tandem_bluegreen::switchover(&options, &SwitchSettings::default(), &Quiet)
        .await
        .unwrap();
    let g = client(&green).await;
    assert_eq!(
        strings(&g, "SELECT code_length::text || ' ' || label FROM public.parts WHERE id IN (1, 2) ORDER BY id").await,
        vec!["3 part 1", "7 part 2"]
    );
    g.execute(
        "UPDATE public.parts SET label = 'relabelled', code_length = 99 WHERE id = 2",
        &[],
    )
    .await
    .unwrap();
    g.execute(
        "INSERT INTO public.parts (id, code_length, label) VALUES (1000, 5, 'from green')",
        &[],
    )
    .await
    .unwrap();
    wait_streaming(&options).await;
    tandem_bluegreen::switchback(
        &options,
        &SwitchSettings {
            require_verified: false,
            ..SwitchSettings::default()
        },
        &Quiet,
    )
    .await
    .unwrap();
    assert_eq!(
        strings(&b, "SELECT id || ' ' || coalesce(code, 'NULL') || ' ' || label FROM public.parts WHERE id IN (2, 1000) ORDER BY id").await,
        vec!["2 99 relabelled", "1000 5 from green"]
    );
    assert_eq!(
        strings(&b, "SELECT code FROM public.parts WHERE id = 3").await,
        vec!["code-xxx".to_string()],
        "a row green never wrote keeps blue's original value"
    );
    tandem_bluegreen::cleanup(&options).await.unwrap();
}
