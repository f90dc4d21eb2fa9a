//! Stopping application writes on the active side, the safest way found:
//!
//! 1. `LOCK TABLE ... IN EXCLUSIVE MODE` on every table of the schema, in one transaction.
//!    EXCLUSIVE conflicts with every write lock and with nothing readers take, so reads go on
//!    while new writes queue. Write transactions already running are waited for; after a short
//!    grace, the sessions holding write locks on these tables are terminated (their
//!    uncommitted writes were never acknowledged, so the application retries them on the new
//!    side).
//! 2. In the same transaction, a `BEFORE ... FOR EACH STATEMENT` trigger on every table that
//!    raises SQLSTATE 25006 (read-only transaction). At commit, the queued writers wake up,
//!    see the trigger, and fail at once.
//!
//! Why not `default_transaction_read_only`: any session can `SET` it back, it only reaches new
//! sessions, and it would also make the reverse subscription's apply worker read-only. Why not
//! `REVOKE`: owners and superusers keep writing. The triggers stop everyone, owners included,
//! and sleep in the apply worker (session_replication_role = replica), which is exactly what
//! the reverse replication needs.

use crate::catalog;
use crate::names::REFUSE_TRIGGER;
use crate::refusal::refuse_trigger;
use crate::sides::{exec, open, Conn};
use crate::{Error, Result};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tandem_core::quote::{ident, qualified};

/// Sessions terminated because they held write locks past the grace.
pub struct Fenced {
    pub terminated: i64,
}

pub async fn stop_writes(
    active: &Conn,
    schema: &str,
    grace: Duration,
    lock_timeout: Duration,
) -> Result<Fenced> {
    let tables = catalog::tables(active.client(), schema).await?;
    let fence = open(&active.url).await?;
    let killer = open(&active.url).await?;
    let fence_pid: i32 = catalog::get(
        &fence
            .client()
            .query_one("SELECT pg_catalog.pg_backend_pid()", &[])
            .await
            .map_err(|e| Error::db("reading the fence session's pid", e))?,
        0,
    )?;
    let done = Arc::new(AtomicBool::new(false));
    let killer_done = done.clone();
    let schema_owned = schema.to_string();
    let terminator = tokio::spawn(async move {
        // Autovacuum gives way at once (it holds no application write and starts again later);
        // application sessions get the grace, cut short when the locks come first.
        let waited = std::time::Instant::now();
        let mut terminated = 0i64;
        while !killer_done.load(Ordering::SeqCst) {
            let killed = killer
                .client()
                .query(
                    "SELECT pg_catalog.pg_terminate_backend(l.pid) FROM pg_catalog.pg_locks l \
                     JOIN pg_catalog.pg_class c ON c.oid = l.relation \
                     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                     JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid \
                     WHERE n.nspname = $1 AND l.granted AND l.pid <> $2 \
                       AND (a.backend_type = 'autovacuum worker' OR $3) \
                       AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()) \
                       AND l.mode IN ('RowExclusiveLock', 'ShareUpdateExclusiveLock', 'ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock') \
                     GROUP BY l.pid",
                    &[&schema_owned, &fence_pid, &(waited.elapsed() >= grace)],
                )
                .await;
            if let Ok(rows) = killed {
                terminated += rows.len() as i64;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        terminated
    });
    let result = async {
        exec(&fence, "stopping writes", "BEGIN").await?;
        exec(
            &fence,
            "stopping writes",
            &format!("SET LOCAL lock_timeout = '{}ms'", lock_timeout.as_millis()),
        )
        .await?;
        if !tables.is_empty() {
            let list: Vec<String> = tables.iter().map(|t| qualified(schema, &t.name)).collect();
            exec(
                &fence,
                "locking the tables against writes",
                &format!("LOCK TABLE {} IN EXCLUSIVE MODE", list.join(", ")),
            )
            .await?;
        }
        done.store(true, Ordering::SeqCst);
        for t in &tables {
            exec(&fence, "refusing writes", &refuse_trigger(schema, &t.name)).await?;
        }
        exec(&fence, "stopping writes", "COMMIT").await
    }
    .await;
    done.store(true, Ordering::SeqCst);
    let terminated = terminator.await.unwrap_or(0);
    if let Err(e) = result {
        let _ = fence.client().execute("ROLLBACK", &[]).await;
        return Err(e);
    }
    Ok(Fenced { terminated })
}

/// Undoes [`stop_writes`] when a switch gives up before the other side took over.
pub async fn resume_writes(active: &Conn, schema: &str) -> Result<()> {
    for t in catalog::tables(active.client(), schema).await? {
        exec(
            active,
            "allowing writes again",
            &format!(
                "DROP TRIGGER IF EXISTS {} ON {}",
                ident(REFUSE_TRIGGER),
                qualified(schema, &t.name)
            ),
        )
        .await?;
    }
    Ok(())
}
