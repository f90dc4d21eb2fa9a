//! The checksum that must pass before cut-over: both tables compared chunk by chunk in one
//! consistent snapshot taken while the applier had applied everything written before it.
//!
//! The snapshot is set up spirit's way: a short `LOCK TABLES t READ` stops writes to the
//! source, the applier catches up to the binary log position of that moment, a transaction with
//! a consistent snapshot starts, and the lock goes. Every chunk then compares row counts and
//! joins the rows on the key with `<=>` on every copied column, which compares values across a
//! type change the way the server converts them.

use super::job::Job;
use super::keys;
use crate::error::{codes, server_code, Error, Result};
use crate::quote::ident;
use crate::shadow::binlog::{current_position, Applier};
use crate::state::ShadowState;
use mysql_async::prelude::*;
use mysql_async::{Conn, Value};
use std::time::Instant;

const CHUNK: u64 = 20_000;

/// Compares the tables; the number of chunks compared, or the mismatch as an error.
pub async fn verify(job: &Job<'_>, s: &ShadowState, applier: &mut Applier) -> Result<usize> {
    let mut sum = job.conn().await?;
    snapshot(job, s, applier, &mut sum).await?;
    let result = compare(&mut sum, s).await;
    let _ = sum.query_drop("ROLLBACK").await;
    result
}

/// Starts, on `sum`, a snapshot in which the shadow holds every change made to the source.
async fn snapshot(
    job: &Job<'_>,
    s: &ShadowState,
    applier: &mut Applier,
    sum: &mut Conn,
) -> Result<()> {
    let mut lock = job.conn().await?;
    let mut other = job.conn().await?;
    job.policy.apply(&mut lock).await?;
    let started = Instant::now();
    let mut attempt = 0;
    loop {
        attempt += 1;
        match lock
            .query_drop(format!("LOCK TABLES {} READ", ident(&s.table)))
            .await
        {
            Ok(()) => {}
            Err(e) if server_code(&e) == Some(codes::LOCK_WAIT_TIMEOUT) => {
                if started.elapsed() > job.policy.retry_budget {
                    return Err(Error::LockBudget {
                        what: format!("locking {} for the checksum snapshot", s.table),
                        attempts: attempt,
                        timeout_secs: job.policy.timeout_secs(),
                        source: e,
                    });
                }
                tokio::time::sleep(job.policy.backoff(attempt)).await;
                continue;
            }
            Err(e) => return Err(Error::sql("locking the table for the checksum")(e)),
        }
        let target = current_position(&mut other).await?;
        let caught_up = applier.wait_for(&target, job.config.cut_over_timeout).await;
        match caught_up {
            Ok(true) => {
                let started = sum
                    .query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT")
                    .await
                    .map_err(Error::sql("starting the checksum snapshot"));
                lock.query_drop("UNLOCK TABLES")
                    .await
                    .map_err(Error::sql("unlocking after the checksum snapshot"))?;
                return started;
            }
            Ok(false) => {
                // The applier is too far behind to hold the lock for it; let it catch up.
                lock.query_drop("UNLOCK TABLES")
                    .await
                    .map_err(Error::sql("unlocking the table"))?;
                applier.wait_for(&target, job.policy.retry_budget).await?;
            }
            Err(e) => {
                let _ = lock.query_drop("UNLOCK TABLES").await;
                return Err(e);
            }
        }
    }
}

fn qualified_compare(alias: &str, key: &[String], op: &str) -> String {
    let cols: Vec<String> = key
        .iter()
        .map(|k| format!("{alias}.{}", ident(k)))
        .collect();
    if key.len() == 1 {
        format!("{} {op} ?", cols[0])
    } else {
        format!(
            "({}) {op} ({})",
            cols.join(", "),
            vec!["?"; key.len()].join(", ")
        )
    }
}

/// The CRC32 of one row over `columns` of `alias`. NULLs are marked, since CONCAT_WS skips
/// them.
fn row_hash(alias: &str, columns: &[&str]) -> String {
    let cols: Vec<String> = columns
        .iter()
        .map(|c| format!("{alias}.{}", ident(c)))
        .collect();
    let nulls: Vec<String> = cols.iter().map(|c| format!("ISNULL({c})")).collect();
    format!(
        "CRC32(CONCAT_WS('#', {}, CONCAT({})))",
        cols.join(", "),
        nulls.join(", ")
    )
}

/// A chunk's fingerprint from one range scan: row count, and `BIT_XOR` and `SUM` of the row
/// hashes (computed once per row in a derived table). `last` also returns the chunk's last key
/// (single-column keys), which saves a separate boundary query.
fn fingerprint_query(
    table: &str,
    alias: &str,
    columns: &[&str],
    key: &[String],
    range: &str,
    limit: Option<u64>,
) -> String {
    let keys = key
        .iter()
        .map(|k| format!("{alias}.{}", ident(k)))
        .collect::<Vec<_>>()
        .join(", ");
    let (order, last) = match limit {
        Some(n) => (
            format!(" ORDER BY {keys} LIMIT {n}"),
            format!("MAX(x.{})", ident(&key[0])),
        ),
        None => (String::new(), "NULL".to_string()),
    };
    format!(
        "SELECT COUNT(*), COALESCE(BIT_XOR(x._tandem_h), 0), COALESCE(SUM(x._tandem_h), 0), {last} FROM \
         (SELECT {keys}, {} AS _tandem_h FROM {} {alias} WHERE {range}{order}) x",
        row_hash(alias, columns),
        ident(table)
    )
}

async fn compare(sum: &mut Conn, s: &ShadowState) -> Result<usize> {
    let key_list = keys::order(&s.key);
    let same = s
        .columns
        .iter()
        .map(|(target, source)| format!("t.{} <=> s.{}", ident(source), ident(target)))
        .collect::<Vec<_>>()
        .join(" AND ");
    let join = keys::join(&s.key, &s.shadow_key);
    let source_cols: Vec<&str> = s.columns.iter().map(|(_, c)| c.as_str()).collect();
    let shadow_cols: Vec<&str> = s.columns.iter().map(|(t, _)| t.as_str()).collect();
    let single_key = s.key.len() == 1;
    let mut lower: Vec<Value> = Vec::new();
    let mut chunks = 0usize;
    let mut bad = 0usize;
    let mut first_bad = String::new();
    type Print = Option<(u64, u64, String, Value)>;
    loop {
        let range = |alias: &str, key: &[String], lower: &[Value], upper: bool| -> String {
            let mut parts = Vec::new();
            if !lower.is_empty() {
                parts.push(qualified_compare(alias, key, ">"));
            }
            if upper {
                parts.push(qualified_compare(alias, key, "<="));
            }
            if parts.is_empty() {
                "TRUE".into()
            } else {
                parts.join(" AND ")
            }
        };
        // The source side first: with a one-column key its query also finds the chunk's end.
        let (source, upper): (Print, Option<Vec<Value>>) = if single_key {
            let print: Print = sum
                .exec_first(
                    fingerprint_query(
                        &s.table,
                        "t",
                        &source_cols,
                        &s.key,
                        &range("t", &s.key, &lower, false),
                        Some(CHUNK),
                    ),
                    lower.clone(),
                )
                .await
                .map_err(Error::sql("checksum: fingerprinting source rows"))?;
            let count = print.as_ref().map(|p| p.0).unwrap_or(0);
            let last = print.as_ref().map(|p| p.3.clone()).unwrap_or(Value::NULL);
            let upper = (count == CHUNK && last != Value::NULL).then(|| vec![last]);
            (print, upper)
        } else {
            let upper: Option<mysql_async::Row> = sum
                .exec_first(
                    format!(
                        "SELECT {key_list} FROM {} t WHERE {} ORDER BY {key_list} LIMIT 1 OFFSET {}",
                        ident(&s.table),
                        range("t", &s.key, &lower, false),
                        CHUNK - 1
                    ),
                    lower.clone(),
                )
                .await
                .map_err(Error::sql("checksum: finding the next chunk"))?;
            let upper: Option<Vec<Value>> = upper.map(crate::shadow::keys::values);
            let mut params = lower.clone();
            if let Some(u) = &upper {
                params.extend(u.iter().cloned());
            }
            let print: Print = sum
                .exec_first(
                    fingerprint_query(
                        &s.table,
                        "t",
                        &source_cols,
                        &s.key,
                        &range("t", &s.key, &lower, upper.is_some()),
                        None,
                    ),
                    params,
                )
                .await
                .map_err(Error::sql("checksum: fingerprinting source rows"))?;
            (print, upper)
        };
        let has_upper = upper.is_some();
        let mut params = lower.clone();
        if let Some(u) = &upper {
            params.extend(u.iter().cloned());
        }
        let shadow: Print = sum
            .exec_first(
                fingerprint_query(
                    &s.shadow,
                    "s",
                    &shadow_cols,
                    &s.shadow_key,
                    &range("s", &s.shadow_key, &lower, has_upper),
                    None,
                ),
                params.clone(),
            )
            .await
            .map_err(Error::sql("checksum: fingerprinting shadow rows"))?;
        chunks += 1;
        let same_print = |a: &Print, b: &Print| match (a, b) {
            (Some(a), Some(b)) => (a.0, a.1, &a.2) == (b.0, b.1, &b.2),
            _ => a.is_none() && b.is_none(),
        };
        if !same_print(&source, &shadow)
            && !exact_match(
                sum,
                s,
                &join,
                &same,
                &range("t", &s.key, &lower, has_upper),
                &range("s", &s.shadow_key, &lower, has_upper),
                params,
            )
            .await?
        {
            if bad == 0 {
                first_bad = format!(
                    "{:?}",
                    lower.iter().map(|v| v.as_sql(false)).collect::<Vec<_>>()
                );
            }
            bad += 1;
        }
        match upper {
            Some(u) => lower = u,
            None => break,
        }
    }
    if bad > 0 {
        return Err(Error::Checksum {
            table: s.table.clone(),
            shadow: s.shadow.clone(),
            chunks: bad,
            first_key: first_bad,
        });
    }
    Ok(chunks)
}

/// The exact comparison of one chunk, for when the fingerprints differ (a type change can
/// change a value's text, e.g. INT 5 and DECIMAL 5.00): equal row counts, and every source row
/// joined to its shadow row with `<=>` on every column, which compares as the server converts.
async fn exact_match(
    sum: &mut Conn,
    s: &ShadowState,
    join: &str,
    same: &str,
    source_range: &str,
    shadow_range: &str,
    params: Vec<Value>,
) -> Result<bool> {
    let source_rows: Option<u64> = sum
        .exec_first(
            format!(
                "SELECT COUNT(*) FROM {} t WHERE {source_range}",
                ident(&s.table)
            ),
            params.clone(),
        )
        .await
        .map_err(Error::sql("checksum: counting source rows"))?;
    let shadow_rows: Option<u64> = sum
        .exec_first(
            format!(
                "SELECT COUNT(*) FROM {} s WHERE {shadow_range}",
                ident(&s.shadow)
            ),
            params.clone(),
        )
        .await
        .map_err(Error::sql("checksum: counting shadow rows"))?;
    let equal_rows: Option<u64> = sum
        .exec_first(
            format!(
                "SELECT COUNT(*) FROM {} t JOIN {} s ON {join} WHERE {source_range} AND {same}",
                ident(&s.table),
                ident(&s.shadow),
            ),
            params,
        )
        .await
        .map_err(Error::sql("checksum: comparing rows"))?;
    Ok(source_rows == shadow_rows && equal_rows == source_rows)
}
