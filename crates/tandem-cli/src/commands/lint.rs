//! `tandem lint` and `tandem convert`: the linter's command line. The library
//! (tandem-lint) returns findings; here they are printed, turned into an exit status, and
//! `--url` / `--trace` get their database connections.

use crate::cli::{ConvertArgs, Dialect, Global, LintArgs};
use miette::{miette, Report};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use tandem_lint::config::LintConfig;
use tandem_lint::convert::ConvertError;
use tandem_lint::facts::Facts;
use tandem_lint::output;
use tandem_lint::rules::REGISTRY;
use tandem_lint::{Finding, Severity};

/// Exit status: nothing found (notes do not count).
const EXIT_OK: u8 = 0;
/// Exit status: at least one error or warning.
const EXIT_FINDINGS: u8 = 1;
/// Exit status: bad usage, unreadable input or SQL PostgreSQL cannot parse.
const EXIT_USAGE: u8 = 2;

/// The configuration: the file's, with the command line's flags on top (a flag given on the
/// command line always counts, with or without a tandem.toml).
fn load_config(args: &LintArgs) -> Result<LintConfig, Report> {
    let path = args.config.clone().or_else(|| {
        let default = PathBuf::from("tandem.toml");
        default.is_file().then_some(default)
    });
    let mut config = match path {
        Some(p) => LintConfig::load(&p).map_err(|e| {
            miette!(
                help = "fix the [lint] table of the file, or pass --config with another file",
                "{e}"
            )
        })?,
        None => LintConfig::default(),
    };
    config.assume_in_transaction |= args.assume_in_transaction;
    if args.small_table_rows.is_some() {
        config.small_table_rows = args.small_table_rows;
    }
    Ok(config)
}

/// The URL `--url` gave for the lint, if any. `DATABASE_URL` alone does not turn on live
/// facts: a CI job's test database must not silence findings by lacking the tables.
fn lint_url(global: &Global) -> Option<String> {
    let url = global.url.clone()?;
    match std::env::var("DATABASE_URL") {
        Ok(env)
            if env == url && !std::env::args().any(|a| a == "--url" || a.starts_with("--url=")) =>
        {
            None
        }
        _ => Some(url),
    }
}

pub fn run_lint(args: &LintArgs, global: &Global) -> ExitCode {
    match lint(args, global) {
        Ok(code) => ExitCode::from(code),
        Err(report) => {
            eprintln!("{report:?}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Report> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| miette!("cannot start the async runtime: {e}"))
}

fn lint(args: &LintArgs, global: &Global) -> Result<u8, Report> {
    if args.dialect == Dialect::Mysql {
        return super::lint_mysql::lint(args);
    }
    if args.list_rules {
        let mut out = String::new();
        for r in REGISTRY {
            out.push_str(&format!(
                "{:40} {:8} {}\n",
                r.id,
                r.severity.to_string(),
                r.summary
            ));
        }
        let _ = std::io::stdout().lock().write_all(out.as_bytes());
        return Ok(EXIT_OK);
    }
    let config = load_config(args)?;
    let url = lint_url(global);
    let facts = match &url {
        Some(url) => {
            let mut facts = runtime()?.block_on(read_facts(url.clone(), &global.schema))?;
            if let Some(rows) = config.small_table_rows {
                facts.small_table_rows = rows;
            }
            facts
        }
        None => Facts::default(),
    };
    let mut report = tandem_lint::lint_paths(&args.paths, &config, args.pg_version, facts)
        .map_err(|e| miette!(help = "give existing files or folders", "{e}"))?;
    if args.trace {
        let traced = runtime()?.block_on(super::lint_trace::trace(&report.sets, url.as_deref()))?;
        let extra = tandem_lint::trace::findings(&traced, &report.findings);
        report.findings.extend(extra);
        report
            .findings
            .sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
    }
    for e in &report.errors {
        eprintln!("error: {e}");
    }
    let text = output::render(args.format.into(), &report.findings, &report.sources);
    // A closed pipe (`| head`) is not worth a panic.
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    Ok(exit_code(&report.findings, !report.errors.is_empty()))
}

async fn read_facts(url: String, schema: &str) -> Result<Facts, Report> {
    let conn = tandem_pg::connect(&tandem_pg::ConnectOptions { url: Some(url) })
        .await
        .map_err(|e| miette!(help = "check --url; the lint only reads table sizes", "{e}"))?;
    tandem_lint::live::read_facts(&conn.client, schema)
        .await
        .map_err(|e| miette!("{e}"))
}

/// The exit status for a set of findings.
fn exit_code(findings: &[Finding], input_errors: bool) -> u8 {
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

pub fn run_convert(args: &ConvertArgs) -> ExitCode {
    match convert(args) {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(report) => {
            eprintln!("{report:?}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

fn convert(args: &ConvertArgs) -> Result<(), Report> {
    let file = args.file.display().to_string();
    let text = std::fs::read_to_string(&args.file).map_err(|e| {
        miette!(
            help = "give a readable SQL file",
            "{file}: cannot read: {e}"
        )
    })?;
    let name = args
        .file
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("migration");
    let converted = match tandem_lint::convert::convert_migration(name, &text) {
        Ok(c) => c.yaml,
        Err(ConvertError::Syntax(e)) => {
            let (line, col) =
                tandem_lint::source::LineIndex::new(&text, tandem_lint::source::Placement::Whole)
                    .position(&text, e.offset);
            return Err(miette!(
                help = "fix the SQL at this position",
                "{file}:{line}:{col}: PostgreSQL cannot parse this file: {}",
                e.message
            ));
        }
        Err(e) => return Err(miette!("{file}: {e}")),
    };
    match &args.output {
        Some(path) => std::fs::write(path, &converted).map_err(|e| {
            miette!(
                help = "check that the folder exists and is writable",
                "{}: cannot write: {e}",
                path.display()
            )
        }),
        None => {
            let _ = std::io::stdout().lock().write_all(converted.as_bytes());
            Ok(())
        }
    }
}
