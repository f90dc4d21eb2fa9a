//! When to pause the copy: a pause flag, too many running threads, or replicas lagging.

use crate::error::{Error, Result};
use mysql_async::prelude::*;
use mysql_async::{Conn, Pool};
use std::time::Duration;

/// Limits the copy respects between chunks.
#[derive(Debug, Clone)]
pub struct ThrottleConfig {
    /// Pause while `Threads_running` is above this.
    pub max_threads_running: u64,
    /// Replicas to watch (mysql:// URLs).
    pub replicas: Vec<String>,
    /// Pause while a replica lags more than this.
    pub max_replica_lag: Duration,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            max_threads_running: 50,
            replicas: Vec::new(),
            max_replica_lag: Duration::from_millis(1500),
        }
    }
}

/// Watches the limits; `reason` says why to wait, or `None`.
pub struct Throttle {
    config: ThrottleConfig,
    replicas: Vec<(String, Pool)>,
}

impl Throttle {
    pub fn new(config: ThrottleConfig) -> Result<Throttle> {
        let mut replicas = Vec::new();
        for url in &config.replicas {
            replicas.push((redact(url), Pool::new(crate::connect::options(url)?)));
        }
        Ok(Throttle { config, replicas })
    }

    /// Why the copy should wait now, if it should.
    pub async fn reason(&self, conn: &mut Conn, migration: &str) -> Result<Option<String>> {
        if crate::state::is_paused(conn, migration).await? {
            return Ok(Some("paused (tandem mysql resume to continue)".into()));
        }
        let running: Option<(String, u64)> = conn
            .query_first("SHOW GLOBAL STATUS LIKE 'Threads_running'")
            .await
            .map_err(Error::sql("reading Threads_running"))?;
        if let Some((_, n)) = running {
            if n > self.config.max_threads_running {
                return Ok(Some(format!(
                    "Threads_running is {n} (limit {})",
                    self.config.max_threads_running
                )));
            }
        }
        for (name, pool) in &self.replicas {
            let lag = replica_lag(pool)
                .await
                .map_err(Error::sql(format!("reading the replication lag of {name}")))?;
            match lag {
                Some(lag) if lag > self.config.max_replica_lag => {
                    return Ok(Some(format!(
                        "replica {name} lags {}s (limit {:.1}s)",
                        lag.as_secs(),
                        self.config.max_replica_lag.as_secs_f64()
                    )))
                }
                None => return Ok(Some(format!("replica {name} is not replicating"))),
                _ => {}
            }
        }
        Ok(None)
    }
}

/// `Seconds_Behind_Master` (or `_Source`) from SHOW REPLICA STATUS / SHOW SLAVE STATUS.
async fn replica_lag(pool: &Pool) -> std::result::Result<Option<Duration>, mysql_async::Error> {
    let mut conn = pool.get_conn().await?;
    let mut row: Option<mysql_async::Row> =
        conn.query_first("SHOW REPLICA STATUS").await.ok().flatten();
    if row.is_none() {
        row = conn.query_first("SHOW SLAVE STATUS").await?;
    }
    let Some(row) = row else { return Ok(None) };
    let columns = row.columns();
    for (i, c) in columns.iter().enumerate() {
        let name = c.name_str();
        if name == "Seconds_Behind_Master" || name == "Seconds_Behind_Source" {
            let value: Option<u64> = row.get_opt(i).and_then(|r| r.ok()).flatten();
            return Ok(value.map(Duration::from_secs));
        }
    }
    Ok(None)
}

/// A URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{user}@{}", &url[..s + 3], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_passwords() {
        assert_eq!(
            crate::shadow::throttle::redact("mysql://u:secret@h:3307/db"),
            "mysql://u@h:3307/db"
        );
    }
}
