//! What goes wrong: unmet preconditions, broken replication (a dropped slot, a stopped apply
//! worker, a restarted green), and lag over the threshold. Status reports each; switchover
//! refuses each without stopping writes on blue.

mod common;

use common::*;
use std::time::Duration;
use tandem_bluegreen::{Quiet, Side, SwitchSettings};

async fn blue_still_takes_writes(blue: &str) {
    let b = client(blue).await;
    b.execute(
        "INSERT INTO public.accounts (owner) VALUES ('still writable')",
        &[],
    )
    .await
    .expect("switchover refused, so blue must take writes");
    assert_eq!(
        count(
            &b,
            "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'tandem_bluegreen%'"
        )
        .await,
        0,
        "no write fence left on blue"
    );
}

fn verified_settings() -> SwitchSettings {
    SwitchSettings {
        require_verified: false,
        ..SwitchSettings::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn broken_replication_is_reported_and_refused() {
    let blue_cluster = logical_cluster(&[]);
    // A long retry interval keeps a failed apply worker down long enough to look at.
    let mut green_cluster = logical_cluster(&[("wal_retrieve_retry_interval", "60s")]);
    let blue = database(&blue_cluster, "bank").await;
    let green = database(&green_cluster, "bank").await;
    let b = client(&blue).await;
    b.batch_execute(
        "CREATE TABLE public.accounts (id serial PRIMARY KEY, owner text NOT NULL, balance numeric NOT NULL DEFAULT 0);
         CREATE TABLE public.nokey (a int, b text);
         INSERT INTO public.accounts (owner) SELECT 'owner ' || g FROM generate_series(1, 1000) g;",
    )
    .await
    .unwrap();
    let options = options(&blue, &green);

    // Preconditions: each failure named with its fix, nothing changed on green.
    let err = tandem_bluegreen::create(&options, &[], &Quiet)
        .await
        .unwrap_err();
    let text = format!("{err} {}", err.help());
    assert!(
        text.contains("nokey") && text.contains("REPLICA IDENTITY"),
        "{text}"
    );
    let g = client(&green).await;
    assert_eq!(
        count(
            &g,
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
        )
        .await,
        0
    );
    b.batch_execute("ALTER TABLE public.nokey ADD PRIMARY KEY (a)")
        .await
        .unwrap();

    tandem_bluegreen::create(&options, &[], &Quiet)
        .await
        .unwrap();
    wait_streaming(&options).await;

    // Lag over the threshold: green's apply is held by a lock while blue writes megabytes
    // (random text: TOAST would compress a repeated string to nothing).
    let holder = client(&green).await;
    holder
        .batch_execute("BEGIN; LOCK TABLE public.accounts IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    b.batch_execute("INSERT INTO public.accounts (owner) SELECT concat(md5(random()::text), md5(random()::text), md5(random()::text), md5(random()::text), md5(random()::text), md5(random()::text), md5(random()::text), md5(random()::text)) FROM generate_series(1, 30000)")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let s = tandem_bluegreen::status(&options).await.unwrap();
    assert!(s.lag_bytes.is_some(), "{s:?}");
    let err = tandem_bluegreen::switchover(
        &options,
        &SwitchSettings {
            max_lag_time: Duration::from_millis(500),
            ..verified_settings()
        },
        &Quiet,
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("behind"), "{err}");
    blue_still_takes_writes(&blue).await;
    holder.batch_execute("COMMIT").await.unwrap();
    wait_streaming(&options).await;

    // The apply worker stops (ended by hand; it stays down for wal_retrieve_retry_interval).
    let g = client(&green).await;
    g.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_subscription WHERE pid IS NOT NULL",
        &[],
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let s = tandem_bluegreen::status(&options).await.unwrap();
    assert_eq!(s.state, "broken", "{s:?}");
    let err = tandem_bluegreen::switchover(&options, &verified_settings(), &Quiet)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("broken"), "{err}");
    // Restarting green brings the worker back at once.
    blue_still_takes_writes(&blue).await;

    // Green restarted (like a crash): replication resumes by itself, nothing is lost.
    green_cluster.restart().unwrap();
    b.execute(
        "INSERT INTO public.accounts (owner) VALUES ('during restart')",
        &[],
    )
    .await
    .unwrap();
    wait_streaming(&options).await;
    let verified = tandem_bluegreen::verify(&options, &Default::default(), &Quiet)
        .await
        .unwrap();
    assert!(verified.ok, "{verified:?}");

    // The slot dropped on blue: reported, refused, and cleanup still leaves nothing.
    let b2 = client(&blue).await;
    for _ in 0..100 {
        let _ = b2
            .execute("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE active_pid IS NOT NULL", &[])
            .await;
        if b2
            .execute(
                "SELECT pg_drop_replication_slot('tandem_bg_from_blue')",
                &[],
            )
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let s = tandem_bluegreen::status(&options).await.unwrap();
    assert_eq!(s.state, "broken", "{s:?}");
    assert!(
        s.last_error
            .as_deref()
            .unwrap_or("")
            .contains("does not exist"),
        "{s:?}"
    );
    assert_eq!(s.active, Some(Side::Blue));
    let err = tandem_bluegreen::switchover(&options, &verified_settings(), &Quiet)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("slot"), "{err}");
    blue_still_takes_writes(&blue).await;

    tandem_bluegreen::cleanup(&options).await.unwrap();
    for url in [&blue, &green] {
        let c = client(url).await;
        assert_eq!(
            count(&c, "SELECT count(*) FROM pg_replication_slots").await,
            0,
            "{url}"
        );
        assert_eq!(
            count(&c, "SELECT count(*) FROM pg_publication").await,
            0,
            "{url}"
        );
        assert_eq!(
            count(&c, "SELECT count(*) FROM pg_subscription").await,
            0,
            "{url}"
        );
    }
    green_cluster.stop();
}

#[tokio::test]
async fn wal_level_replica_is_named_with_its_fix() {
    let blue_cluster = tandem_ephemeral::Cluster::start().unwrap();
    let green_cluster = logical_cluster(&[]);
    let blue = database(&blue_cluster, "plain").await;
    let green = database(&green_cluster, "plain").await;
    let err = tandem_bluegreen::create(&options(&blue, &green), &[], &Quiet)
        .await
        .unwrap_err();
    let text = format!("{err} {}", err.help());
    assert!(
        text.contains("wal_level") && text.contains("wal_level = logical"),
        "{text}"
    );
}
