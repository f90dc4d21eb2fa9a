//! Type advice: json column (prefer jsonb).

use crate::ast::{self, TypeInfo};
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
    for d in ast::declared_columns(cx.node) {
        let t = TypeInfo::of(d.ty);
        if t.name == "json" {
            out.push(
                Hit::new(format!(
                    "`{}` is {}: use jsonb instead of json",
                    d.column,
                    t.display()
                ))
                .at(d.location),
            );
        }
    }
}
