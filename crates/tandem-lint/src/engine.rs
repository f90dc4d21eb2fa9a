//! Runs the rules over a file: parse once, then every statement through every enabled rule.

use crate::config::{LintConfig, DEFAULT_PG_VERSION};
use crate::finding::{Finding, SYNTAX_ERROR};
use crate::lexer;
use crate::locks;
use crate::parse::{self, Statement};
use crate::rule::{Hit, Rule};
use crate::rules::REGISTRY;
use crate::source::{LineIndex, Placement};
use crate::state::{FileState, RunState, StmtCx};
use crate::Severity;

/// A linting run over many files, which share [`RunState`].
pub struct Linter {
    rules: Vec<&'static Rule>,
    pg_version: u32,
    assume_in_transaction: bool,
    run: RunState,
}

impl Linter {
    pub fn new(config: &LintConfig, pg_version: Option<u32>) -> Self {
        Linter {
            rules: REGISTRY
                .iter()
                .copied()
                .filter(|r| config.is_enabled(r.id))
                .collect(),
            pg_version: pg_version
                .or(config.pg_version)
                .unwrap_or(DEFAULT_PG_VERSION),
            assume_in_transaction: config.assume_in_transaction,
            run: RunState::default(),
        }
    }

    /// Only the given rules (for tests and the docs).
    pub fn with_rules(rules: Vec<&'static Rule>, pg_version: u32) -> Self {
        Linter {
            rules,
            pg_version,
            assume_in_transaction: false,
            run: RunState::default(),
        }
    }

    /// Lints one SQL text that sits in `file` at `placement`.
    pub fn lint(&mut self, file: &str, sql: &str, placement: Placement) -> Vec<Finding> {
        let index = LineIndex::new(sql, placement);
        let finding =
            |start: usize, end: usize, rule: &str, severity, message: String, help: String| {
                let (line, column) = index.position(sql, start);
                let (end_line, end_column) = index.position(sql, end);
                Finding {
                    file: file.to_string(),
                    line,
                    column,
                    end_line,
                    end_column,
                    rule: rule.to_string(),
                    severity,
                    message,
                    help,
                }
            };
        let stmts = match parse::parse(sql) {
            Ok(s) => s,
            Err(e) => {
                let end = (e.offset + 1).min(sql.len());
                return vec![finding(
                    e.offset,
                    end,
                    SYNTAX_ERROR,
                    Severity::Error,
                    format!("PostgreSQL cannot parse this file: {}", e.message),
                    "Fix the SQL at this position; no other statement of this file was checked."
                        .to_string(),
                )];
            }
        };
        let mut out = Vec::new();
        let mut state = FileState::new(self.assume_in_transaction);
        for stmt in &stmts {
            let taken = locks::locks_of(&stmt.node);
            let ignored = ignored_rules(sql, stmt);
            let cx = StmtCx {
                node: &stmt.node,
                stmt,
                sql,
                locks: &taken,
                file: &state,
                run: &self.run,
                pg_version: self.pg_version,
            };
            for rule in &self.rules {
                if ignored.iter().any(|i| i == rule.id) {
                    continue;
                }
                if rule.exempt_new_tables
                    && !taken.is_empty()
                    && taken.iter().all(|t| state.created.contains(&t.table))
                {
                    continue;
                }
                let mut hits: Vec<Hit> = Vec::new();
                (rule.check)(&cx, &mut hits);
                for hit in hits {
                    let help = match hit.help {
                        Some(h) => format!("{h}\n{}", rule.help),
                        None => rule.help.to_string(),
                    };
                    let start = hit.location.filter(|l| *l < stmt.end).unwrap_or(stmt.start);
                    out.push(finding(
                        start,
                        stmt.end,
                        rule.id,
                        rule.severity,
                        hit.message,
                        help,
                    ));
                }
            }
            let line = index.position(sql, stmt.start).0;
            state.apply(&mut self.run, &stmt.node, &taken, stmt.start, line);
        }
        for rule in &self.rules {
            if let Some((offset, message)) = rule.finish.and_then(|f| f(&state, sql)) {
                let help = rule.help.to_string();
                out.push(finding(
                    offset,
                    sql.len(),
                    rule.id,
                    rule.severity,
                    message,
                    help,
                ));
            }
        }
        out.sort_by_key(|f| (f.line, f.column));
        out
    }
}

/// Lints SQL with the default configuration (a convenience for tests and embedding).
pub fn lint_sql(sql: &str) -> Vec<Finding> {
    Linter::new(&LintConfig::default(), None).lint("<sql>", sql, Placement::Whole)
}

/// Rule ids named by `-- tandem-lint: ignore <rule>[,<rule>...] <reason>` comments in or
/// right before the statement.
fn ignored_rules(sql: &str, stmt: &Statement) -> Vec<String> {
    const MARKER: &str = "tandem-lint:";
    let region = sql.get(stmt.comment_start..stmt.comment_end).unwrap_or("");
    if !region.contains(MARKER) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for c in lexer::comments(region) {
        let text = &region[c.start..c.end];
        let Some(pos) = text.find(MARKER) else {
            continue;
        };
        let mut words = text[pos + MARKER.len()..].split_whitespace();
        if words.next() != Some("ignore") {
            continue;
        }
        if let Some(ids) = words.next() {
            out.extend(ids.split(',').filter(|s| !s.is_empty()).map(str::to_string));
        }
    }
    out
}
