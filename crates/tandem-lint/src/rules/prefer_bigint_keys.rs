//! Type advice: integer or smallint key column (prefer bigint).

use super::type_advice::type_advice;
use crate::finding::Severity;
use crate::rule::{Hit, Rule};
use crate::state::StmtCx;

pub const RULE: Rule = Rule {
    id: "prefer-bigint-keys",
    severity: Severity::Warning,
    summary: "integer or smallint key column (prefer bigint)",
    lock: None,
    rationale: "A 32-bit key runs out at 2.1 billion, and widening it later rewrites the table and every referencing table; bigint costs 4 more bytes per row.",
    help: "Use bigint (or bigint GENERATED ALWAYS AS IDENTITY) for primary and foreign keys.",
    bad: "CREATE TABLE payments (id serial PRIMARY KEY, order_id integer NOT NULL);",
    good: "CREATE TABLE payments (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, order_id bigint NOT NULL);",
    exempt_new_tables: false,
    check,
    finish: None,
};

fn check(cx: &StmtCx<'_>, out: &mut Vec<Hit>) {
    type_advice(
        cx,
        out,
        |d, t| d.is_key && matches!(t.name.as_str(), "int2" | "int4" | "serial" | "smallserial"),
        "use bigint for keys that will outgrow 32 bits",
    );
}
