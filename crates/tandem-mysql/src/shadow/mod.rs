//! The shadow-table change, gh-ost's design: a shadow table with the new definition, a chunked
//! copy in primary-key order, every concurrent change read from the binary log and applied to
//! the shadow, a checksum of both tables, and an atomic cut-over.

pub mod binlog;
mod checksum;
mod cutover;
mod job;
pub mod keys;
pub mod throttle;

pub use job::{CopyConfig, Job};

use crate::catalog::{read_schema, LiveTable};
use crate::error::{codes, server_code, Error, Result};
use crate::events::Event;
use crate::online::LockPolicy;
use crate::quote::{ident, ident_list};
use crate::state::{self, BinlogPos, KeyValue, ShadowState};
use binlog::{Applier, ApplySpec};
use mysql_async::prelude::*;
use mysql_async::{Conn, Value};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use throttle::Throttle;

/// The shadow and the old table: `t_tandem_new` and `t_tandem_old`.
///
/// Unlike gh-ost's `_t_gho`/`_t_del`, both names start with the table's name, and that matters
/// for the cut-over: the server takes a RENAME's metadata locks in name order, so with these
/// names the RENAME waits for `t` itself first, and its pending exclusive lock on `t` keeps the
/// application's queued writes behind it. With names sorting before `t` the RENAME would wait on
/// the sentry instead, and a write queued on `t` could slip into the old table between the
/// unlock and the rename (observed on MariaDB 10.11: a lost update).
pub fn shadow_names(table: &str) -> (String, String) {
    (format!("{table}_tandem_new"), format!("{table}_tandem_old"))
}

pub(crate) fn server_id(config: &CopyConfig) -> u32 {
    if config.server_id != 0 {
        config.server_id
    } else {
        // Random in a range real servers rarely use; two readers with one id evict each other.
        4_000_000_000 + fastrand::u32(0..100_000_000)
    }
}

/// Refuses tables the copy cannot handle, as gh-ost does.
pub fn check_table(t: &LiveTable) -> Result<()> {
    let refuse = |message: String, help: &str| Error::ServerSetup {
        message,
        help: help.to_string(),
    };
    if t.primary_key.is_empty() {
        return Err(refuse(
            format!(
                "table `{}` has no primary key; the copy walks it in key order",
                t.name
            ),
            "add a primary key first (an `sql` operation), or let the server do the ALTER offline",
        ));
    }
    if !t.foreign_keys.is_empty() {
        return Err(refuse(
            format!(
                "table `{}` has foreign keys ({}); after a copy they would point at the old table",
                t.name,
                t.foreign_keys.join(", ")
            ),
            "drop the foreign keys first, or run the ALTER yourself in a maintenance window",
        ));
    }
    if !t.triggers.is_empty() {
        return Err(refuse(
            format!(
                "table `{}` has triggers ({}); they would stay on the old table",
                t.name,
                t.triggers.join(", ")
            ),
            "drop the triggers before the change and create them again after it",
        ));
    }
    if !t.engine.eq_ignore_ascii_case("InnoDB") {
        return Err(refuse(
            format!("table `{}` uses {}, not InnoDB", t.name, t.engine),
            "the copy needs InnoDB's consistent snapshots and row locks",
        ));
    }
    Ok(())
}

/// Creates the shadow table with the new definition and works out how columns map.
pub async fn prepare(
    conn: &mut Conn,
    change: usize,
    table: &str,
    clauses: &str,
    renames: &[(String, String)],
) -> Result<ShadowState> {
    let schema = read_schema(conn).await?;
    let source = schema
        .table(table)
        .ok_or_else(|| Error::state(format!("table `{table}` is gone"), "check the database"))?;
    check_table(source)?;
    let (shadow, old) = shadow_names(table);
    if shadow.chars().count() > 64 {
        return Err(Error::ServerSetup {
            message: format!("the shadow table name `{shadow}` is longer than 64 characters"),
            help: "rename the table to a shorter name first".into(),
        });
    }
    for leftover in [&shadow, &old] {
        if schema.table(leftover).is_some() {
            return Err(Error::state(
                format!("table `{leftover}` exists already (left from an earlier change?)"),
                format!(
                    "drop it if it is not needed (DROP TABLE {})",
                    ident(leftover)
                ),
            ));
        }
    }
    let ctx = format!("creating the shadow table {shadow}");
    conn.query_drop(format!(
        "CREATE TABLE {} LIKE {}",
        ident(&shadow),
        ident(table)
    ))
    .await
    .map_err(Error::sql(ctx.clone()))?;
    conn.exec_drop(format!("ALTER TABLE {} {clauses}", ident(&shadow)), ())
        .await
        .map_err(Error::sql(ctx))?;
    let schema = read_schema(conn).await?;
    let shadow_table = schema.table(&shadow).ok_or_else(|| {
        Error::state(
            format!("the shadow table `{shadow}` vanished"),
            "run start again",
        )
    })?;
    let renamed = |source: &str| -> String {
        renames
            .iter()
            .find(|(from, _)| from == source)
            .map(|(_, to)| to.clone())
            .unwrap_or_else(|| source.to_string())
    };
    let mut columns = Vec::new();
    for col in &source.columns {
        if col.generation.is_some() {
            continue;
        }
        let target = renamed(&col.name);
        if let Some(t) = shadow_table.column(&target) {
            if t.generation.is_none() {
                columns.push((t.name.clone(), col.name.clone()));
            }
        }
    }
    let shadow_key: Vec<String> = source.primary_key.iter().map(|k| renamed(k)).collect();
    if shadow_key
        .iter()
        .any(|k| !columns.iter().any(|(t, _)| t == k))
    {
        return Err(Error::ServerSetup {
            message: format!("the change would drop a primary key column of `{table}`"),
            help: "keep the primary key columns; change the key with an `sql` operation".into(),
        });
    }
    let deferred_indexes = defer_indexes(conn, &shadow).await?;
    let estimate: Option<u64> = conn
        .exec_first(
            "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
            (table,),
        )
        .await
        .map_err(Error::sql("estimating the table's rows"))?
        .flatten();
    Ok(ShadowState {
        change,
        table: table.to_string(),
        shadow,
        old,
        columns,
        key: source.primary_key.clone(),
        shadow_key,
        source_columns: source.column_names(),
        last_key: None,
        copy_done: false,
        rows_copied: 0,
        rows_estimate: estimate.unwrap_or(0),
        applied: binlog::current_position(conn).await?,
        cut_over_at: None,
        cut_over: false,
        chunk_size: 0,
        copy_started_unix: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        throttle: String::new(),
        deferred_indexes,
    })
}

/// The index definitions of `SHOW CREATE TABLE` (`KEY`, `UNIQUE KEY`, `FULLTEXT KEY`, ...),
/// except the primary key.
fn index_definitions(create: &str) -> Vec<(String, String)> {
    create
        .lines()
        .map(|l| l.trim().trim_end_matches(','))
        .filter(|l| {
            [
                "KEY ",
                "UNIQUE KEY ",
                "FULLTEXT KEY ",
                "SPATIAL KEY ",
                "VECTOR KEY ",
            ]
            .iter()
            .any(|p| l.starts_with(p))
        })
        .filter_map(|l| Some((backquoted(&l[l.find('`')?..])?, l.to_string())))
        .collect()
}

/// The identifier at the start of `text` (which starts with a backquote), unescaped.
fn backquoted(text: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = text.chars().skip(1).peekable();
    while let Some(c) = chars.next() {
        if c == '`' {
            if chars.peek() == Some(&'`') {
                chars.next();
                out.push('`');
            } else {
                return Some(out);
            }
        } else {
            out.push(c);
        }
    }
    None
}

/// Drops the shadow's secondary indexes for the copy; returns their definitions. An index the
/// server will not drop (the only index of an AUTO_INCREMENT column) stays.
async fn defer_indexes(conn: &mut Conn, shadow: &str) -> Result<Vec<String>> {
    let create: Option<(String, String)> = conn
        .query_first(format!("SHOW CREATE TABLE {}", ident(shadow)))
        .await
        .map_err(Error::sql("reading the shadow table's definition"))?;
    let mut deferred = Vec::new();
    for (name, definition) in index_definitions(&create.map(|c| c.1).unwrap_or_default()) {
        let dropped = conn
            .query_drop(format!(
                "ALTER TABLE {} DROP INDEX {}",
                ident(shadow),
                ident(&name)
            ))
            .await;
        if dropped.is_ok() {
            deferred.push(definition);
        }
    }
    Ok(deferred)
}

/// Builds the deferred indexes on the shadow (one ALTER; the applier's writes wait at most for
/// its short final lock, and only the shadow is involved).
async fn restore_indexes(conn: &mut Conn, s: &ShadowState) -> Result<()> {
    if s.deferred_indexes.is_empty() {
        return Ok(());
    }
    let create: Option<(String, String)> = conn
        .query_first(format!("SHOW CREATE TABLE {}", ident(&s.shadow)))
        .await
        .map_err(Error::sql("reading the shadow table's definition"))?;
    let present: Vec<String> = index_definitions(&create.map(|c| c.1).unwrap_or_default())
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    let missing: Vec<String> = s
        .deferred_indexes
        .iter()
        .filter(|d| {
            index_definitions(d)
                .first()
                .is_none_or(|(name, _)| !present.contains(name))
        })
        .map(|d| format!("ADD {d}"))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    conn.exec_drop(
        format!("ALTER TABLE {} {}", ident(&s.shadow), missing.join(", ")),
        (),
    )
    .await
        .map_err(|e| {
            if server_code(&e) == Some(1062) {
                Error::State {
                    message: format!(
                        "a unique index of the new `{}` finds duplicate values: {e}",
                        s.table
                    ),
                    help: "remove the duplicates (or drop the unique requirement), then run `tandem rollback` and start again".into(),
                }
            } else {
                Error::sql(format!("building the indexes of {}", s.shadow))(e)
            }
        })
}

/// The applier's spec for the copy (source table into shadow).
fn forward_spec(database: &str, s: &ShadowState) -> ApplySpec {
    ApplySpec {
        database: database.to_string(),
        source: s.table.clone(),
        target: s.shadow.clone(),
        source_columns: s.source_columns.clone(),
        columns: s.columns.clone(),
        key: s.key.clone(),
        target_key: s.shadow_key.clone(),
    }
}

impl Job<'_> {
    async fn conn(&self) -> Result<Conn> {
        self.pool
            .get_conn()
            .await
            .map_err(Error::sql("getting a connection"))
    }

    async fn database(&self) -> Result<String> {
        let mut conn = self.conn().await?;
        let db: Option<String> = conn
            .query_first("SELECT DATABASE()")
            .await
            .map_err(Error::sql("reading the database name"))?
            .flatten();
        db.ok_or(Error::NoDatabase)
    }

    /// Copies (or resumes copying) and checks; returns with the applier running and the state
    /// saved, ready for the cut-over.
    pub async fn copy(&self, s: &mut ShadowState) -> Result<Applier> {
        let database = self.database().await?;
        let mut applier = Applier::start(
            self.pool_opts(),
            forward_spec(&database, s),
            s.applied.clone(),
            server_id(self.config),
        )
        .await?;
        let result = async {
            self.copy_rows(s, &mut applier).await?;
            if !s.deferred_indexes.is_empty() {
                let mut conn = self.conn().await?;
                restore_indexes(&mut conn, s).await?;
                s.deferred_indexes.clear();
                state::save_shadow(&mut conn, self.migration, Some(s)).await?;
            }
            Ok(())
        }
        .await;
        match result {
            Ok(()) => Ok(applier),
            Err(e) => {
                let _ = applier.stop().await;
                Err(e)
            }
        }
    }

    fn pool_opts(&self) -> mysql_async::Opts {
        self.opts.clone()
    }

    async fn copy_rows(&self, s: &mut ShadowState, applier: &mut Applier) -> Result<()> {
        let mut conn = self.conn().await?;
        let throttle = Throttle::new(self.config.throttle.clone())?;
        let mut chunk = if s.chunk_size > 0 {
            s.chunk_size
        } else {
            self.config.chunk_size.max(1)
        };
        let targets: Vec<&str> = s.columns.iter().map(|(t, _)| t.as_str()).collect();
        let sources: Vec<&str> = s.columns.iter().map(|(_, c)| c.as_str()).collect();
        let key_list = keys::order(&s.key);
        let mut last_save = Instant::now();
        while !s.copy_done {
            // Throttle between chunks.
            while let Some(reason) = throttle.reason(&mut conn, self.migration).await? {
                if s.throttle != reason {
                    s.throttle = reason.clone();
                    state::save_shadow(&mut conn, self.migration, Some(s)).await?;
                    (self.report)(Event::Throttled { reason });
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            if !s.throttle.is_empty() {
                s.throttle.clear();
            }
            if applier.failed() {
                applier.wait_for(&s.applied, Duration::ZERO).await?;
            }
            let lower: Vec<Value> = s
                .last_key
                .as_ref()
                .map(|k| k.iter().map(KeyValue::to_value).collect())
                .unwrap_or_default();
            let lower_clause = if lower.is_empty() {
                "TRUE".to_string()
            } else {
                keys::after(&s.key)
            };
            // The chunk's upper key: the chunk-th key after the last one copied.
            let upper: Option<mysql_async::Row> = conn
                .exec_first(
                    format!(
                        "SELECT {key_list} FROM {} WHERE {lower_clause} ORDER BY {key_list} LIMIT 1 OFFSET {}",
                        ident(&s.table),
                        chunk - 1
                    ),
                    lower.clone(),
                )
                .await
                .map_err(Error::sql(format!("finding the next chunk of {}", s.table)))?;
            let upper: Option<Vec<Value>> = upper.map(crate::shadow::keys::values);
            let (upper_clause, mut params) = match &upper {
                Some(u) => (keys::up_to(&s.key), u.clone()),
                None => ("TRUE".to_string(), Vec::new()),
            };
            let mut all = lower.clone();
            all.append(&mut params);
            let started = Instant::now();
            let sql = format!(
                "INSERT IGNORE INTO {} ({}) SELECT {} FROM {} FORCE INDEX (PRIMARY) WHERE {lower_clause} AND {upper_clause} LOCK IN SHARE MODE",
                ident(&s.shadow),
                ident_list(&targets),
                ident_list(&sources),
                ident(&s.table)
            );
            // LOCK IN SHARE MODE: a concurrent delete of a row being copied waits for this
            // chunk to commit, so its binlog event comes after the copied row and removes it.
            // A deadlock with the application (or the applier) rolls the chunk back: retry.
            let mut attempt = 0u64;
            let copied = loop {
                attempt += 1;
                match copy_chunk(&mut conn, &sql, all.clone()).await {
                    Err(e)
                        if attempt < 20
                            && matches!(
                                server_code(&e),
                                Some(codes::DEADLOCK | codes::LOCK_WAIT_TIMEOUT)
                            ) =>
                    {
                        tokio::time::sleep(Duration::from_millis(20 * attempt)).await;
                    }
                    other => {
                        break other.map_err(Error::sql(format!(
                            "copying a chunk of {} into {}",
                            s.table, s.shadow
                        )))?
                    }
                }
            };
            let took = started.elapsed();
            s.rows_copied += copied;
            match upper {
                Some(u) => s.last_key = Some(u.iter().map(KeyValue::from_value).collect()),
                None => s.copy_done = true,
            }
            if self.config.adaptive {
                let target = self.config.chunk_time.as_secs_f64();
                let ratio = (target / took.as_secs_f64().max(0.001)).clamp(0.5, 2.0);
                chunk = ((chunk as f64 * ratio) as u64).clamp(100, 200_000);
            }
            s.chunk_size = chunk;
            // The checkpoint: the key copied up to, and how far the applier got (its position
            // is a transaction boundary whose changes are committed in the shadow).
            s.applied = applier.applied();
            if s.copy_done || last_save.elapsed() > Duration::from_millis(200) {
                state::save_shadow(&mut conn, self.migration, Some(s)).await?;
                last_save = Instant::now();
                (self.report)(Event::Copied {
                    table: s.table.clone(),
                    rows: s.rows_copied,
                    estimate: s.rows_estimate,
                });
            }
        }
        Ok(())
    }

    /// Catches up, checks both tables and, unless `postpone`, cuts over. Consumes the applier.
    pub async fn finish(
        &self,
        s: &mut ShadowState,
        mut applier: Applier,
        postpone: bool,
    ) -> Result<bool> {
        let mut conn = self.conn().await?;
        let outcome = async {
            let chunks = checksum::verify(self, s, &mut applier).await?;
            (self.report)(Event::ChecksumPassed {
                table: s.table.clone(),
                chunks,
            });
            s.applied = applier.applied();
            state::save_shadow(&mut conn, self.migration, Some(s)).await?;
            if postpone {
                return Ok(false);
            }
            let at = cutover::cut_over(self, &s.table, &s.shadow, &s.old, &mut applier).await?;
            s.cut_over_at = Some(at);
            s.cut_over = true;
            state::save_shadow(&mut conn, self.migration, Some(s)).await?;
            Ok(true)
        }
        .await;
        let stopped = applier.stop().await;
        let done = outcome?;
        if !done {
            s.applied = stopped?;
            state::save_shadow(&mut conn, self.migration, Some(s)).await?;
        }
        Ok(done)
    }

    /// Reverts a cut-over: replays onto the old table every write made to the table since the
    /// cut-over, then swaps the tables back the same atomic way.
    pub async fn revert(&self, s: &mut ShadowState) -> Result<()> {
        let database = self.database().await?;
        let mut conn = self.conn().await?;
        let at = s.cut_over_at.clone().ok_or_else(|| {
            Error::state(
                "the cut-over position was not recorded",
                "report this as a bug",
            )
        })?;
        let schema = read_schema(&mut conn).await?;
        let current = schema.table(&s.table).ok_or_else(|| {
            Error::state(format!("table `{}` is gone", s.table), "check the database")
        })?;
        schema.table(&s.old).ok_or_else(|| {
            Error::state(
                format!(
                    "the old table `{}` is gone, so there is nothing to swap back",
                    s.old
                ),
                "restore from a backup, or write a new migration",
            )
        })?;
        // Reverse mapping: old column <- new column.
        let spec = ApplySpec {
            database,
            source: s.table.clone(),
            target: s.old.clone(),
            source_columns: current.column_names(),
            columns: s
                .columns
                .iter()
                .map(|(t, src)| (src.clone(), t.clone()))
                .collect(),
            key: s.shadow_key.clone(),
            target_key: s.key.clone(),
        };
        let mut applier =
            Applier::start(self.pool_opts(), spec, at, server_id(self.config)).await?;
        let result = cutover::cut_over(self, &s.table, &s.old, &s.shadow, &mut applier).await;
        let stopped = applier.stop().await;
        result?;
        stopped?;
        s.cut_over = false;
        Ok(())
    }
}

/// One chunk in its own transaction; the rows it inserted.
async fn copy_chunk(
    conn: &mut Conn,
    sql: &str,
    params: Vec<Value>,
) -> std::result::Result<u64, mysql_async::Error> {
    let mut tx = conn.start_transaction(Default::default()).await?;
    tx.exec_drop(sql, params).await?;
    let copied = tx.affected_rows();
    tx.commit().await?;
    Ok(copied)
}

/// Drops the shadow table of a copy that never cut over.
pub async fn abandon(conn: &mut Conn, s: &ShadowState, policy: &LockPolicy) -> Result<()> {
    match crate::online::run_locked(
        conn,
        &format!("DROP TABLE IF EXISTS {}", ident(&s.shadow)),
        policy,
        "dropping the shadow table",
    )
    .await
    {
        Ok(()) => Ok(()),
        Err(Error::Sql { source, .. }) if server_code(&source) == Some(codes::NO_SUCH_TABLE) => {
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// The binary log position now, for status.
pub async fn position_now(conn: &mut Conn) -> Result<BinlogPos> {
    binlog::current_position(conn).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_index_definitions() {
        let create = "CREATE TABLE `t` (\n  `id` int NOT NULL,\n  `b` int,\n  PRIMARY KEY (`id`),\n  UNIQUE KEY `u``q` (`b`),\n  KEY `k` (`b`,`id`)\n) ENGINE=InnoDB";
        let found = super::index_definitions(create);
        assert_eq!(
            found,
            vec![
                ("u`q".to_string(), "UNIQUE KEY `u``q` (`b`)".to_string()),
                ("k".to_string(), "KEY `k` (`b`,`id`)".to_string())
            ]
        );
    }
}
