//! What a copy is configured with and what a running copy holds. A leaf of `shadow`, so the
//! copy's parts (checksum, cut-over) use it without importing their parent.

use super::throttle;
use crate::events::Event;
use crate::online::LockPolicy;
use mysql_async::Pool;
use std::time::Duration;

/// Settings of the copy.
#[derive(Debug, Clone)]
pub struct CopyConfig {
    /// The time one chunk should take; the chunk size adapts to it.
    pub chunk_time: Duration,
    /// First chunk size (and the fixed size when `adaptive` is off).
    pub chunk_size: u64,
    pub adaptive: bool,
    pub throttle: throttle::ThrottleConfig,
    /// `server_id` the binary log reader registers with (must differ from every server's).
    pub server_id: u32,
    /// How long the cut-over may hold the table (lock, last events, rename).
    pub cut_over_timeout: Duration,
    pub cut_over_attempts: u32,
}

impl Default for CopyConfig {
    fn default() -> Self {
        CopyConfig {
            chunk_time: Duration::from_millis(500),
            chunk_size: 1000,
            adaptive: true,
            throttle: throttle::ThrottleConfig::default(),
            server_id: 0,
            cut_over_timeout: Duration::from_secs(3),
            cut_over_attempts: 30,
        }
    }
}

/// Everything a running copy needs.
pub struct Job<'a> {
    pub pool: &'a Pool,
    /// The pool's options, for the applier's own connections.
    pub opts: &'a mysql_async::Opts,
    pub migration: &'a str,
    pub config: &'a CopyConfig,
    pub policy: &'a LockPolicy,
    pub report: &'a (dyn Fn(Event) + Sync),
}
