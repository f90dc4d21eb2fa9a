//! `tandem lint` and `tandem convert`'s options.

use clap::{Args, ValueEnum};
use std::path::PathBuf;
use tandem_lint::output::Format;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Human,
    Json,
    Sarif,
    Github,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Human => Format::Human,
            FormatArg::Json => Format::Json,
            FormatArg::Sarif => Format::Sarif,
            FormatArg::Github => Format::Github,
        }
    }
}

/// Check SQL migrations for statements that would lock or break production.
#[derive(Args, Debug, Clone)]
pub struct LintArgs {
    /// `.sql` files, tandem migration files (`.yaml`/`.json`), or folders to search for them
    /// (each folder's migration sets are recognised by their framework's layout).
    #[arg(required_unless_present = "list_rules")]
    pub paths: Vec<PathBuf>,
    /// PostgreSQL major version the migrations run on (rules that depend on it use it).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(14..=18))]
    pub pg_version: Option<u32>,
    #[arg(long, value_enum, default_value = "human")]
    pub format: FormatArg,
    /// Configuration file (default: ./tandem.toml if present).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Treat each file as one transaction, as most migration tools run them.
    #[arg(long)]
    pub assume_in_transaction: bool,
    /// With `--url`: findings on tables with fewer rows are notes, not errors
    /// (default 10000, or `small_table_rows` in tandem.toml).
    #[arg(long, value_name = "ROWS")]
    pub small_table_rows: Option<i64>,
    /// Run each migration set on a throwaway PostgreSQL and report what the server really
    /// did: locks, rewrites, validation scans.
    #[arg(long)]
    pub trace: bool,
    /// Print the rules and exit.
    #[arg(long)]
    pub list_rules: bool,
    /// The SQL dialect of the files: PostgreSQL, or MySQL/MariaDB (rules for ALTERs that copy
    /// or lock the table and DDL without a short lock_wait_timeout).
    #[arg(long, value_enum, default_value = "postgres")]
    pub dialect: Dialect,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Dialect {
    Postgres,
    Mysql,
}

/// Write a tandem migration that makes the same change as a SQL file, safely.
#[derive(Args, Debug, Clone)]
pub struct ConvertArgs {
    /// The SQL migration to convert.
    pub file: PathBuf,
    /// Where to write the tandem migration (default: standard output).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}
