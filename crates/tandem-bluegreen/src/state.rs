//! tandem's record of the procedure, one row on each side (`tandem_bluegreen.state`), so each
//! command knows which side is active and how rows map without being told again.

use crate::catalog::get;
use crate::mapping::Mapping;
use crate::names::{MARKER_TABLE, SCHEMA, STATE_TABLE};
use crate::sides::{exec, Conn};
use crate::{Error, Result, Side};
use serde::{Deserialize, Serialize};
use tandem_core::quote::{ident, qualified};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    /// Which database this row lives in.
    pub side: Side,
    /// Which database takes the application's writes.
    pub active: Side,
    pub schema: String,
    pub mapping: Mapping,
    /// On the passive side: the staging tables in `schema` (shaped like the active side's).
    #[serde(default)]
    pub staging: Vec<String>,
    /// On the passive side: its own tables moved to `tandem_bluegreen` meanwhile.
    #[serde(default)]
    pub parked: Vec<String>,
    /// The latest `verify`: whether it found both sides equal.
    #[serde(default)]
    pub verified: Option<bool>,
    /// The migrations applied to green, by name.
    #[serde(default)]
    pub migrations: Vec<String>,
}

/// Creates tandem's schema, the state table and the marker table on one side.
pub async fn install(conn: &Conn) -> Result<()> {
    for sql in [
        format!("CREATE SCHEMA {}", ident(SCHEMA)),
        format!(
            "CREATE TABLE {} (singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton), doc jsonb NOT NULL)",
            qualified(SCHEMA, STATE_TABLE)
        ),
        format!(
            "CREATE TABLE {} (token text PRIMARY KEY, written_at timestamptz NOT NULL DEFAULT now())",
            qualified(SCHEMA, MARKER_TABLE)
        ),
        crate::refusal::refuse_function(),
    ] {
        exec(conn, "creating tandem's bluegreen schema", &sql).await?;
    }
    Ok(())
}

pub async fn save(conn: &Conn, state: &State) -> Result<()> {
    let doc = serde_json::to_value(state).map_err(|e| {
        Error::usage(
            format!("cannot record the state: {e}"),
            "this is a bug in tandem",
        )
    })?;
    conn.client()
        .execute(
            &format!(
                "INSERT INTO {} (doc) VALUES ($1) ON CONFLICT (singleton) DO UPDATE SET doc = EXCLUDED.doc",
                qualified(SCHEMA, STATE_TABLE)
            ),
            &[&doc],
        )
        .await
        .map_err(|e| Error::db(format!("recording the state on {}", conn.target), e))?;
    Ok(())
}

/// The state row of one side; None when `create` never ran there.
pub async fn load(conn: &Conn) -> Result<Option<State>> {
    if !crate::catalog::schema_exists(conn.client(), SCHEMA).await? {
        return Ok(None);
    }
    let rows = conn
        .client()
        .query(
            &format!("SELECT doc FROM {}", qualified(SCHEMA, STATE_TABLE)),
            &[],
        )
        .await
        .map_err(|e| Error::db(format!("reading the state on {}", conn.target), e))?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let doc: serde_json::Value = get(row, 0)?;
    serde_json::from_value(doc).map(Some).map_err(|e| {
        Error::usage(
            format!("the state on {} cannot be read: {e}", conn.target),
            "it was written by another version of tandem; run `tandem bluegreen cleanup` and create again",
        )
    })
}

/// Both sides' states, which must agree on which side is active.
pub async fn load_pair(blue: &Conn, green: &Conn) -> Result<(State, State)> {
    let none = |side: &str, target: &str| {
        Error::usage(
            format!("no blue-green procedure is set up on {side} ({target})"),
            "run `tandem bluegreen create FILE... --url BLUE --green-url GREEN` first",
        )
    };
    let b = load(blue)
        .await?
        .ok_or_else(|| none("blue", &blue.target))?;
    let g = load(green)
        .await?
        .ok_or_else(|| none("green", &green.target))?;
    if b.active != g.active {
        return Err(Error::usage(
            format!(
                "blue says {} is active, green says {}: a switch stopped half way",
                b.active.name(),
                g.active.name()
            ),
            "run the same switchover or switchback again: it continues from where it stopped",
        ));
    }
    Ok((b, g))
}
