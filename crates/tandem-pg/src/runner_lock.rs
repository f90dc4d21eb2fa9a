//! One tandem at a time per database: a session-level advisory lock, taken by polling
//! `pg_try_advisory_lock`. Blocking on `pg_advisory_lock` would deadlock with
//! CREATE INDEX CONCURRENTLY, which waits for every transaction older than itself.

use crate::error::{Error, Result};
use crate::events::{Event, Reporter};
use crate::rows::column;
use std::time::{Duration, Instant};
use tokio_postgres::Client;

/// The advisory lock key: "tandem" in ASCII.
pub const RUNNER_LOCK_KEY: i64 = 0x74_61_6e_64_65_6d;

/// Polls for the runner lock for up to `wait`, reporting every few seconds.
pub(crate) async fn acquire(
    client: &Client,
    wait: Duration,
    reporter: &dyn Reporter,
) -> Result<()> {
    let begun = Instant::now();
    let mut last_report = Instant::now();
    loop {
        let what = "taking tandem's runner lock";
        let row = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&RUNNER_LOCK_KEY])
            .await
            .map_err(|e| Error::db(what, e))?;
        let got: bool = column(&row, 0, what)?;
        if got {
            return Ok(());
        }
        let holder = holder(client).await;
        if begun.elapsed() >= wait {
            return Err(Error::Busy {
                message: format!(
                    "another tandem is running on this database ({}) and did not finish within {:?}",
                    holder.as_deref().unwrap_or("holder unknown"),
                    wait
                ),
                help: "wait for it to finish and run the command again, or raise --wait-for-runner".into(),
            });
        }
        if last_report.elapsed() >= Duration::from_secs(2) {
            reporter.event(Event::WaitingForRunner {
                elapsed: begun.elapsed(),
                holder: holder.clone(),
            });
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Releases the lock (it is also released when the connection closes).
pub(crate) async fn release(client: &Client) -> Result<()> {
    client
        .query_one("SELECT pg_advisory_unlock($1)", &[&RUNNER_LOCK_KEY])
        .await
        .map_err(|e| Error::db("releasing tandem's runner lock", e))?;
    Ok(())
}

/// Who holds the lock: pid, application and since when (`None` when that cannot be found out:
/// it only adds detail to a message).
async fn holder(client: &Client) -> Option<String> {
    let row = client
        .query_opt(
            "SELECT format('pid %s, %s, running since %s', a.pid, coalesce(nullif(a.application_name, ''), 'unknown application'), \
                    date_trunc('second', a.backend_start)) \
             FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
               AND l.classid = ($1::bigint >> 32)::oid AND l.objid = ($1::bigint & 4294967295)::oid AND l.objsubid = 1 LIMIT 1",
            &[&RUNNER_LOCK_KEY],
        )
        .await
        .ok()??;
    column(&row, 0, "finding who holds tandem's runner lock").ok()
}
