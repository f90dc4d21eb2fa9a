//! Type advice: char(n) column.

use super::type_advice::type_advice;
use crate::finding::Severity;
use crate::rule::{Hit, Rule};
use crate::state::StmtCx;

pub const RULE: Rule = Rule {
    id: "prefer-text-over-char",
    severity: Severity::Warning,
    summary: "char(n) column",
    lock: None,
    rationale: "char(n) pads values with spaces, compares ignoring them, and is no faster than text or varchar in PostgreSQL; changing its length later rewrites the table.",
    help: "Use text (with a CHECK on length if needed) or varchar.",
    bad: "ALTER TABLE countries ADD COLUMN code char(2);",
    good: "ALTER TABLE countries ADD COLUMN code text;",
    exempt_new_tables: false,
    check,
    finish: None,
};

fn check(cx: &StmtCx<'_>, out: &mut Vec<Hit>) {
    type_advice(
        cx,
        out,
        |_, t| t.name == "bpchar",
        "use text or varchar instead of char(n)",
    );
}
