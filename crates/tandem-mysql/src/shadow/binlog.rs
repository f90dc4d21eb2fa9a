//! The applier: reads the binary log (row events, no triggers) from a position and applies every
//! change of the source table to the target table, one source transaction at a time.
//!
//! Inserts and the after-image of updates become `REPLACE` (idempotent, and right even when the
//! row copy has not reached the row yet: the copy's `INSERT IGNORE` then keeps the newer row);
//! deletes become `DELETE` by key. Applied in binlog order, the target converges to the source.

use crate::error::{codes, server_code, Error, Result};
use crate::quote::{ident, ident_list};
use crate::state::BinlogPos;
use futures_util::StreamExt;
use mysql_async::binlog::events::{EventData, RowsEventData};
use mysql_async::prelude::*;
use mysql_async::{BinlogStreamRequest, Conn, Opts, Value};
use std::sync::Arc;
use tokio::sync::watch;

/// What the applier copies from where to where.
#[derive(Debug, Clone)]
pub struct ApplySpec {
    pub database: String,
    pub source: String,
    pub target: String,
    /// Source columns in table order (row events are positional).
    pub source_columns: Vec<String>,
    /// (target column, source column).
    pub columns: Vec<(String, String)>,
    /// The key in the source and its names in the target.
    pub key: Vec<String>,
    pub target_key: Vec<String>,
}

/// The current binary log position of the server (`SHOW MASTER STATUS`; MySQL 8.4 calls it
/// `SHOW BINARY LOG STATUS`).
pub async fn current_position(conn: &mut Conn) -> Result<BinlogPos> {
    for sql in ["SHOW MASTER STATUS", "SHOW BINARY LOG STATUS"] {
        if let Ok(Some(row)) = conn.query_first::<mysql_async::Row, _>(sql).await {
            let file: Option<String> = row.get_opt(0).and_then(|r| r.ok());
            let pos: Option<u64> = row.get_opt(1).and_then(|r| r.ok());
            if let (Some(file), Some(pos)) = (file, pos) {
                return Ok(BinlogPos { file, pos });
            }
        }
    }
    Err(Error::ServerSetup {
        message: "binary logging is off (SHOW MASTER STATUS returns nothing)".into(),
        help: "start the server with log_bin, binlog_format=ROW and binlog_row_image=FULL".into(),
    })
}

/// Checks the settings the applier relies on.
pub async fn check_server(conn: &mut Conn) -> Result<()> {
    let (format, image): (Option<String>, Option<String>) = conn
        .query_first("SELECT @@GLOBAL.binlog_format, @@GLOBAL.binlog_row_image")
        .await
        .map_err(Error::sql("reading the binary log settings"))?
        .unwrap_or((None, None));
    if !format
        .as_deref()
        .is_some_and(|f| f.eq_ignore_ascii_case("ROW"))
    {
        return Err(Error::ServerSetup {
            message: format!("binlog_format is {}", format.unwrap_or_default()),
            help: "SET GLOBAL binlog_format = 'ROW' (and in the server's configuration)".into(),
        });
    }
    if !image
        .as_deref()
        .is_some_and(|f| f.eq_ignore_ascii_case("FULL"))
    {
        return Err(Error::ServerSetup {
            message: format!("binlog_row_image is {}", image.unwrap_or_default()),
            help: "SET GLOBAL binlog_row_image = 'FULL'".into(),
        });
    }
    current_position(conn).await.map(|_| ())
}

/// A running applier: its applied position (after each source transaction) and its task.
pub struct Applier {
    pub position: watch::Receiver<BinlogPos>,
    stop: watch::Sender<bool>,
    /// While set, the applier reads nothing past this position (see [`Applier::hold`]).
    hold: watch::Sender<Option<BinlogPos>>,
    task: tokio::task::JoinHandle<Result<()>>,
}

impl Applier {
    /// Starts applying from `from` on two new connections (one streams, one writes).
    pub async fn start(
        opts: Opts,
        spec: ApplySpec,
        from: BinlogPos,
        server_id: u32,
    ) -> Result<Applier> {
        let mut writer = Conn::new(opts.clone())
            .await
            .map_err(Error::sql("opening the applier's connection"))?;
        let mut reader = Conn::new(opts)
            .await
            .map_err(Error::sql("opening the binary log connection"))?;
        // MariaDB sends its own event types (GTID lists, annotations) only to readers that ask;
        // capability 4 is what its own replicas announce.
        let _ = reader.query_drop("SET @mariadb_slave_capability = 4").await;
        let stream = reader
            .get_binlog_stream(
                BinlogStreamRequest::new(server_id)
                    .with_filename(from.file.as_bytes())
                    .with_pos(from.pos),
            )
            .await
            .map_err(|e| Error::Binlog {
                message: e.to_string(),
                help: "the user needs the REPLICATION SLAVE privilege, and the binary log file must still exist (check SHOW BINARY LOGS and binlog_expire_logs_seconds)".into(),
            })?;
        let (tx, rx) = watch::channel(from.clone());
        let (stop_tx, stop_rx) = watch::channel(false);
        let (hold_tx, hold_rx) = watch::channel(None);
        let spec = Arc::new(spec);
        let task = tokio::spawn(async move {
            let signals = Signals {
                stop: stop_rx,
                hold: hold_rx,
            };
            apply_loop(stream, &mut writer, &spec, from, tx, signals).await
        });
        Ok(Applier {
            position: rx,
            stop: stop_tx,
            hold: hold_tx,
            task,
        })
    }

    /// Waits until everything up to `target` is applied, or `timeout` passes (`Ok(false)`).
    pub async fn wait_for(
        &mut self,
        target: &BinlogPos,
        timeout: std::time::Duration,
    ) -> Result<bool> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if reached(&self.position.borrow(), target) {
                return Ok(true);
            }
            if self.task.is_finished() {
                return Err(self.failure().await);
            }
            match tokio::time::timeout_at(deadline, self.position.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(self.failure().await),
                Err(_) => return Ok(reached(&self.position.borrow(), target)),
            }
        }
    }

    /// Stops applying at the first transaction boundary at or after `at` until
    /// [`Applier::release`]. The cut-over holds the applier once it has caught up under the
    /// table lock, before the RENAME: every event on the source table's name after the RENAME
    /// is a write to the *other* table (the one renamed into its place), which must not be
    /// applied to the target, whose name the RENAME has just taken away.
    pub fn hold(&self, at: &BinlogPos) {
        self.hold.send_replace(Some(at.clone()));
    }

    /// Lets a held applier go on (a cut-over attempt that did not rename).
    pub fn release(&self) {
        self.hold.send_replace(None);
    }

    /// The applied position.
    pub fn applied(&self) -> BinlogPos {
        self.position.borrow().clone()
    }

    /// Whether the applier died (its error comes from `stop`).
    pub fn failed(&self) -> bool {
        self.task.is_finished()
    }

    async fn failure(&mut self) -> Error {
        match (&mut self.task).await {
            Ok(Err(e)) => e,
            Ok(Ok(())) => Error::Binlog {
                message: "the binary log stream ended".into(),
                help: "run the command again; it resumes from the last applied position".into(),
            },
            Err(e) => Error::Binlog {
                message: format!("the applier task failed: {e}"),
                help: "run the command again; it resumes from the last applied position".into(),
            },
        }
    }

    /// Stops the applier; returns its error if it had failed.
    pub async fn stop(self) -> Result<BinlogPos> {
        let _ = self.stop.send(true);
        let position = self.position.borrow().clone();
        match self.task.await {
            Ok(Ok(())) => Ok(position),
            Ok(Err(e)) => Err(e),
            Err(e) if e.is_cancelled() => Ok(position),
            Err(e) => Err(Error::Binlog {
                message: format!("the applier task failed: {e}"),
                help: "run the command again".into(),
            }),
        }
    }
}

fn reached(applied: &BinlogPos, target: &BinlogPos) -> bool {
    // Binary log file names sort by their sequence number (same base name, zero-padded).
    (applied.file.as_str(), applied.pos) >= (target.file.as_str(), target.pos)
}

/// What the applier's owner tells its loop.
struct Signals {
    stop: watch::Receiver<bool>,
    hold: watch::Receiver<Option<BinlogPos>>,
}

enum RowChange {
    Upsert(Vec<Value>),
    Delete(Vec<Value>),
}

async fn apply_loop(
    mut stream: mysql_async::BinlogStream,
    writer: &mut Conn,
    spec: &ApplySpec,
    from: BinlogPos,
    position: watch::Sender<BinlogPos>,
    mut signals: Signals,
) -> Result<()> {
    let mut file = from.file.clone();
    let mut pending: Vec<RowChange> = Vec::new();
    // Positions are only ever published between transactions, so a resumed stream never
    // starts in the middle of one (it would miss the table map of the rows that follow).
    let mut in_transaction = false;
    let binlog_error = |e: String| Error::Binlog {
        message: e,
        help: "run the command again; it resumes from the last applied position".into(),
    };
    loop {
        // Held at a transaction boundary: read no further until released or stopped.
        let held = !in_transaction
            && signals
                .hold
                .borrow_and_update()
                .as_ref()
                .is_some_and(|at| reached(&position.borrow(), at));
        if held {
            tokio::select! {
                _ = signals.stop.changed() => return Ok(()),
                _ = signals.hold.changed() => continue,
            }
        }
        let event = tokio::select! {
            _ = signals.stop.changed() => return Ok(()),
            // A hold set while waiting for the next event takes effect before reading it
            // (the stream keeps its state when its `next` is dropped).
            _ = signals.hold.changed(), if !in_transaction => continue,
            event = stream.next() => event,
        };
        let Some(event) = event else {
            return Err(binlog_error(
                "the server closed the binary log stream".into(),
            ));
        };
        let event = event.map_err(|e| binlog_error(e.to_string()))?;
        let end = u64::from(event.header().log_pos());
        let data = event.read_data().map_err(|e| binlog_error(e.to_string()))?;
        let mut next = (end > 0).then(|| BinlogPos {
            file: file.clone(),
            pos: end,
        });
        match data {
            Some(EventData::RotateEvent(r)) => {
                file = rotated_name(&from.file, r.name_raw());
                next = Some(BinlogPos {
                    file: file.clone(),
                    pos: r.position(),
                });
            }
            Some(EventData::TableMapEvent(_)) => in_transaction = true,
            Some(EventData::RowsEvent(rows)) => {
                in_transaction = true;
                if let Some(tme) = stream.get_tme(rows.table_id()) {
                    if tme.database_name() == spec.database && tme.table_name() == spec.source {
                        collect_rows(&rows, tme, spec, &mut pending).map_err(binlog_error)?;
                    }
                }
            }
            Some(EventData::QueryEvent(q)) if q.query().trim().eq_ignore_ascii_case("BEGIN") => {
                in_transaction = true;
            }
            Some(EventData::XidEvent(_)) | Some(EventData::QueryEvent(_)) => {
                // A commit (XID for InnoDB, a query for COMMIT and DDL).
                if !pending.is_empty() {
                    let changes = std::mem::take(&mut pending);
                    // A deadlock with the row copy rolls the whole transaction back: retry it.
                    let mut attempt = 0;
                    loop {
                        attempt += 1;
                        match apply(writer, spec, &changes).await {
                            Err(Error::Sql { source, .. })
                                if attempt < 10
                                    && matches!(
                                        server_code(&source),
                                        Some(codes::DEADLOCK | codes::LOCK_WAIT_TIMEOUT)
                                    ) =>
                            {
                                tokio::time::sleep(std::time::Duration::from_millis(10 * attempt))
                                    .await;
                            }
                            other => break other?,
                        }
                    }
                }
                in_transaction = false;
            }
            _ => {}
        }
        if !in_transaction {
            if let Some(next) = next {
                position.send_replace(next);
            }
        }
    }
}

/// The file a rotate event names. The event's name bytes can carry the event's 4-byte checksum
/// at their end, so the name is rebuilt from the shape of the known file name: the same base
/// and as many sequence digits (`binlog.000001` -> `binlog.000002`).
fn rotated_name(known: &str, raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let Some(dot_known) = known.rfind('.') else {
        return text.into_owned();
    };
    // The base never changes; the checksum bytes may contain a dot themselves.
    let base = &known[..=dot_known];
    let dot = if text.starts_with(base) {
        dot_known
    } else {
        match text.find('.') {
            Some(d) => d,
            None => return text.into_owned(),
        }
    };
    let width = known.len() - dot_known - 1;
    let digits: String = text[dot + 1..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .take(width.max(6))
        .collect();
    format!("{}.{digits}", &text[..dot])
}

fn row_values(
    mut row: mysql_async::binlog::row::BinlogRow,
) -> std::result::Result<Vec<Value>, String> {
    (0..row.len())
        .map(|i| match row.take(i) {
            Some(v) => Value::try_from(v).map_err(|e| format!("a value in the binary log: {e}")),
            None => Ok(Value::NULL),
        })
        .collect()
}

fn collect_rows(
    rows: &RowsEventData<'_>,
    tme: &mysql_async::binlog::events::TableMapEvent<'_>,
    spec: &ApplySpec,
    pending: &mut Vec<RowChange>,
) -> std::result::Result<(), String> {
    let index_of = |name: &str| spec.source_columns.iter().position(|c| c == name);
    let key_idx: Vec<usize> = spec.key.iter().filter_map(|k| index_of(k)).collect();
    let col_idx: Vec<usize> = spec
        .columns
        .iter()
        .filter_map(|(_, s)| index_of(s))
        .collect();
    if key_idx.len() != spec.key.len() || col_idx.len() != spec.columns.len() {
        return Err("the table's columns changed during the copy".into());
    }
    let pick = |values: &[Value], idx: &[usize]| -> Vec<Value> {
        idx.iter()
            .map(|i| values.get(*i).cloned().unwrap_or(Value::NULL))
            .collect()
    };
    for row in rows.rows(tme) {
        let (before, after) = row.map_err(|e| format!("a row event cannot be read: {e}"))?;
        let before = before.map(row_values).transpose()?;
        let after = after.map(row_values).transpose()?;
        match (before, after) {
            (None, Some(a)) => pending.push(RowChange::Upsert(pick(&a, &col_idx))),
            (Some(b), None) => pending.push(RowChange::Delete(pick(&b, &key_idx))),
            (Some(b), Some(a)) => {
                let old_key = pick(&b, &key_idx);
                if old_key != pick(&a, &key_idx) {
                    pending.push(RowChange::Delete(old_key));
                }
                pending.push(RowChange::Upsert(pick(&a, &col_idx)));
            }
            (None, None) => {}
        }
    }
    Ok(())
}

/// Applies one source transaction's changes in one target transaction, consecutive upserts
/// batched into multi-row REPLACEs.
async fn apply(writer: &mut Conn, spec: &ApplySpec, changes: &[RowChange]) -> Result<()> {
    let ctx = format!("applying binary log changes to {}", spec.target);
    let mut tx = writer
        .start_transaction(Default::default())
        .await
        .map_err(Error::sql(ctx.clone()))?;
    let targets: Vec<&str> = spec.columns.iter().map(|(t, _)| t.as_str()).collect();
    let row_marks = format!("({})", vec!["?"; targets.len()].join(", "));
    let key_where = spec
        .target_key
        .iter()
        .map(|k| format!("{} <=> ?", ident(k)))
        .collect::<Vec<_>>()
        .join(" AND ");
    let mut batch: Vec<Value> = Vec::new();
    let mut batch_rows = 0usize;
    let flush = |batch: &mut Vec<Value>, rows: &mut usize| {
        let sql = format!(
            "REPLACE INTO {} ({}) VALUES {}",
            ident(&spec.target),
            ident_list(&targets),
            vec![row_marks.as_str(); *rows].join(", ")
        );
        *rows = 0;
        (sql, std::mem::take(batch))
    };
    for change in changes {
        match change {
            RowChange::Upsert(values) => {
                batch.extend(values.iter().cloned());
                batch_rows += 1;
                if batch_rows >= 200 {
                    let (sql, params) = flush(&mut batch, &mut batch_rows);
                    tx.exec_drop(sql, params)
                        .await
                        .map_err(Error::sql(ctx.clone()))?;
                }
            }
            RowChange::Delete(key) => {
                if batch_rows > 0 {
                    let (sql, params) = flush(&mut batch, &mut batch_rows);
                    tx.exec_drop(sql, params)
                        .await
                        .map_err(Error::sql(ctx.clone()))?;
                }
                tx.exec_drop(
                    format!("DELETE FROM {} WHERE {key_where}", ident(&spec.target)),
                    key.clone(),
                )
                .await
                .map_err(Error::sql(ctx.clone()))?;
            }
        }
    }
    if batch_rows > 0 {
        let (sql, params) = flush(&mut batch, &mut batch_rows);
        tx.exec_drop(sql, params)
            .await
            .map_err(Error::sql(ctx.clone()))?;
    }
    tx.commit().await.map_err(Error::sql(ctx))
}

#[cfg(test)]
mod tests {
    #[test]
    fn rotate_names_lose_their_checksum_bytes() {
        assert_eq!(
            crate::shadow::binlog::rotated_name("binlog.000001", b"binlog.000002\x91\x07.H"),
            "binlog.000002"
        );
        assert_eq!(
            crate::shadow::binlog::rotated_name("mysql-bin.000009", b"mysql-bin.000010"),
            "mysql-bin.000010"
        );
    }
}
