//! Linting what the user named: files and folders, grouped into migration sets
//! ([`crate::sets`]), each set linted in its framework's order with its own knowledge.
//! Returns findings; printing them is the caller's business.

use crate::config::LintConfig;
use crate::engine::Linter;
use crate::facts::Facts;
use crate::finding::Finding;
use crate::input::{self, InputError};
use crate::output::Sources;
use crate::sets::{self, MigrationSet};
use std::path::PathBuf;

/// The result of linting some paths.
#[derive(Debug, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
    /// The text of every linted file, for code frames.
    pub sources: Sources,
    /// Files that could not be read or are not valid migrations (linting went on without them).
    pub errors: Vec<InputError>,
    /// The sets found, in the order they were linted.
    pub sets: Vec<MigrationSet>,
}

impl Report {
    /// Whether any input could not be linted or does not parse.
    pub fn has_input_errors(&self) -> bool {
        !self.errors.is_empty() || self.findings.iter().any(Finding::is_syntax_error)
    }
}

/// Lints every migration under `paths`. A missing path is an error; anything else wrong
/// with one file is recorded in [`Report::errors`] and the other files are still linted.
pub fn lint_paths(
    paths: &[PathBuf],
    config: &LintConfig,
    pg_version: Option<u32>,
    facts: Facts,
) -> Result<Report, InputError> {
    let files = input::collect(paths)?;
    let texts: std::collections::HashMap<PathBuf, Result<String, std::io::Error>> = files
        .iter()
        .map(|p| (p.clone(), std::fs::read_to_string(p)))
        .collect();
    let found = sets::migration_sets(&files, |p| {
        texts.get(p).and_then(|t| t.as_ref().ok()).cloned()
    });
    let mut linter = Linter::new(config, pg_version).with_facts(facts);
    let mut report = Report::default();
    for set in &found {
        linter.start_set();
        for path in &set.schema_files {
            if let Some(Ok(text)) = texts.get(path) {
                linter.learn(text);
            }
        }
        for path in &set.files {
            let name = path.display().to_string();
            let text = match texts.get(path) {
                Some(Ok(t)) => t.clone(),
                Some(Err(e)) => {
                    report.errors.push(InputError::Read {
                        path: name,
                        source: std::io::Error::new(e.kind(), e.to_string()),
                    });
                    continue;
                }
                None => continue,
            };
            let explicit = paths.iter().any(|n| n == path);
            let up = sets::up_part(path, &text);
            match input::units(path, &up, explicit) {
                Ok(units) => {
                    for unit in units {
                        report
                            .findings
                            .extend(linter.lint(&name, &unit.sql, unit.placement));
                    }
                }
                Err(e) => report.errors.push(e),
            }
            report.sources.insert(name, text);
        }
    }
    report.sets = found;
    Ok(report)
}
