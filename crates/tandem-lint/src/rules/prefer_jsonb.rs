//! Type advice: json column (prefer jsonb).

use super::type_advice::type_advice;
use crate::finding::Severity;
use crate::rule::{Hit, Rule};
use crate::state::StmtCx;

pub const RULE: Rule = Rule {
    id: "prefer-jsonb",
    severity: Severity::Warning,
    summary: "json column (prefer jsonb)",
    lock: None,
    rationale: "json stores the text as written: no equality operator (DISTINCT, GROUP BY and UNIQUE fail on it), no GIN indexes, every access reparses it.",
    help: "Use jsonb.",
    bad: "ALTER TABLE events ADD COLUMN payload json;",
    good: "ALTER TABLE events ADD COLUMN payload jsonb;",
    exempt_new_tables: false,
    check,
    finish: None,
};

fn check(cx: &StmtCx<'_>, out: &mut Vec<Hit>) {
    type_advice(
        cx,
        out,
        |_, t| t.name == "json",
        "use jsonb instead of json",
    );
}
