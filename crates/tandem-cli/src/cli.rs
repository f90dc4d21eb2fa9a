//! Command-line arguments.

mod bluegreen_args;
#[cfg(feature = "lint")]
mod lint_args;
mod mysql_args;

pub use bluegreen_args::{BluegreenArgs, BluegreenCommand};
#[cfg(feature = "lint")]
pub use lint_args::{ConvertArgs, Dialect, FormatArg, LintArgs};
pub use mysql_args::MysqlArgs;

use crate::duration::parse_duration;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "tandem",
    version,
    about = "Zero-downtime PostgreSQL schema changes: expand, run old and new versions side by side, contract.",
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct Global {
    /// Database URL (postgres://user:password@host:port/db?sslmode=...). Without it, the libpq
    /// variables PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE and PGSSLMODE are used.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub url: Option<String>,
    /// The role tandem's objects belong to: tandem runs `SET ROLE` to it after connecting, so
    /// the tables, columns and version schemas it creates are that role's (as with pgroll's
    /// --role). The user connecting must be a member of it.
    #[arg(long, env = "TANDEM_ROLE", global = true)]
    pub role: Option<String>,
    /// The schema whose tables the migrations change.
    #[arg(long, default_value = "public", global = true)]
    pub schema: String,
    /// How long one DDL statement may wait for its lock (e.g. 500ms, 2s); also the longest
    /// other sessions queue behind it.
    #[arg(long, default_value = "500ms", value_parser = parse_duration, global = true)]
    pub lock_timeout: Duration,
    /// How long tandem keeps retrying a step whose lock it cannot get before it gives up.
    #[arg(long, default_value = "60s", value_parser = parse_duration, global = true)]
    pub lock_retry_budget: Duration,
    /// How long to wait for another tandem running on the same database.
    #[arg(long, default_value = "60s", value_parser = parse_duration, global = true)]
    pub wait_for_runner: Duration,
    /// The duration each backfill batch aims at; the batch size adapts to it.
    #[arg(long, default_value = "100ms", value_parser = parse_duration, global = true)]
    pub backfill_batch_time: Duration,
    /// A fixed backfill batch size (rows), instead of the adaptive one.
    #[arg(long, global = true)]
    pub backfill_batch_size: Option<i64>,
    /// A pause between backfill batches, to leave the server room.
    #[arg(long, default_value = "0ms", value_parser = parse_duration, global = true)]
    pub backfill_pause: Duration,
    /// Print nothing but results and errors.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    #[command(flatten)]
    pub mysql: MysqlArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create tandem's state schema (every command does it when missing).
    Init,
    /// Expand: run a migration's start phase, creating its version schema.
    Start {
        /// The migration file (YAML or JSON).
        file: PathBuf,
        /// Complete the migration right after starting it.
        #[arg(long)]
        complete: bool,
    },
    /// Contract: complete the migration in progress (drops the previous version schema).
    Complete,
    /// Undo the start of the migration in progress (drops the new version schema).
    Rollback,
    /// Apply, in file-name order, every migration in DIR not applied yet.
    Migrate {
        dir: PathBuf,
        /// Complete the last migration too (the others are always completed).
        #[arg(long)]
        complete: bool,
    },
    /// Show the latest migration and the version schema clients should use.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Print how an application connects to a version: a URL (or `options`, or the
    /// search_path) that selects the latest version schema, or that of --migration.
    Url {
        /// A migration whose version schema is still live (default: the latest).
        #[arg(long)]
        migration: Option<String>,
        /// What to print.
        #[arg(long, value_enum, default_value = "url")]
        format: crate::commands::url::UrlFormat,
    },
    /// List every migration applied to the schema.
    History {
        #[arg(long)]
        json: bool,
    },
    /// Re-run the verification of the migration in progress (every backfilled row, and the
    /// migration's own `verify` queries); changes nothing.
    Verify,
    /// Parse a migration and check it against the live schema; changes nothing.
    Validate { file: PathBuf },
    /// Print every step start, complete and rollback would run, with its locks; changes nothing.
    Plan {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// MySQL/MariaDB: pause the running table copy (it waits between chunks).
    Pause,
    /// MySQL/MariaDB: resume a paused table copy.
    Resume,
    /// Run a demo migration on a throwaway PostgreSQL while an old and a new application write.
    Demo(DemoArgs),
    /// Blue-green databases: migrate a copy kept in sync by logical replication, switch over.
    Bluegreen(BluegreenArgs),
    #[cfg(feature = "lint")]
    /// Lint SQL migrations for statements that would block or break production.
    Lint(LintArgs),
    #[cfg(feature = "lint")]
    /// Turn a SQL migration into a tandem migration that does the same change safely.
    Convert(ConvertArgs),
}

#[derive(Args, Debug, Clone)]
pub struct DemoArgs {
    /// Rows in the sample table.
    #[arg(long, default_value_t = 100_000)]
    pub rows: i64,
    /// How long each phase with writers runs.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub phase_time: Duration,
}
