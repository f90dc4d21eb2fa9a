//! `switchover` (blue to green) and `switchback` (green to blue): one procedure, two
//! directions. Guardrails first; then the write-unavailable window, kept to what must happen
//! in it: stop writes on the active side, wait until the passive side has applied the last of
//! them, copy sequences, create the reverse slot, turn the passive side active. The reverse
//! replication's staging tables are filled after the window.

use crate::catalog;
use crate::fence;
use crate::link;
use crate::names::{self, MARKER_TABLE, SCHEMA};
use crate::sides::{Conn, Options, Pair};
use crate::state::{self, State};
use crate::status::link_status;
use crate::{Error, Progress, Result, Side};
use serde::Serialize;
use std::time::{Duration, Instant};
use tandem_core::quote::qualified;

#[derive(Debug, Clone)]
pub struct SwitchSettings {
    /// Refuse when the passive side is further behind than this.
    pub max_lag_bytes: i64,
    /// Refuse when the passive side takes longer than this to apply a probe row written on
    /// the active side. The slot's byte lag alone understates a subscriber stuck inside a
    /// transaction (it confirmed everything before it), the probe does not.
    pub max_lag_time: Duration,
    /// Refuse when a transaction on the active side is older than this.
    pub max_transaction_age: Duration,
    /// Refuse unless the latest `verify` found both sides equal.
    pub require_verified: bool,
    /// How long running write transactions may finish before their sessions are terminated.
    pub write_grace: Duration,
    /// The longest tandem waits for the table locks that stop writes.
    pub lock_timeout: Duration,
    /// The longest tandem waits for the passive side to apply the last write; on timeout,
    /// writes resume on the active side and nothing changed.
    pub catch_up_timeout: Duration,
}

impl Default for SwitchSettings {
    fn default() -> Self {
        SwitchSettings {
            max_lag_bytes: 16 * 1024 * 1024,
            max_lag_time: Duration::from_secs(2),
            max_transaction_age: Duration::from_secs(10),
            require_verified: true,
            write_grace: Duration::from_millis(200),
            lock_timeout: Duration::from_secs(5),
            catch_up_timeout: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SwitchReport {
    pub from: Side,
    pub to: Side,
    /// From the first lock request on the old side to the commit that lets the new side
    /// take writes.
    pub window_ms: f64,
    /// Each part of the window, in order.
    pub phases: Vec<(String, f64)>,
    /// The old side's WAL position after its last write.
    pub final_lsn: String,
    pub sequences_copied: usize,
    /// Sessions ended because they held write locks past the grace.
    pub sessions_terminated: i64,
    /// Where applications connect now (`user@host:port/db`).
    pub new_target: String,
    pub new_url_without_password: String,
}

pub async fn switchover(
    options: &Options,
    settings: &SwitchSettings,
    progress: &dyn Progress,
) -> Result<SwitchReport> {
    switch(options, Side::Blue, settings, progress).await
}

pub async fn switchback(
    options: &Options,
    settings: &SwitchSettings,
    progress: &dyn Progress,
) -> Result<SwitchReport> {
    switch(options, Side::Green, settings, progress).await
}

async fn switch(
    options: &Options,
    from: Side,
    settings: &SwitchSettings,
    progress: &dyn Progress,
) -> Result<SwitchReport> {
    let to = from.other();
    let pair = Pair::connect(options).await?;
    let schema = options.schema.as_str();
    let (blue_state, green_state) = state::load_pair(&pair.blue, &pair.green).await?;
    if blue_state.active != from {
        return Err(Error::usage(
            format!("{} is already the active side", to.name()),
            if to == Side::Green {
                "to go back to blue, run `tandem bluegreen switchback`"
            } else {
                "to move to green, run `tandem bluegreen switchover`"
            },
        ));
    }
    let (active, passive) = (pair.side(from), pair.side(to));
    let (active_state, passive_state) = match from {
        Side::Blue => (blue_state, green_state),
        Side::Green => (green_state, blue_state),
    };

    progress.step("checking the guardrails");
    guardrails(active, passive, &passive_state, settings).await?;

    // Before the window: the reverse publication, over the passive side's own tables
    // (wherever they are now; a publication follows tables, not names).
    let own: Vec<String> = own_tables(passive, &passive_state).await?;
    publish_list(passive, to, &own).await?;

    progress.step(&format!("stopping writes on {}", from.name()));
    let window = Instant::now();
    let mut phases = Vec::new();
    let mut mark = Instant::now();
    let mut phase = |name: &str, mark: &mut Instant| {
        phases.push((name.to_string(), mark.elapsed().as_secs_f64() * 1000.0));
        *mark = Instant::now();
    };
    let fenced =
        match fence::stop_writes(active, schema, settings.write_grace, settings.lock_timeout).await
        {
            Ok(f) => f,
            Err(e) => {
                drop_publication(passive, to).await?;
                return Err(e);
            }
        };
    phase("stop writes", &mut mark);
    let token = format!("{}-{}", std::process::id(), window_token());
    let final_lsn = write_marker(active, &token).await?;
    if let Err(e) = wait_for_marker(passive, &token, settings.catch_up_timeout).await {
        fence::resume_writes(active, schema).await?;
        drop_publication(passive, to).await?;
        return Err(e);
    }
    phase("wait for the last write", &mut mark);
    link::unsubscribe(passive, Some(active), from).await?;
    phase("drop the subscription", &mut mark);
    let sequences = catalog::sequences(active.client(), schema).await?;
    link::create_slot(passive, to).await?;
    phase("create the reverse slot", &mut mark);
    let sequences_copied = link::make_active(passive, &passive_state, &sequences).await?;
    phase("sequences and activation", &mut mark);
    let window_ms = window.elapsed().as_secs_f64() * 1000.0;

    progress.step(&format!(
        "{} takes writes; preparing {} to receive them",
        to.name(),
        from.name()
    ));
    let active_tables = catalog::tables(passive.client(), schema).await?;
    let old_tables = catalog::tables(active.client(), schema).await?;
    let maps_out = active_state.mapping.from_side(to).to_vec();
    let maps_back = active_state.mapping.from_side(from).to_vec();
    let link = link::plan(&maps_out, &active_tables, &old_tables);
    link::make_passive(active, schema, &link, &old_tables, Some(&maps_back)).await?;
    link::subscribe(active, passive, to, false).await?;

    let new_state = |side: Side| State {
        side,
        active: to,
        schema: schema.to_string(),
        mapping: active_state.mapping.clone(),
        staging: if side == from {
            link.staged.iter().map(|s| s.source.name.clone()).collect()
        } else {
            Vec::new()
        },
        parked: if side == from {
            link.park.clone()
        } else {
            Vec::new()
        },
        verified: None,
        migrations: active_state.migrations.clone(),
    };
    state::save(passive, &new_state(to)).await?;
    state::save(active, &new_state(from)).await?;
    Ok(SwitchReport {
        from,
        to,
        window_ms,
        phases,
        final_lsn,
        sequences_copied,
        sessions_terminated: fenced.terminated,
        new_target: passive.target.clone(),
        new_url_without_password: without_password(&passive.url),
    })
}

async fn guardrails(
    active: &Conn,
    passive: &Conn,
    passive_state: &State,
    settings: &SwitchSettings,
) -> Result<()> {
    let st = link_status(active, passive, passive_state).await?;
    if !st.is_streaming() {
        return Err(Error::usage(
            format!(
                "replication is {}: {}",
                st.state,
                st.last_error.clone().unwrap_or_else(|| format!(
                    "{} of {} tables copied",
                    st.tables_ready, st.tables_total
                ))
            ),
            "nothing was stopped; wait for `tandem bluegreen status` to say streaming, or fix what it reports",
        ));
    }
    let lag = st.lag_bytes.unwrap_or(i64::MAX);
    if lag > settings.max_lag_bytes {
        return Err(Error::usage(
            format!(
                "the passive side is {lag} bytes behind, over the threshold of {} bytes",
                settings.max_lag_bytes
            ),
            "nothing was stopped; wait until `tandem bluegreen status` shows less lag, or raise --max-lag",
        ));
    }
    if catch_up(active, passive, settings.max_lag_time)
        .await
        .is_err()
    {
        return Err(Error::usage(
            format!(
                "the passive side is behind: it did not apply a probe row within {:?} (lag over the threshold)",
                settings.max_lag_time
            ),
            "nothing was stopped; check `tandem bluegreen status` and the passive server (a long transaction or lock there holds replication), or raise --max-lag-time",
        ));
    }
    if settings.require_verified && passive_state.verified != Some(true) {
        return Err(Error::usage(
            "no successful `tandem bluegreen verify` since the last create or switch",
            "nothing was stopped; run `tandem bluegreen verify` first (or pass --skip-verify to switch without it)",
        ));
    }
    let old = active
        .client()
        .query(
            "SELECT pid, (now() - xact_start)::text, left(query, 80) FROM pg_catalog.pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_catalog.pg_backend_pid() AND backend_type = 'client backend' \
               AND xact_start < now() - make_interval(secs => $1) ORDER BY xact_start",
            &[&settings.max_transaction_age.as_secs_f64()],
        )
        .await
        .map_err(|e| Error::db(format!("looking for long transactions on {}", active.target), e))?;
    if !old.is_empty() {
        let mut list = Vec::new();
        for r in &old {
            let pid: i32 = catalog::get(r, 0)?;
            let age: String = catalog::get(r, 1)?;
            let query: String = catalog::get(r, 2)?;
            list.push(format!("pid {pid} open for {age} ({query})"));
        }
        return Err(Error::usage(
            format!(
                "{} transaction(s) on {} are older than {:?}: {}",
                old.len(),
                active.target,
                settings.max_transaction_age,
                list.join("; ")
            ),
            "nothing was stopped; let them finish (or end them with pg_terminate_backend), or raise --max-transaction-age",
        ));
    }
    Ok(())
}

/// The passive side's own tables, under their current names (parked ones in tandem's schema).
async fn own_tables(passive: &Conn, st: &State) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for t in catalog::tables(passive.client(), &st.schema).await? {
        if !st.staging.contains(&t.name) {
            out.push(qualified(&st.schema, &t.name));
        }
    }
    for p in &st.parked {
        out.push(qualified(SCHEMA, p));
    }
    out.push(qualified(SCHEMA, MARKER_TABLE));
    Ok(out)
}

async fn publish_list(conn: &Conn, from: Side, tables: &[String]) -> Result<()> {
    let name = names::replication_name(from);
    drop_publication(conn, from).await?;
    crate::sides::exec(
        conn,
        "creating the reverse publication",
        &format!(
            "CREATE PUBLICATION {} FOR TABLE {}",
            tandem_core::quote::ident(name),
            tables.join(", ")
        ),
    )
    .await?;
    Ok(())
}

async fn drop_publication(conn: &Conn, from: Side) -> Result<()> {
    crate::sides::exec(
        conn,
        "dropping a publication",
        &format!(
            "DROP PUBLICATION IF EXISTS {}",
            tandem_core::quote::ident(names::replication_name(from))
        ),
    )
    .await?;
    Ok(())
}

/// A row written after writes stopped: replication applies transactions in commit order, so
/// once it is on the other side, every write before it is too.
async fn write_marker(active: &Conn, token: &str) -> Result<String> {
    let row = active
        .client()
        .query_one(
            &format!(
                "WITH m AS (INSERT INTO {} (token) VALUES ($1) RETURNING 1) SELECT pg_catalog.pg_current_wal_lsn()::text FROM m",
                qualified(SCHEMA, MARKER_TABLE)
            ),
            &[&token],
        )
        .await
        .map_err(|e| Error::db(format!("writing the switch marker on {}", active.target), e))?;
    catalog::get(&row, 0)
}

async fn wait_for_marker(passive: &Conn, token: &str, timeout: Duration) -> Result<()> {
    let started = Instant::now();
    let sql = format!(
        "SELECT 1 FROM {} WHERE token = $1",
        qualified(SCHEMA, MARKER_TABLE)
    );
    loop {
        let found = passive
            .client()
            .query_opt(&sql, &[&token])
            .await
            .map_err(|e| {
                Error::db(
                    format!("waiting for the switch marker on {}", passive.target),
                    e,
                )
            })?;
        if found.is_some() {
            return Ok(());
        }
        if started.elapsed() > timeout {
            return Err(Error::usage(
                format!(
                    "{} did not apply the last write within {timeout:?}",
                    passive.target
                ),
                "writes were resumed on the active side and nothing changed; check `tandem bluegreen status`, then try again (or raise --catch-up-timeout)",
            ));
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Waits until the passive side has applied everything committed on the active side so far.
pub async fn catch_up(active: &Conn, passive: &Conn, timeout: Duration) -> Result<()> {
    let token = format!("catch-up-{}-{}", std::process::id(), window_token());
    write_marker(active, &token).await?;
    wait_for_marker(passive, &token, timeout).await
}

fn window_token() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
}

/// The URL for messages: the password replaced.
pub fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_string();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}
