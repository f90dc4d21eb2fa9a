//! The two databases: blue (live when the procedure starts) and green.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tandem_pg::{ConnectOptions, Engine, Settings, Silent};
use tokio_postgres::Client;

/// Which database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Blue,
    Green,
}

impl Side {
    pub fn other(self) -> Side {
        match self {
            Side::Blue => Side::Green,
            Side::Green => Side::Blue,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Side::Blue => "blue",
            Side::Green => "green",
        }
    }
}

/// What every command needs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Blue's URL. The subscription on green connects with it, so it must work from green's
    /// server too (not only from where tandem runs).
    pub blue_url: String,
    /// Green's URL, likewise used by blue's subscription after switchover.
    pub green_url: String,
    /// The schema whose tables take part (the same name on both sides).
    pub schema: String,
}

/// One open connection to a side (through tandem-pg's engine, which owns connecting: URLs,
/// libpq variables, TLS).
pub struct Conn {
    engine: Engine,
    /// `user@host:port/db`, never the password.
    pub target: String,
    /// The URL, for the other side's subscription.
    pub url: String,
}

impl Conn {
    pub fn client(&self) -> &Client {
        self.engine.client()
    }

    /// The engine, to apply migrations with.
    pub fn engine(&mut self) -> &mut Engine {
        &mut self.engine
    }
}

/// Both sides, connected.
pub struct Pair {
    pub blue: Conn,
    pub green: Conn,
    pub schema: String,
}

impl Pair {
    pub async fn connect(options: &Options) -> Result<Pair> {
        Ok(Pair {
            blue: open(&options.blue_url).await?,
            green: open(&options.green_url).await?,
            schema: options.schema.clone(),
        })
    }

    pub fn side(&self, side: Side) -> &Conn {
        match side {
            Side::Blue => &self.blue,
            Side::Green => &self.green,
        }
    }
}

/// Connects to one side. A second connection to the same side is opened the same way.
pub async fn open(url: &str) -> Result<Conn> {
    let engine = Engine::connect(
        &ConnectOptions {
            url: Some(url.to_string()),
        },
        Settings::default(),
        Arc::new(Silent),
    )
    .await?;
    let target = engine.target().to_string();
    // tandem's own statements name every object with its schema; an empty search_path also
    // makes the catalog functions (format_type, pg_get_*def) qualify every name they print.
    engine
        .client()
        .execute(
            "SELECT pg_catalog.set_config('search_path', '', false)",
            &[],
        )
        .await
        .map_err(|e| Error::db(format!("preparing the session on {target}"), e))?;
    Ok(Conn {
        engine,
        target,
        url: url.to_string(),
    })
}

/// Runs one statement tandem generated, naming the side and what it was doing on failure.
pub async fn exec(conn: &Conn, what: &str, sql: &str) -> Result<u64> {
    conn.client()
        .execute(sql, &[])
        .await
        .map_err(|e| Error::db(format!("{what} on {}", conn.target), e))
}
