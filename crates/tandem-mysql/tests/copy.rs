//! The shadow-table change on MariaDB with an application writing throughout.

mod common;

use common::*;
use std::time::Duration;
use tandem_mysql::mysql_async::prelude::*;
use tandem_mysql::state::Status;
use tandem_mysql::Event;

/// Runs `yaml` as a copy while the writer writes; checks the checksum passed, the cut-over
/// happened, and every row the application committed is in the new table.
async fn copy_with_writes(db: &str, yaml: &str, v_column: &str) -> String {
    let url = database(db).await;
    seed(&url, 6000).await;
    let writer = Writer::start(&url).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let engine = engine(&url, copy_options(true)).await;
    let log = Log::default();
    let l = log.clone();
    let status = engine
        .start(&migration(db, yaml), &move |e| l.push(e))
        .await
        .unwrap();
    assert_eq!(status, Status::Complete);
    let during = writer.writes();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let expected = writer.stop().await;
    assert!(
        during.0 > 0 && during.1 > 0 && during.2 > 0,
        "writes during the copy: {during:?}"
    );
    let events = log.events();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::ChecksumPassed { .. })),
        "{events:?}"
    );
    assert!(
        events.iter().any(|e| matches!(e, Event::CutOver { .. })),
        "{events:?}"
    );
    assert_same_rows(&rows(&url, "items", v_column).await, &expected);
    assert!(
        tables(&url).await.contains(&"items_tandem_old".to_string()),
        "the old table is kept"
    );
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn alter_column_type_copies_online() {
    let url = copy_with_writes(
        "copy_alter_type",
        "operations:\n  - alter_column: {table: items, column: v, type: bigint}\n",
        "v",
    )
    .await;
    assert_eq!(
        column_type(&url, "items", "v").await.as_deref(),
        Some("bigint(20)")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn add_column_copies_online() {
    let url = copy_with_writes(
        "copy_add_column",
        "operations:\n  - add_column: {table: items, column: {name: flag, type: int, default: '7'}}\n",
        "v",
    )
    .await;
    let mut c = conn(&url).await;
    let bad: Option<i64> = c
        .query_first("SELECT COUNT(*) FROM items WHERE flag <> 7")
        .await
        .unwrap();
    assert_eq!(bad, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn drop_column_copies_online() {
    let url = copy_with_writes(
        "copy_drop_column",
        "operations:\n  - drop_column: {table: items, column: note}\n",
        "v",
    )
    .await;
    assert_eq!(column_type(&url, "items", "note").await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn create_index_and_constraints_copy_online() {
    let url = copy_with_writes(
        "copy_index",
        "operations:\n  - create_index: {name: items_v, table: items, columns: [v]}\n  - create_constraint: {table: items, name: items_v_positive, type: check, check: 'v >= 0'}\n  - alter_column: {table: items, column: note, comment: 'a note'}\n",
        "v",
    )
    .await;
    let mut c = conn(&url).await;
    let indexes: Vec<String> = c
        .query("SELECT INDEX_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'items'")
        .await
        .unwrap();
    assert!(indexes.contains(&"items_v".to_string()), "{indexes:?}");
    assert!(c
        .query_drop("INSERT INTO items (v) VALUES (-1)")
        .await
        .is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rename_column_copies_online() {
    // The writer writes `v`; a rename would break it, so rename `note` instead and read `v`.
    let url = copy_with_writes(
        "copy_rename_column",
        "operations:\n  - rename_column: {table: items, from: note, to: remark}\n",
        "v",
    )
    .await;
    assert_eq!(
        column_type(&url, "items", "remark").await.as_deref(),
        Some("varchar(40)")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rollback_after_cut_over_keeps_every_write() {
    let url = database("rollback_after").await;
    seed(&url, 3000).await;
    let engine = engine(&url, copy_options(true)).await;
    let m = migration(
        "rollback_after",
        "operations:\n  - alter_column: {table: items, column: v, type: bigint}\n",
    );
    assert_eq!(engine.start_quietly(&m).await.unwrap(), Status::Complete);
    // The application writes to the new table after the cut-over...
    let writer = Writer::start(&url).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let during = writer.writes();
    assert!(during.0 > 0 && during.1 > 0 && during.2 > 0);
    // ...and keeps writing while the rollback swaps the old table back.
    engine.rollback(&|_| {}).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let expected = writer.stop().await;
    assert_eq!(
        column_type(&url, "items", "v").await.as_deref(),
        Some("int(11)")
    );
    assert_same_rows(&rows(&url, "items", "v").await, &expected);
    assert_eq!(
        engine.status().await.unwrap().unwrap().status,
        "rolled_back"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postponed_cut_over_then_rollback_abandons_the_copy() {
    let url = database("rollback_before").await;
    seed(&url, 2000).await;
    let mut options = copy_options(true);
    options.postpone_cut_over = true;
    let engine = engine(&url, options).await;
    let m = migration(
        "rollback_before",
        "operations:\n  - alter_column: {table: items, column: v, type: bigint}\n",
    );
    assert_eq!(
        engine.start_quietly(&m).await.unwrap(),
        Status::ReadyForCutOver
    );
    let status = engine.status().await.unwrap().unwrap();
    assert_eq!(status.status, "ready_for_cut_over");
    assert_eq!(status.rows_copied, 2000);
    assert!(status.copy_done);
    assert!(tables(&url).await.contains(&"items_tandem_new".to_string()));
    engine.rollback(&|_| {}).await.unwrap();
    assert!(!tables(&url).await.contains(&"items_tandem_new".to_string()));
    assert_eq!(
        column_type(&url, "items", "v").await.as_deref(),
        Some("int(11)")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cut_over_waits_for_a_long_transaction_without_stalling_writes() {
    let url = database("mdl_wait").await;
    seed(&url, 2000).await;
    let mut options = copy_options(true);
    options.postpone_cut_over = true;
    options.lock.lock_wait_timeout = Duration::from_secs(1);
    options.copy.cut_over_timeout = Duration::from_secs(1);
    let engine = engine(&url, options).await;
    let m = migration(
        "mdl_wait",
        "operations:\n  - alter_column: {table: items, column: v, type: bigint}\n",
    );
    assert_eq!(
        engine.start_quietly(&m).await.unwrap(),
        Status::ReadyForCutOver
    );
    // A long transaction holds a metadata lock on the table.
    let mut long = conn(&url).await;
    long.query_drop("START TRANSACTION").await.unwrap();
    let _: Vec<i64> = long.query("SELECT id FROM items LIMIT 1").await.unwrap();
    let writer = Writer::start(&url).await;
    let log = Log::default();
    let l = log.clone();
    let complete = tokio::spawn(async move { engine.complete(&move |e| l.push(e)).await });
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(
        !complete.is_finished(),
        "the cut-over cannot happen while the transaction runs"
    );
    long.query_drop("COMMIT").await.unwrap();
    assert_eq!(complete.await.unwrap().unwrap(), Status::Complete);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let slowest = writer.slowest_ms.load(std::sync::atomic::Ordering::Relaxed);
    let writes = writer.writes();
    let expected = writer.stop().await;
    let attempts = log
        .events()
        .iter()
        .filter(|e| matches!(e, Event::CutOverAttempt { .. }))
        .count();
    assert!(
        attempts > 1,
        "tandem retried the cut-over: {attempts} attempt(s)"
    );
    assert!(writes.0 > 50, "the application kept writing: {writes:?}");
    // Each attempt blocks writes for at most the lock timeout (1 s) plus the cut-over itself.
    assert!(slowest < 2_500, "the slowest write took {slowest} ms");
    assert_same_rows(&rows(&url, "items", "v").await, &expected);
    assert_eq!(
        column_type(&url, "items", "v").await.as_deref(),
        Some("bigint(20)")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_difference_in_the_copy_stops_the_cut_over() {
    let url = database("checksum_catches").await;
    seed(&url, 3000).await;
    let mut options = copy_options(true);
    options.postpone_cut_over = true;
    let engine = engine(&url, options).await;
    let m = migration(
        "checksum_catches",
        "operations:\n  - alter_column: {table: items, column: v, type: bigint}\n",
    );
    assert_eq!(
        engine.start_quietly(&m).await.unwrap(),
        Status::ReadyForCutOver
    );
    // Something other than tandem changes one row of the copy.
    let mut c = conn(&url).await;
    c.query_drop("UPDATE items_tandem_new SET v = v + 1 WHERE id = 2500")
        .await
        .unwrap();
    let error = engine.complete(&|_| {}).await.unwrap_err();
    assert!(
        matches!(error, tandem_mysql::Error::Checksum { chunks: 1, .. }),
        "{error}"
    );
    assert_eq!(
        column_type(&url, "items", "v").await.as_deref(),
        Some("int(11)")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_new_unique_index_on_duplicates_fails_instead_of_dropping_rows() {
    let url = database("unique_dupes").await;
    seed(&url, 1000).await;
    let mut c = conn(&url).await;
    c.query_drop("UPDATE items SET note = 'same' WHERE id IN (10, 20)")
        .await
        .unwrap();
    let engine = engine(&url, copy_options(true)).await;
    let m = migration(
        "unique_dupes",
        "operations:\n  - create_constraint: {table: items, name: items_note_key, type: unique, columns: [note]}\n",
    );
    let error = engine.start_quietly(&m).await.unwrap_err().to_string();
    assert!(error.contains("duplicate"), "{error}");
    assert_eq!(rows(&url, "items", "v").await.len(), 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_pause_flag_holds_the_copy_and_status_says_so() {
    let url = database("pause_flag").await;
    // Enough rows that the copy is still running at its first checkpoint (after 200 ms).
    seed(&url, 100_000).await;
    let engine = std::sync::Arc::new(engine(&url, copy_options(true)).await);
    let m = migration(
        "pause_flag",
        "operations:\n  - alter_column: {table: items, column: v, type: bigint}\n",
    );
    let runner = {
        let engine = engine.clone();
        tokio::spawn(async move { engine.start_quietly(&m).await })
    };
    // Pause as soon as the copy has begun.
    let mut paused_at = None;
    for _ in 0..500 {
        if let Some(s) = engine.status().await.unwrap() {
            if s.table.is_some() && s.rows_copied > 0 && !s.copy_done {
                engine.set_paused(true).await.unwrap();
                paused_at = Some(s.rows_copied);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(paused_at.is_some(), "the copy started");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let held = engine.status().await.unwrap().unwrap();
    assert!(held.paused);
    assert!(held.throttle.contains("paused"), "{held:?}");
    assert!(!held.copy_done && held.rows_copied < 100_000, "{held:?}");
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        engine.status().await.unwrap().unwrap().rows_copied,
        held.rows_copied
    );
    assert!(!runner.is_finished());
    engine.set_paused(false).await.unwrap();
    assert_eq!(runner.await.unwrap().unwrap(), Status::Complete);
    let done = engine.status().await.unwrap().unwrap();
    assert!(done.cut_over && done.rows_copied == 100_000, "{done:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn complete_cuts_over_a_postponed_copy_and_runs_the_changes_after_it() {
    let url = database("postponed_then_more").await;
    seed(&url, 2000).await;
    let mut options = copy_options(false);
    options.postpone_cut_over = true;
    let engine = engine(&url, options).await;
    let m = migration(
        "postponed_then_more",
        "operations:\n  - alter_column: {table: items, column: v, type: bigint}\n  - rename_column: {table: items, from: note, to: remark}\n",
    );
    assert_eq!(
        engine.start_quietly(&m).await.unwrap(),
        Status::ReadyForCutOver
    );
    let waiting = engine.status().await.unwrap().unwrap();
    assert_eq!((waiting.changes_done, waiting.changes_total), (0, 2));
    assert_eq!(
        column_type(&url, "items", "v").await.as_deref(),
        Some("int(11)")
    );
    let writer = Writer::start(&url).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(engine.complete(&|_| {}).await.unwrap(), Status::Complete);
    let expected = writer.stop().await;
    assert_eq!(
        column_type(&url, "items", "v").await.as_deref(),
        Some("bigint(20)")
    );
    assert_eq!(
        column_type(&url, "items", "remark").await.as_deref(),
        Some("varchar(40)")
    );
    assert_same_rows(&rows(&url, "items", "v").await, &expected);
    let done = engine.status().await.unwrap().unwrap();
    assert_eq!((done.status.as_str(), done.changes_done), ("complete", 2));
}
