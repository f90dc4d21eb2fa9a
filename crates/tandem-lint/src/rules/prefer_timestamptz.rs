//! Type advice: timestamp without time zone.

use super::type_advice::type_advice;
use crate::finding::Severity;
use crate::rule::{Hit, Rule};
use crate::state::StmtCx;

pub const RULE: Rule = Rule {
    id: "prefer-timestamptz",
    severity: Severity::Warning,
    summary: "timestamp without time zone",
    lock: None,
    rationale: "timestamp without time zone stores wall-clock time with no zone: values change meaning when a server or session time zone differs, and daylight-saving transitions create duplicate or missing hours.",
    help: "Use timestamptz (timestamp with time zone); it stores an instant and displays it in the session's zone.",
    bad: "ALTER TABLE events ADD COLUMN happened_at timestamp;",
    good: "ALTER TABLE events ADD COLUMN happened_at timestamptz;",
    exempt_new_tables: false,
    check,
    finish: None,
};

fn check(cx: &StmtCx<'_>, out: &mut Vec<Hit>) {
    type_advice(
        cx,
        out,
        |_, t| t.name == "timestamp",
        "use timestamptz instead of timestamp without time zone",
    );
}
