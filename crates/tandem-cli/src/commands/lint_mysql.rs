//! `tandem lint --dialect mysql`: the MySQL/MariaDB rules of tandem-mysql over `.sql` files.
//!
//! Kept beside the PostgreSQL linter's command line rather than inside tandem-lint, so that
//! tandem-lint (the PostgreSQL parser's linter) does not depend on the MySQL backend.

use crate::cli::{FormatArg, LintArgs};
use miette::{miette, Report};
use std::path::{Path, PathBuf};

/// Lints every `.sql` file under `args.paths`; returns the exit status (0 clean, 1 findings).
pub fn lint(args: &LintArgs) -> Result<u8, Report> {
    if args.list_rules {
        for (rule, summary) in tandem_mysql::lint::RULES {
            println!("{rule:40} {summary}");
        }
        return Ok(0);
    }
    if args.trace || args.small_table_rows.is_some() {
        return Err(miette!(
            help = "run `tandem lint --dialect mysql` without them",
            "--trace and --small-table-rows are PostgreSQL-only"
        ));
    }
    let mut files = Vec::new();
    for path in &args.paths {
        collect_sql(path, true, &mut files)?;
    }
    files.sort();
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).map_err(|e| {
            miette!(
                help = "give readable .sql files or folders",
                "{}: cannot read: {e}",
                file.display()
            )
        })?;
        for f in tandem_mysql::lint::lint(&text) {
            found.push((file.display().to_string(), f));
        }
    }
    match args.format {
        FormatArg::Human => {
            for (file, f) in &found {
                println!(
                    "{file}:{}: {}: {}\n  help: {}",
                    f.line, f.rule, f.message, f.help
                );
            }
            if found.is_empty() {
                println!("{} file(s): no findings", files.len());
            }
        }
        FormatArg::Json => {
            let items: Vec<serde_json::Value> = found
                .iter()
                .map(|(file, f)| {
                    serde_json::json!({
                        "file": file, "line": f.line, "rule": f.rule,
                        "message": f.message, "help": f.help, "severity": "warning",
                    })
                })
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&items).map_err(|e| miette!("{e}"))?
            );
        }
        FormatArg::Github => {
            for (file, f) in &found {
                println!(
                    "::warning file={file},line={},title={}::{} ({})",
                    f.line, f.rule, f.message, f.help
                );
            }
        }
        FormatArg::Sarif => {
            return Err(miette!(
                help = "use --format human, json or github with --dialect mysql",
                "SARIF output is available for the PostgreSQL rules only"
            ))
        }
    }
    Ok(u8::from(!found.is_empty()))
}

/// A file named on the command line is linted whatever its name; inside folders, `.sql` files.
fn collect_sql(path: &Path, named: bool, out: &mut Vec<PathBuf>) -> Result<(), Report> {
    if path.is_dir() {
        let entries = std::fs::read_dir(path).map_err(|e| {
            miette!(
                help = "give readable files or folders",
                "{}: {e}",
                path.display()
            )
        })?;
        for entry in entries.flatten() {
            collect_sql(&entry.path(), false, out)?;
        }
    } else if path.is_file() {
        if named || path.extension().is_some_and(|e| e == "sql") {
            out.push(path.to_path_buf());
        }
    } else {
        return Err(miette!(
            help = "check the path",
            "{}: no such file or folder",
            path.display()
        ));
    }
    Ok(())
}
