//! Blue-green databases over PostgreSQL's native logical replication.
//!
//! Blue is the live database, green an empty one the user created. `create` copies blue's
//! schema to green from the catalogs, applies migrations to green with tandem's engine, and
//! starts a subscription on green to a publication on blue. Tables whose shape the migration
//! changes are received into blue-shaped *staging* tables on green, whose replica-only
//! triggers apply the migration's `up` to green's real tables. `switchover` stops writes on
//! blue, waits for green to apply blue's last write, copies sequences, and starts the same
//! arrangement in the other direction (green to blue, through `down`); `switchback` reverses
//! it; `cleanup` removes every trace from both sides.
//!
//! Logical replication matches tables by schema and name, so while a side is *passive* its
//! public names hold the tables shaped like the *active* side's (staging tables), and its own
//! tables of the same names wait in the `tandem_bluegreen` schema ("parked"). A switch moves
//! them back with `ALTER TABLE ... SET SCHEMA`, a catalog change of a few milliseconds.

pub mod catalog;
mod cleanup;
mod create;
mod fence;
mod link;
pub mod mapping;
mod names;
mod preconditions;
mod refusal;
mod schema_copy;
mod sides;
mod state;
mod status;
mod switch;
mod verify;

pub use cleanup::{cleanup, CleanupReport};
pub use create::{create, CreateReport};
pub use preconditions::{check_preconditions, Problem};
pub use sides::{Options, Pair, Side};
pub use status::{status, LinkStatus};
pub use switch::{switchback, switchover, SwitchReport, SwitchSettings};
pub use verify::{verify, TableVerification, VerifyReport, VerifySettings};

pub use tandem_pg::{Error, Result};

/// Progress of a long command; the library never prints, the caller decides how it looks.
pub trait Progress: Send + Sync {
    fn step(&self, message: &str);
}

/// Reports nothing.
pub struct Quiet;

impl Progress for Quiet {
    fn step(&self, _message: &str) {}
}
