//! tandem on PostgreSQL. This crate runs the plans `tandem-core` makes: it connects (a URL or
//! the libpq variables, TLS through rustls), reads the live schema from the catalogs, keeps
//! tandem's own state in the `tandem` schema, takes the runner lock, and executes each step
//! under a short `lock_timeout` with retries, recording it as done in the same transaction so a
//! killed run resumes; it backfills and verifies rows in batches on the table's key.
//!
//! What it must not do: decide what a migration means (planning and every step's SQL belong to
//! `tandem-core`; identifiers are quoted only through `tandem_core::quote`), print or exit (it
//! reports [`Event`]s and returns [`Error`]s, the binary shows them), panic on what the server
//! returns, or run user text as a multi-statement batch. Only the engine's face is public: [`Engine`], its settings, events, errors, records
//! and outcomes, and [`ConnectOptions`]; the modules are private to the crate.

mod backfill;
mod catalog;
mod connect;
mod engine;
mod error;
mod events;
mod executor;
mod grants;
mod helpers;
mod keys;
mod probe;
mod retry;
mod rows;
mod runner_lock;
mod state;
#[cfg(test)]
mod test_server;
mod text;
mod verify;
mod volatility;

pub use backfill::BackfillSettings;
pub use connect::{connect, ConnectOptions, Connection};
pub use engine::{Engine, Finished, Settings, StartOutcome, Status};
pub use error::{db_message, Error, Result};
pub use events::{Event, Reporter, Silent};
pub use retry::LockSettings;
pub use runner_lock::RUNNER_LOCK_KEY;
pub use state::{MigrationStatus, Record};
