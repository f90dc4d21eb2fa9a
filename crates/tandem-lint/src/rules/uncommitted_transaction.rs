//! A `BEGIN` with no `COMMIT` leaves the migration's locks held.

use crate::finding::Severity;
use crate::rule::{Hit, Rule};
use crate::state::{FileState, StmtCx};

pub const RULE: Rule = Rule {
    id: "uncommitted-transaction",
    severity: Severity::Error,
    summary: "BEGIN without a matching COMMIT",
    lock: None,
    rationale: "A transaction left open at the end of the file keeps every lock it took until \
the connection closes, and its changes may be rolled back silently.",
    help: "End the transaction with COMMIT.",
    bad: "BEGIN;\nALTER TABLE users ADD COLUMN nickname text;",
    good: "BEGIN;\nALTER TABLE users ADD COLUMN nickname text;\nCOMMIT;",
    exempt_new_tables: false,
    check,
    finish: Some(at_end),
};

fn check(_: &StmtCx<'_>, _: &mut Vec<Hit>) {}

fn at_end(state: &FileState, _sql: &str) -> Option<(usize, String)> {
    state
        .open_begin
        .map(|offset| (offset, "this BEGIN is never committed".to_string()))
}
