//! Type advice: char(n) column.

use crate::ast::{self, TypeInfo};
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
    for d in ast::declared_columns(cx.node) {
        let t = TypeInfo::of(d.ty);
        if t.name == "bpchar" {
            out.push(
                Hit::new(format!(
                    "`{}` is {}: use text or varchar instead of char(n)",
                    d.column,
                    t.display()
                ))
                .at(d.location),
            );
        }
    }
}
