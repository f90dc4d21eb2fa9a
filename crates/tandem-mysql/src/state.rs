//! tandem's state in the target database: one row per migration, with the shadow copy's
//! checkpoint (last key copied, binary log position applied), so a killed run resumes.

use crate::error::{Error, Result};
use crate::quote::ident;
use mysql_async::prelude::*;
use mysql_async::{Conn, Value};
use serde::{Deserialize, Serialize};

pub const STATE_TABLE: &str = "_tandem_mysql_migrations";

/// Where a migration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Changes are being applied (or a copy runs).
    InProgress,
    /// The copy is done and checked; the cut-over waits for `complete`.
    ReadyForCutOver,
    /// Every change is applied (a shadow copy's old table is kept).
    Complete,
    RolledBack,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::InProgress => "in_progress",
            Status::ReadyForCutOver => "ready_for_cut_over",
            Status::Complete => "complete",
            Status::RolledBack => "rolled_back",
        }
    }

    fn parse(s: &str) -> Status {
        match s {
            "ready_for_cut_over" => Status::ReadyForCutOver,
            "complete" => Status::Complete,
            "rolled_back" => Status::RolledBack,
            _ => Status::InProgress,
        }
    }
}

/// A key value, stored so it reads back as the same value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyValue {
    Null,
    Int(i64),
    UInt(u64),
    Float(f64),
    /// Bytes as hex (strings, decimals, dates as the server sent them).
    Hex(String),
}

impl KeyValue {
    pub fn from_value(v: &Value) -> KeyValue {
        match v {
            Value::NULL => KeyValue::Null,
            Value::Int(i) => KeyValue::Int(*i),
            Value::UInt(u) => KeyValue::UInt(*u),
            Value::Float(f) => KeyValue::Float(f64::from(*f)),
            Value::Double(d) => KeyValue::Float(*d),
            Value::Bytes(b) => KeyValue::Hex(b.iter().map(|x| format!("{x:02x}")).collect()),
            other => {
                // Dates and times: their SQL text without the quotes is what the server reads back.
                let sql = other.as_sql(false);
                let text = sql.trim_matches('\'');
                KeyValue::Hex(text.bytes().map(|x| format!("{x:02x}")).collect())
            }
        }
    }

    pub fn to_value(&self) -> Value {
        match self {
            KeyValue::Null => Value::NULL,
            KeyValue::Int(i) => Value::Int(*i),
            KeyValue::UInt(u) => Value::UInt(*u),
            KeyValue::Float(f) => Value::Double(*f),
            KeyValue::Hex(h) => Value::Bytes(
                (0..h.len() / 2)
                    .filter_map(|i| u8::from_str_radix(h.get(2 * i..2 * i + 2)?, 16).ok())
                    .collect(),
            ),
        }
    }
}

/// A binary log position.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BinlogPos {
    pub file: String,
    pub pos: u64,
}

/// The shadow-table change in progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShadowState {
    /// Index of the change in the migration.
    pub change: usize,
    pub table: String,
    pub shadow: String,
    pub old: String,
    /// (shadow column, source column).
    pub columns: Vec<(String, String)>,
    /// The source's primary key columns, and their names in the shadow.
    pub key: Vec<String>,
    pub shadow_key: Vec<String>,
    /// Source columns in table order (binlog rows are positional).
    pub source_columns: Vec<String>,
    pub last_key: Option<Vec<KeyValue>>,
    pub copy_done: bool,
    pub rows_copied: u64,
    pub rows_estimate: u64,
    /// Where the applier has applied up to (a transaction boundary).
    pub applied: BinlogPos,
    /// The position taken under the cut-over lock: every later event on the table is a write
    /// made after cut-over (what rollback replays onto the old table).
    pub cut_over_at: Option<BinlogPos>,
    pub cut_over: bool,
    pub chunk_size: u64,
    pub copy_started_unix: u64,
    pub throttle: String,
    /// Secondary indexes of the shadow (as `SHOW CREATE TABLE` writes them), dropped for the
    /// copy and built once after it: a sorted build is faster than row-by-row upkeep, and a
    /// new unique index then fails on duplicates instead of the copy's `INSERT IGNORE`
    /// silently skipping them.
    #[serde(default)]
    pub deferred_indexes: Vec<String>,
}

/// One migration's row.
#[derive(Debug, Clone)]
pub struct MigrationState {
    pub name: String,
    pub checksum: String,
    pub migration_json: String,
    pub status: Status,
    /// Changes done (a prefix of the migration).
    pub done: usize,
    pub shadow: Option<ShadowState>,
    pub paused: bool,
}

pub async fn ensure(conn: &mut Conn) -> Result<()> {
    conn.query_drop(format!(
        "CREATE TABLE IF NOT EXISTS {} (\
           name VARCHAR(255) NOT NULL PRIMARY KEY, \
           checksum CHAR(64) NOT NULL, \
           migration LONGTEXT NOT NULL, \
           status VARCHAR(32) NOT NULL, \
           done INT NOT NULL DEFAULT 0, \
           shadow LONGTEXT NULL, \
           paused TINYINT NOT NULL DEFAULT 0, \
           started_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, \
           updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP\
         ) ENGINE=InnoDB",
        ident(STATE_TABLE)
    ))
    .await
    .map_err(Error::sql("creating tandem's state table"))
}

type Row = (String, String, String, String, i64, Option<String>, i64);

fn from_row(row: Row) -> Result<MigrationState> {
    let (name, checksum, migration_json, status, done, shadow, paused) = row;
    let shadow = match shadow {
        Some(text) => Some(serde_json::from_str(&text).map_err(|e| {
            Error::state(
                format!("the saved copy state of `{name}` cannot be read: {e}"),
                format!("inspect {STATE_TABLE}; `tandem rollback` abandons the copy"),
            )
        })?),
        None => None,
    };
    Ok(MigrationState {
        name,
        checksum,
        migration_json,
        status: Status::parse(&status),
        done: usize::try_from(done).unwrap_or(0),
        shadow,
        paused: paused != 0,
    })
}

const COLUMNS: &str = "name, checksum, migration, status, done, shadow, paused";

/// The latest migration (by start time), if any.
pub async fn latest(conn: &mut Conn) -> Result<Option<MigrationState>> {
    ensure(conn).await?;
    let row: Option<Row> = conn
        .query_first(format!(
            "SELECT {COLUMNS} FROM {} ORDER BY started_at DESC, name DESC LIMIT 1",
            ident(STATE_TABLE)
        ))
        .await
        .map_err(Error::sql("reading tandem's state"))?;
    row.map(from_row).transpose()
}

pub async fn get(conn: &mut Conn, name: &str) -> Result<Option<MigrationState>> {
    ensure(conn).await?;
    let row: Option<Row> = conn
        .exec_first(
            format!(
                "SELECT {COLUMNS} FROM {} WHERE name = ?",
                ident(STATE_TABLE)
            ),
            (name,),
        )
        .await
        .map_err(Error::sql("reading tandem's state"))?;
    row.map(from_row).transpose()
}

pub async fn insert(conn: &mut Conn, name: &str, checksum: &str, json: &str) -> Result<()> {
    conn.exec_drop(
        format!(
            "INSERT INTO {} (name, checksum, migration, status) VALUES (?, ?, ?, 'in_progress')",
            ident(STATE_TABLE)
        ),
        (name, checksum, json),
    )
    .await
    .map_err(Error::sql("recording the migration"))
}

pub async fn set_status(conn: &mut Conn, name: &str, status: Status, done: usize) -> Result<()> {
    conn.exec_drop(
        format!(
            "UPDATE {} SET status = ?, done = ? WHERE name = ?",
            ident(STATE_TABLE)
        ),
        (status.as_str(), done as u64, name),
    )
    .await
    .map_err(Error::sql("recording the migration's progress"))
}

pub async fn save_shadow(conn: &mut Conn, name: &str, shadow: Option<&ShadowState>) -> Result<()> {
    let json = match shadow {
        Some(s) => Some(serde_json::to_string(s).map_err(|e| {
            Error::state(
                format!("cannot save the copy state: {e}"),
                "report this as a bug",
            )
        })?),
        None => None,
    };
    conn.exec_drop(
        format!(
            "UPDATE {} SET shadow = ? WHERE name = ?",
            ident(STATE_TABLE)
        ),
        (json, name),
    )
    .await
    .map_err(Error::sql("saving the copy checkpoint"))
}

pub async fn set_paused(conn: &mut Conn, name: &str, paused: bool) -> Result<()> {
    conn.exec_drop(
        format!(
            "UPDATE {} SET paused = ? WHERE name = ?",
            ident(STATE_TABLE)
        ),
        (paused, name),
    )
    .await
    .map_err(Error::sql("setting the pause flag"))
}

pub async fn is_paused(conn: &mut Conn, name: &str) -> Result<bool> {
    let paused: Option<i64> = conn
        .exec_first(
            format!("SELECT paused FROM {} WHERE name = ?", ident(STATE_TABLE)),
            (name,),
        )
        .await
        .map_err(Error::sql("reading the pause flag"))?;
    Ok(paused.unwrap_or(0) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_values_round_trip() {
        for v in [
            Value::Int(-5),
            Value::UInt(u64::MAX),
            Value::Bytes(b"a'b\0".to_vec()),
            Value::NULL,
        ] {
            assert_eq!(KeyValue::from_value(&v).to_value(), v);
        }
    }
}
