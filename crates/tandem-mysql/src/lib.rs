//! tandem's MySQL and MariaDB backend: online schema changes the gh-ost way.
//!
//! Each operation of a migration becomes one change ([`plan`]). The server decides how cheap it
//! can be: `ALGORITHM=INSTANT`, else `ALGORITHM=INPLACE, LOCK=NONE` ([`online`]), each under a
//! short `lock_wait_timeout` with bounded retries. What the server can only do by copying the
//! table under a lock is done as a shadow-table change instead ([`shadow`]): a chunked copy, the
//! binary log applied to the shadow, a checksum, and an atomic cut-over.

pub mod catalog;
pub mod connect;
pub mod engine;
pub mod error;
pub mod events;
pub mod lint;
pub mod online;
pub mod plan;
pub mod quote;
pub mod shadow;
pub mod state;

pub use connect::is_mysql_url;
pub use engine::{Engine, Options, StatusReport};
pub use error::Error;
pub use events::Event;

/// The driver, for callers (and tests) that need their own connections.
pub use mysql_async;
