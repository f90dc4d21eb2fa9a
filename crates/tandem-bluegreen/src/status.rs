//! `tandem bluegreen status`: is replication healthy, how far behind, how far the copy is.

use crate::catalog::get;
use crate::names;
use crate::sides::{open, Conn, Options};
use crate::state::{self, State};
use crate::{Result, Side};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct LinkStatus {
    /// `streaming`, `copying` (initial copy running), `broken`, `unreachable` or `not_set_up`.
    pub state: String,
    /// Which side takes the application's writes.
    pub active: Option<Side>,
    /// Where applications should connect (`user@host:port/db`).
    pub active_target: Option<String>,
    /// WAL the passive side has not confirmed yet.
    pub lag_bytes: Option<i64>,
    /// The sender's replay lag, in seconds (0 when idle and caught up).
    pub lag_seconds: Option<f64>,
    pub tables_total: i64,
    /// Tables whose initial copy is done.
    pub tables_ready: i64,
    /// Rows copied so far by copies in progress.
    pub rows_copying: i64,
    /// What is wrong, and what to do.
    pub last_error: Option<String>,
    /// Errors the subscription's workers met since create (PostgreSQL 15+).
    pub error_count: Option<i64>,
    /// The latest `verify`'s verdict.
    pub verified: Option<bool>,
}

impl LinkStatus {
    fn new(state: &str, error: Option<String>) -> LinkStatus {
        LinkStatus {
            state: state.into(),
            active: None,
            active_target: None,
            lag_bytes: None,
            lag_seconds: None,
            tables_total: 0,
            tables_ready: 0,
            rows_copying: 0,
            last_error: error,
            error_count: None,
            verified: None,
        }
    }

    /// Healthy and caught up enough to switch.
    pub fn is_streaming(&self) -> bool {
        self.state == "streaming"
    }
}

/// Connects to both sides on its own: an unreachable side is a status, not an error.
pub async fn status(options: &Options) -> Result<LinkStatus> {
    let blue = open(&options.blue_url).await;
    let green = open(&options.green_url).await;
    let (blue, green) = match (blue, green) {
        (Ok(b), Ok(g)) => (b, g),
        (Err(e), _) => {
            return Ok(LinkStatus::new(
                "unreachable",
                Some(format!("blue: {e}; {}", e.help())),
            ))
        }
        (_, Err(e)) => {
            return Ok(LinkStatus::new(
                "unreachable",
                Some(format!("green: {e}; {}", e.help())),
            ))
        }
    };
    let Some(st) = state::load(&blue).await? else {
        return Ok(LinkStatus::new(
            "not_set_up",
            Some("no blue-green procedure on blue; run `tandem bluegreen create`".into()),
        ));
    };
    let (active, passive) = match st.active {
        Side::Blue => (&blue, &green),
        Side::Green => (&green, &blue),
    };
    link_status(active, passive, &st).await
}

/// The status of the replication out of the active side.
pub async fn link_status(active: &Conn, passive: &Conn, st: &State) -> Result<LinkStatus> {
    let name = names::replication_name(st.active);
    let mut s = LinkStatus::new("streaming", None);
    s.active = Some(st.active);
    s.active_target = Some(active.target.clone());
    s.verified = st.verified;
    let db = |what: &str, conn: &Conn, e: tokio_postgres::Error| {
        crate::Error::db(format!("{what} on {}", conn.target), e)
    };
    let slot = active
        .client()
        .query_opt(
            "SELECT active, pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), confirmed_flush_lsn)::bigint, wal_status \
             FROM pg_catalog.pg_replication_slots WHERE slot_name = $1",
            &[&name],
        )
        .await
        .map_err(|e| db("reading the replication slot", active, e))?;
    let replay = active
        .client()
        .query_opt(
            "SELECT COALESCE(EXTRACT(epoch FROM replay_lag), 0)::float8 FROM pg_catalog.pg_stat_replication WHERE application_name = $1 LIMIT 1",
            &[&name],
        )
        .await
        .map_err(|e| db("reading the sender's lag", active, e))?;
    s.lag_seconds = match &replay {
        Some(r) => Some(get(r, 0)?),
        None => None,
    };
    let sub = passive
        .client()
        .query_opt(
            "SELECT s.subenabled, \
               (SELECT count(*) FROM pg_catalog.pg_subscription_rel r WHERE r.srsubid = s.oid), \
               (SELECT count(*) FROM pg_catalog.pg_subscription_rel r WHERE r.srsubid = s.oid AND r.srsubstate = 'r'), \
               (SELECT count(*) FROM pg_catalog.pg_stat_subscription st WHERE st.subid = s.oid AND st.pid IS NOT NULL AND st.relid IS NULL), \
               (SELECT COALESCE(sum(p.tuples_processed), 0)::bigint FROM pg_catalog.pg_stat_progress_copy p WHERE p.datid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())) \
             FROM pg_catalog.pg_subscription s WHERE s.subname = $1",
            &[&name],
        )
        .await
        .map_err(|e| db("reading the subscription", passive, e))?;
    let version: i32 = get(
        &passive
            .client()
            .query_one("SELECT current_setting('server_version_num')::int", &[])
            .await
            .map_err(|e| db("reading the server version", passive, e))?,
        0,
    )?;
    if version >= 150000 {
        let errors = passive
            .client()
            .query_opt(
                "SELECT (apply_error_count + sync_error_count)::bigint FROM pg_catalog.pg_stat_subscription_stats WHERE subname = $1",
                &[&name],
            )
            .await
            .map_err(|e| db("reading the subscription's errors", passive, e))?;
        if let Some(r) = errors {
            s.error_count = Some(get(&r, 0)?);
        }
    }
    let broken = |s: &mut LinkStatus, why: String| {
        s.state = "broken".into();
        s.last_error = Some(why);
    };
    // Right after create, before the workers have started, an idle slot is not a fault.
    let starting =
        |s: &LinkStatus| s.tables_ready < s.tables_total && s.error_count.unwrap_or(0) == 0;
    let sub_counts = match &sub {
        Some(r) => (get::<i64>(r, 1)?, get::<i64>(r, 2)?),
        None => (0, 0),
    };
    s.tables_total = sub_counts.0;
    s.tables_ready = sub_counts.1;
    match &slot {
        None => broken(
            &mut s,
            format!(
                "the replication slot {name} does not exist on {} ({}): changes made there since it was dropped are not on {}; run `tandem bluegreen cleanup` and create again",
                st.active.name(),
                active.target,
                st.active.other().name()
            ),
        ),
        Some(r) => {
            s.lag_bytes = get(r, 1)?;
            let in_use: bool = get(r, 0)?;
            let wal_status: Option<String> = get(r, 2)?;
            if wal_status.as_deref() == Some("lost") {
                broken(&mut s, format!("the slot {name} on {} lost WAL the subscriber still needed (max_slot_wal_keep_size); run `tandem bluegreen cleanup` and create again", active.target));
            } else if !in_use && !starting(&s) {
                broken(&mut s, format!("nothing is receiving from the slot {name} on {}: the subscriber on {} is down, restarting, or failing (see its server log)", active.target, passive.target));
            }
        }
    }
    match &sub {
        None => broken(
            &mut s,
            format!(
                "the subscription {name} does not exist on {}; run `tandem bluegreen cleanup` and create again",
                passive.target
            ),
        ),
        Some(r) => {
            let enabled: bool = get(r, 0)?;
            s.tables_total = get(r, 1)?;
            s.tables_ready = get(r, 2)?;
            let workers: i64 = get(r, 3)?;
            s.rows_copying = get(r, 4)?;
            if !enabled {
                broken(&mut s, format!("the subscription {name} on {} is disabled (after an error, or by hand): ALTER SUBSCRIPTION {name} ENABLE once the cause is fixed", passive.target));
            } else if workers == 0 && s.state != "broken" && !starting(&s) {
                let count = s.error_count;
                broken(&mut s, format!("no apply worker runs for {name} on {}: it is failing or restarting (see that server's log; error count: {})", passive.target, count.map(|c| c.to_string()).unwrap_or_else(|| "unknown".into())));
            }
        }
    }
    if s.state == "streaming" && s.tables_ready < s.tables_total {
        s.state = "copying".into();
    }
    Ok(s)
}
