//! The atomic cut-over, gh-ost's way.
//!
//! 1. Connection A creates a sentry table named like the old table (`t_tandem_old`) and takes
//!    `LOCK TABLES t WRITE, t_tandem_old WRITE`: writes to `t` now wait.
//! 2. The applier applies the binary log up to the position of that moment: the shadow holds
//!    every write ever made to `t`. The applier is then held there: after the rename, events
//!    under `t`'s name are writes to the table renamed into its place, not to the one it
//!    copied from, and its target no longer exists under its name.
//! 3. Connection B issues `RENAME TABLE t TO t_tandem_old, t_tandem_new TO t`; it waits for A's
//!    lock on `t` (the server takes a statement's metadata locks in name order, and `t` sorts
//!    before the other two names), and a waiting exclusive lock is granted before the
//!    application's queued writes.
//! 4. A drops the sentry and unlocks: the rename runs first, then the queued writes go to the
//!    new `t`.
//!
//! If anything fails before step 4 (the rename does not show up waiting, A dies, the applier
//! lags), A unlocks while the sentry still exists, so a pending rename fails ("table exists")
//! instead of running; writes continue on the untouched original and the cut-over is retried.
//! Every step is bounded by `cut_over_timeout`, so the application waits at most that long.

use super::job::Job;
use crate::error::{codes, server_code, Error, Result};
use crate::events::Event;
use crate::quote::{ident, literal};
use crate::shadow::binlog::{current_position, Applier};
use crate::state::BinlogPos;
use mysql_async::prelude::*;
use mysql_async::Conn;
use std::time::{Duration, Instant};

/// Swaps `table` with `new` (the old table becomes `old`); returns the binary log position
/// taken under the lock: every later event on `table` is a write made after the cut-over.
pub async fn cut_over(
    job: &Job<'_>,
    table: &str,
    new: &str,
    old: &str,
    applier: &mut Applier,
) -> Result<BinlogPos> {
    let mut last_error = String::new();
    for attempt in 1..=job.config.cut_over_attempts.max(1) {
        (job.report)(Event::CutOverAttempt {
            table: table.to_string(),
            attempt,
        });
        match try_once(job, table, new, old, applier).await {
            Ok(Some(pos)) => return Ok(pos),
            Ok(None) => {
                // The tables were not renamed: the applier goes on for the next attempt.
                applier.release();
                last_error = "the lock or the rename timed out".into();
            }
            Err(e) => return Err(e),
        }
        tokio::time::sleep(job.policy.backoff(attempt)).await;
    }
    Err(Error::state(
        format!(
            "the cut-over of `{table}` did not succeed in {} attempts ({last_error})",
            job.config.cut_over_attempts
        ),
        "a long transaction or heavy writes keep the table busy; run `tandem complete` again later (the copy is kept up to date meanwhile only while a command runs)",
    ))
}

/// One attempt: `Ok(None)` when it timed out and may be retried.
async fn try_once(
    job: &Job<'_>,
    table: &str,
    new: &str,
    old: &str,
    applier: &mut Applier,
) -> Result<Option<BinlogPos>> {
    let timeout = job.config.cut_over_timeout;
    let secs = timeout.as_secs().max(1);
    let mut a = job.conn().await?;
    let mut b = job.conn().await?;
    let mut c = job.conn().await?;
    a.query_drop(format!("SET SESSION lock_wait_timeout = {secs}"))
        .await
        .map_err(Error::sql("cut-over: setting lock_wait_timeout"))?;
    a.query_drop(format!(
        "CREATE TABLE {} (id INT NOT NULL PRIMARY KEY) ENGINE=InnoDB COMMENT={}",
        ident(old),
        literal("tandem cut-over sentry")
    ))
    .await
    .map_err(|e| {
        if server_code(&e) == Some(codes::TABLE_EXISTS) {
            Error::state(
                format!("table `{old}` exists; the cut-over needs its name"),
                format!("drop it if it is not needed (DROP TABLE {})", ident(old)),
            )
        } else {
            Error::sql("cut-over: creating the sentry table")(e)
        }
    })?;
    let locked = a
        .query_drop(format!(
            "LOCK TABLES {} WRITE, {} WRITE",
            ident(table),
            ident(old)
        ))
        .await;
    if let Err(e) = locked {
        drop_sentry(&mut a, old).await?;
        if server_code(&e) == Some(codes::LOCK_WAIT_TIMEOUT) {
            return Ok(None);
        }
        return Err(Error::sql("cut-over: locking the tables")(e));
    }
    let locked_at = Instant::now();
    let outcome = async {
        let pos = current_position(&mut c).await?;
        if !applier.wait_for(&pos, timeout).await? {
            return Ok(None);
        }
        // Caught up, and no write to `table` can come while we hold the lock. Stop the applier
        // here: once the RENAME runs, events under `table`'s name belong to the table renamed
        // into its place (and the target `new` no longer exists under that name).
        applier.hold(&pos);
        let rename_id: Option<u64> = b
            .query_first("SELECT CONNECTION_ID()")
            .await
            .map_err(Error::sql("cut-over: reading the connection id"))?;
        b.query_drop(format!("SET SESSION lock_wait_timeout = {}", secs * 2))
            .await
            .map_err(Error::sql("cut-over: setting lock_wait_timeout"))?;
        Ok(Some((pos, rename_id.unwrap_or(0))))
    }
    .await;
    let (pos, rename_id) = match outcome {
        Ok(Some(found)) => found,
        other => {
            unlock_then_drop(&mut a, old).await?;
            return other.map(|_| None);
        }
    };
    let rename_sql = format!(
        "RENAME TABLE {} TO {}, {} TO {}",
        ident(table),
        ident(old),
        ident(new),
        ident(table)
    );
    let rename = tokio::spawn(async move {
        let result = b.query_drop(rename_sql).await;
        (b, result)
    });
    // Wait until the rename is queued behind our lock.
    let remaining = timeout.saturating_sub(locked_at.elapsed());
    let deadline = Instant::now() + remaining.max(Duration::from_millis(200));
    let mut waiting = false;
    while Instant::now() < deadline {
        let state: Option<Option<String>> = c
            .exec_first(
                "SELECT STATE FROM information_schema.PROCESSLIST WHERE ID = ?",
                (rename_id,),
            )
            .await
            .map_err(Error::sql("cut-over: watching the rename"))?;
        if state
            .flatten()
            .is_some_and(|s| s.to_ascii_lowercase().contains("metadata lock"))
        {
            waiting = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    if !waiting {
        // Unlock with the sentry in place: the rename, if it runs at all, fails.
        unlock_then_drop_after(&mut a, old, rename).await?;
        return Ok(None);
    }
    a.query_drop(format!("DROP TABLE {}", ident(old)))
        .await
        .map_err(Error::sql("cut-over: dropping the sentry"))?;
    a.query_drop("UNLOCK TABLES")
        .await
        .map_err(Error::sql("cut-over: unlocking"))?;
    let (_, result) = rename.await.map_err(|e| {
        Error::state(
            format!("the rename task failed: {e}"),
            "check SHOW TABLES: the table and its shadow are both kept",
        )
    })?;
    match result {
        Ok(()) => Ok(Some(pos)),
        Err(e) if server_code(&e) == Some(codes::LOCK_WAIT_TIMEOUT) => Ok(None),
        Err(e) => Err(Error::sql("cut-over: renaming the tables")(e)),
    }
}

async fn drop_sentry(a: &mut Conn, old: &str) -> Result<()> {
    a.query_drop(format!("DROP TABLE IF EXISTS {}", ident(old)))
        .await
        .map_err(Error::sql("cut-over: dropping the sentry"))
}

async fn unlock_then_drop(a: &mut Conn, old: &str) -> Result<()> {
    a.query_drop("UNLOCK TABLES")
        .await
        .map_err(Error::sql("cut-over: unlocking"))?;
    drop_sentry(a, old).await
}

async fn unlock_then_drop_after(
    a: &mut Conn,
    old: &str,
    rename: tokio::task::JoinHandle<(Conn, std::result::Result<(), mysql_async::Error>)>,
) -> Result<()> {
    a.query_drop("UNLOCK TABLES")
        .await
        .map_err(Error::sql("cut-over: unlocking"))?;
    // The rename now fails against the sentry (or times out); only then may the sentry go.
    let _ = rename.await;
    drop_sentry(a, old).await
}
