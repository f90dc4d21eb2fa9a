//! tandem on PostgreSQL: connections, catalog introspection, tandem's state, the runner lock,
//! the executor (lock_timeout, retries, resumable steps) and the commands built on them.

pub mod backfill;
pub mod catalog;
pub mod connect;
pub mod engine;
pub mod error;
pub mod events;
pub mod executor;
pub mod keys;
pub mod runner_lock;
pub mod state;
pub mod verify;

pub use connect::ConnectOptions;
pub use engine::{Engine, Finished, Settings, StartOutcome, Status};
pub use error::{Error, Result};
pub use events::{Event, Reporter, Silent};
pub use executor::LockSettings;
