//! DDL under a bounded metadata-lock wait: every statement runs with a short
//! `lock_wait_timeout` and is retried with backoff and jitter within a budget, so the application
//! never queues behind tandem for longer than that timeout.

use crate::error::{codes, server_code, Error, Result};
use mysql_async::prelude::*;
use mysql_async::Conn;
use std::time::{Duration, Instant};

/// How long a statement may wait for a metadata lock, and how long to keep retrying.
#[derive(Debug, Clone)]
pub struct LockPolicy {
    /// `lock_wait_timeout` in whole seconds (the server's unit); at least 1.
    pub lock_wait_timeout: Duration,
    /// Total time to keep retrying a statement that timed out on its lock.
    pub retry_budget: Duration,
}

impl Default for LockPolicy {
    fn default() -> Self {
        LockPolicy {
            lock_wait_timeout: Duration::from_secs(1),
            retry_budget: Duration::from_secs(60),
        }
    }
}

impl LockPolicy {
    pub(crate) fn timeout_secs(&self) -> u64 {
        self.lock_wait_timeout.as_secs().max(1)
    }

    /// Sets the session's lock waits (metadata and InnoDB row locks) to the policy's timeout.
    pub(crate) async fn apply(&self, conn: &mut Conn) -> Result<()> {
        let secs = self.timeout_secs();
        conn.query_drop(format!(
            "SET SESSION lock_wait_timeout = {secs}, SESSION innodb_lock_wait_timeout = {secs}"
        ))
        .await
        .map_err(Error::sql("setting lock_wait_timeout"))
    }

    /// Backoff before attempt `attempt` (1-based): exponential from 100 ms, capped at 5 s, with
    /// jitter so several waiting tools do not retry in lockstep.
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        let base = 100u64.saturating_mul(1 << attempt.min(6)).min(5_000);
        Duration::from_millis(base / 2 + fastrand::u64(0..=base / 2))
    }
}

/// Runs one statement (as a prepared statement: never more than one) under `policy`.
/// `what` names it in errors.
pub async fn run_locked(conn: &mut Conn, sql: &str, policy: &LockPolicy, what: &str) -> Result<()> {
    policy.apply(conn).await?;
    let started = Instant::now();
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        match conn.exec_drop(sql, ()).await {
            Ok(()) => return Ok(()),
            Err(e) if server_code(&e) == Some(codes::LOCK_WAIT_TIMEOUT) => {
                if started.elapsed() + policy.lock_wait_timeout > policy.retry_budget {
                    return Err(Error::LockBudget {
                        what: what.to_string(),
                        attempts: attempt,
                        timeout_secs: policy.timeout_secs(),
                        source: e,
                    });
                }
                tokio::time::sleep(policy.backoff(attempt)).await;
            }
            Err(e) => return Err(Error::sql(format!("{what}: {sql}"))(e)),
        }
    }
}

/// How the server carried out an ALTER.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Instant,
    InplaceNoLock,
}

impl Algorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Instant => "ALGORITHM=INSTANT",
            Algorithm::InplaceNoLock => "ALGORITHM=INPLACE, LOCK=NONE",
        }
    }
}

/// Tries `ALTER TABLE ... <clauses>` with INSTANT, then INPLACE with LOCK=NONE. `Ok(None)`: the
/// server refused both (it says so at once, without locking), so the change needs a copy.
pub async fn try_online_alter(
    conn: &mut Conn,
    table: &str,
    clauses: &str,
    policy: &LockPolicy,
    what: &str,
) -> Result<Option<Algorithm>> {
    for algorithm in [Algorithm::Instant, Algorithm::InplaceNoLock] {
        let sql = format!(
            "ALTER TABLE {} {clauses}, {}",
            crate::quote::ident(table),
            algorithm.as_str()
        );
        match run_locked(conn, &sql, policy, what).await {
            Ok(()) => return Ok(Some(algorithm)),
            Err(Error::Sql { source, .. })
                if matches!(
                    server_code(&source),
                    Some(codes::ALTER_NOT_SUPPORTED | codes::ALTER_NOT_SUPPORTED_REASON)
                ) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}
