//! The MySQL/MariaDB backend's options, flattened into the global options.

use crate::duration::parse_duration;
use clap::Args;
use std::time::Duration;

/// Options of the MySQL/MariaDB backend (ignored on PostgreSQL).
#[derive(Args, Debug, Clone)]
pub struct MysqlArgs {
    /// MySQL: stop before the cut-over of a table copy; `tandem complete` does it.
    #[arg(long, global = true)]
    pub postpone_cut_over: bool,
    /// MySQL: copy through a shadow table even when the server could ALTER online.
    #[arg(long, global = true)]
    pub copy: bool,
    /// MySQL: the time each copy chunk aims at; the chunk size adapts to it.
    #[arg(long, default_value = "500ms", value_parser = parse_duration, global = true)]
    pub chunk_time: Duration,
    /// MySQL: pause the copy while Threads_running is above this.
    #[arg(long, default_value_t = 50, global = true)]
    pub max_threads_running: u64,
    /// MySQL: a replica to watch (repeatable); the copy pauses while it lags.
    #[arg(long = "replica", global = true)]
    pub replicas: Vec<String>,
    /// MySQL: the largest replica lag the copy tolerates.
    #[arg(long, default_value = "1500ms", value_parser = parse_duration, global = true)]
    pub max_replica_lag: Duration,
    /// MySQL: how long the cut-over may block the table (lock, last events, rename).
    #[arg(long, default_value = "3s", value_parser = parse_duration, global = true)]
    pub cut_over_timeout: Duration,
}
