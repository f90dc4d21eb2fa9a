//! Runs the rules over a file: parse once, then every statement through every enabled rule.

use crate::config::{LintConfig, DEFAULT_PG_VERSION};
use crate::facts::Facts;
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
    time_zone: Option<String>,
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
            time_zone: config.time_zone.clone(),
            run: RunState::default(),
        }
    }

    /// Uses what a live database says about the tables (`--url`).
    pub fn with_facts(mut self, facts: Facts) -> Self {
        self.run.facts = facts;
        self
    }

    /// Starts a new migration set: what earlier sets taught (tables, column types) is
    /// forgotten, the live facts are kept.
    pub fn start_set(&mut self) {
        let facts = std::mem::take(&mut self.run.facts);
        self.run = RunState {
            facts,
            ..RunState::default()
        };
    }

    /// Learns from a schema file (Rails' `structure.sql`) without reporting anything on it.
    pub fn learn(&mut self, sql: &str) {
        let Ok(stmts) = parse::parse(sql) else {
            return;
        };
        let mut state = FileState::new(false, None);
        for stmt in &stmts {
            let taken = locks::locks_of(&stmt.node);
            state.apply(&mut self.run, &stmt.node, &taken, stmt.start, 0);
        }
    }

    /// Only the given rules (for tests and the docs).
    pub fn with_rules(rules: Vec<&'static Rule>, pg_version: u32) -> Self {
        Linter {
            rules,
            pg_version,
            assume_in_transaction: false,
            time_zone: None,
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
            Err(e) if e.missing_semicolon => {
                let end = (e.offset + 1).min(sql.len());
                return vec![finding(
                    e.offset,
                    end,
                    SYNTAX_ERROR,
                    Severity::Error,
                    e.message,
                    "Add `;` here; no other statement of this file was checked.".to_string(),
                )];
            }
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
        let mut state = FileState::new(self.assume_in_transaction, self.time_zone.clone());
        for stmt in &stmts {
            let taken = self.resolve_indexes(locks::locks_of(&stmt.node));
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
                    && taken
                        .iter()
                        .all(|t| state.is_fresh(&t.table) || self.run.facts.is_absent(&t.table))
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
                    // A finding on one node (a column, a constraint) underlines that node.
                    let (start, end) =
                        match hit.location.filter(|l| *l > stmt.start && *l < stmt.end) {
                            Some(l) => (l, parse::node_end(sql, l, stmt.end)),
                            None => (stmt.start, stmt.end),
                        };
                    let mut message = hit.message;
                    if stmt.in_do_block.is_some() {
                        message.push_str(" (run by the DO block)");
                    }
                    let severity = self.weigh(rule, &taken, &mut message);
                    out.push(finding(start, end, rule.id, severity, message, help));
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

    /// `DROP INDEX` locks the index's table, which the statement does not name: use the
    /// table when the linted files created the index.
    fn resolve_indexes(&self, mut taken: Vec<locks::Taken>) -> Vec<locks::Taken> {
        for t in &mut taken {
            if matches!(
                t.action,
                locks::Action::DropIndex | locks::Action::DropIndexConcurrently
            ) {
                if let Some(table) = self.run.schema.index_table(&t.table) {
                    t.table = table.to_string();
                }
            }
        }
        taken
    }

    /// A lock or scan finding's severity and message in the light of the live facts: on a
    /// table smaller than the threshold it is a note; on a known table, the message says what
    /// the danger costs.
    fn weigh(&self, rule: &Rule, taken: &[locks::Taken], message: &mut String) -> Severity {
        let facts = &self.run.facts;
        if rule.lock.is_none() || !facts.is_known() {
            return rule.severity;
        }
        let Some(t) = locks::strongest(taken) else {
            return rule.severity;
        };
        if let Some(cost) = facts.cost(&t.table) {
            message.push_str(&format!(" ({cost})"));
        }
        if facts.is_small(&t.table) {
            message.push_str(&format!(
                "; a note only: under {} rows (`small_table_rows`)",
                facts.small_table_rows
            ));
            return Severity::Note;
        }
        rule.severity
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
