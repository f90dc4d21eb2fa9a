//! `tandem bluegreen`'s subcommands and their options.

use crate::duration::parse_duration;
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Args, Debug)]
pub struct BluegreenArgs {
    #[command(subcommand)]
    pub command: BluegreenCommand,
    /// The green database's URL (an empty database you created; another cluster or the same).
    /// --url is the blue (live) one. Each side's subscription connects to the other with
    /// these URLs, so they must work from the servers too.
    #[arg(
        long,
        env = "GREEN_DATABASE_URL",
        global = true,
        hide_env_values = true
    )]
    pub green_url: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum BluegreenCommand {
    /// Copy blue's schema to green, apply the migrations to green, start replication.
    Create {
        /// Migration files, applied to green in this order.
        files: Vec<PathBuf>,
    },
    /// Replication state, lag in bytes and seconds, initial copy progress, last error.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Compare every row of both sides (the active side's through the mapping), in batches.
    Verify {
        #[arg(long)]
        json: bool,
        #[arg(long, default_value_t = 10_000)]
        batch_size: i64,
    },
    /// Stop writes on blue, wait for green to catch up, make green the live database.
    Switchover(SwitchArgs),
    /// The same from green back to blue.
    Switchback(SwitchArgs),
    /// Remove every subscription, publication, slot, trigger and staging table of tandem.
    Cleanup,
}

#[derive(Args, Debug)]
pub struct SwitchArgs {
    /// Refuse when the passive side is more than this many bytes behind.
    #[arg(long, default_value_t = 16 * 1024 * 1024)]
    pub max_lag: i64,
    /// Refuse when the passive side takes longer than this to apply a probe write.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub max_lag_time: Duration,
    /// Refuse when a transaction on the live side is older than this.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub max_transaction_age: Duration,
    /// Switch even without a successful `verify` since the last create or switch.
    #[arg(long)]
    pub skip_verify: bool,
    /// How long running write transactions may finish before their sessions are ended.
    #[arg(long, default_value = "200ms", value_parser = parse_duration)]
    pub write_grace: Duration,
    /// The longest to wait for the locks that stop writes.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub fence_timeout: Duration,
    /// The longest to wait for the other side to apply the last write (then writes resume).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub catch_up_timeout: Duration,
    #[arg(long)]
    pub json: bool,
}
