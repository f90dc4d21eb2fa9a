//! The `tandem lint` and `tandem convert` commands, for the `tandem` binary to wire in.

use crate::config::LintConfig;
use crate::engine::Linter;
use crate::finding::{Finding, Severity};
use crate::input;
use crate::output::{self, Format, Sources};
use crate::rules::REGISTRY;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Exit status: nothing found.
pub const EXIT_OK: i32 = 0;
/// Exit status: at least one error or warning.
pub const EXIT_FINDINGS: i32 = 1;
/// Exit status: bad usage, unreadable input or SQL PostgreSQL cannot parse.
pub const EXIT_USAGE: i32 = 2;

/// Check SQL migrations for statements that would lock or break production.
#[derive(clap::Args, Debug, Clone)]
pub struct LintArgs {
    /// `.sql` files, tandem migration files (`.yaml`/`.json`), or folders to search for them.
    #[arg(required_unless_present = "list_rules")]
    pub paths: Vec<PathBuf>,
    /// PostgreSQL major version the migrations run on (rules that depend on it use it).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(14..=18))]
    pub pg_version: Option<u32>,
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
    /// Configuration file (default: ./tandem.toml if present).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Treat each file as one transaction, as most migration tools run them.
    #[arg(long)]
    pub assume_in_transaction: bool,
    /// Print the rules and exit.
    #[arg(long)]
    pub list_rules: bool,
}

/// Write a tandem migration that makes the same change as a SQL file, safely.
#[derive(clap::Args, Debug, Clone)]
pub struct ConvertArgs {
    /// The SQL migration to convert.
    pub file: PathBuf,
    /// Where to write the tandem migration (default: standard output).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

fn load_config(args: &LintArgs) -> Result<LintConfig, String> {
    let path = match &args.config {
        Some(p) => p.clone(),
        None => {
            let default = PathBuf::from("tandem.toml");
            if !default.is_file() {
                return Ok(LintConfig::default());
            }
            default
        }
    };
    let mut config = LintConfig::load(&path).map_err(|e| e.to_string())?;
    config.assume_in_transaction |= args.assume_in_transaction;
    Ok(config)
}

/// Runs `tandem lint`, printing to stdout (findings) and stderr (usage errors); returns the
/// exit status.
pub fn run_lint(args: &LintArgs) -> i32 {
    if args.list_rules {
        for r in REGISTRY {
            println!("{:40} {:8} {}", r.id, r.severity.to_string(), r.summary);
        }
        return EXIT_OK;
    }
    let config = match load_config(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    let files = match input::collect(&args.paths) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    let (findings, sources, read_errors) =
        lint_files(&files, &args.paths, &config, args.pg_version);
    for e in &read_errors {
        eprintln!("error: {e}");
    }
    let text = output::render(args.format, &findings, &sources);
    // A closed pipe (`| head`) is not worth a panic.
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    exit_code(&findings, !read_errors.is_empty())
}

/// The exit status for a set of findings.
pub fn exit_code(findings: &[Finding], input_errors: bool) -> i32 {
    if input_errors || findings.iter().any(Finding::is_syntax_error) {
        EXIT_USAGE
    } else if findings
        .iter()
        .any(|f| matches!(f.severity, Severity::Error | Severity::Warning))
    {
        EXIT_FINDINGS
    } else {
        EXIT_OK
    }
}

/// Lints files in order; returns the findings, the file texts and the input errors.
pub fn lint_files(
    files: &[PathBuf],
    named: &[PathBuf],
    config: &LintConfig,
    pg_version: Option<u32>,
) -> (Vec<Finding>, Sources, Vec<String>) {
    let mut linter = Linter::new(config, pg_version);
    let mut findings = Vec::new();
    let mut sources = Sources::new();
    let mut errors = Vec::new();
    for path in files {
        let name = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(source) => {
                errors.push(input::InputError::Read { path: name, source }.to_string());
                continue;
            }
        };
        let explicit = named.iter().any(|n| n == path);
        match input::units(path, &text, explicit) {
            Ok(units) => {
                for unit in units {
                    findings.extend(linter.lint(&name, &unit.sql, unit.placement));
                }
            }
            Err(e) => errors.push(e.to_string()),
        }
        sources.insert(name, text);
    }
    (findings, sources, errors)
}

/// Runs `tandem convert`; returns the exit status.
pub fn run_convert(args: &ConvertArgs) -> i32 {
    let text = match std::fs::read_to_string(&args.file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {}: cannot read: {e}", args.file.display());
            return EXIT_USAGE;
        }
    };
    let yaml = match crate::convert::convert(&text) {
        Ok(y) => y,
        Err(e) => {
            let (line, col) = crate::source::LineIndex::new(&text, crate::source::Placement::Whole)
                .position(&text, e.offset);
            eprintln!(
                "error: {}:{line}:{col}: PostgreSQL cannot parse this file: {}",
                args.file.display(),
                e.message
            );
            return EXIT_USAGE;
        }
    };
    match &args.output {
        Some(path) => write_file(path, &yaml),
        None => {
            let _ = std::io::stdout().lock().write_all(yaml.as_bytes());
            EXIT_OK
        }
    }
}

fn write_file(path: &Path, text: &str) -> i32 {
    match std::fs::write(path, text) {
        Ok(()) => EXIT_OK,
        Err(e) => {
            eprintln!("error: {}: cannot write: {e}", path.display());
            EXIT_USAGE
        }
    }
}
