//! Exclusion constraints can only be added by building their index under lock.

use crate::ast;
use crate::finding::Severity;
use crate::rule::{Hit, Rule};
use crate::state::StmtCx;
use pg_query::protobuf::ConstrType;
use tandem_core::locks::LockMode;

pub const RULE: Rule = Rule {
    id: "exclusion-constraint",
    severity: Severity::Error,
    summary: "EXCLUDE constraint added to an existing table",
    lock: Some(LockMode::AccessExclusive),
    rationale: "An exclusion constraint builds its index and checks every row under ACCESS \
EXCLUSIVE, and unlike UNIQUE it cannot be attached from an index built CONCURRENTLY.",
    help: "Create the table with the constraint, or enforce the rule another way (a trigger, \
or a unique index on a derived column). If the table is small, set a short lock_timeout and \
accept the lock knowingly (`-- tandem-lint: ignore exclusion-constraint <reason>`).",
    bad: "ALTER TABLE bookings ADD CONSTRAINT bookings_no_overlap EXCLUDE USING gist (room_id WITH =, during WITH &&);",
    good: "CREATE TABLE bookings (\n  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n  room_id bigint NOT NULL,\n  during tstzrange NOT NULL,\n  CONSTRAINT bookings_no_overlap EXCLUDE USING gist (room_id WITH =, during WITH &&)\n);",
    exempt_new_tables: true,
    check,
    finish: None,
};

fn check(cx: &StmtCx<'_>, out: &mut Vec<Hit>) {
    for (table, c) in ast::added_constraints(cx.node) {
        if c.contype() == ConstrType::ConstrExclusion {
            out.push(
                Hit::new(format!(
                    "adding an exclusion constraint builds its index and checks every row of `{table}` under ACCESS EXCLUSIVE"
                ))
                .at(c.location),
            );
        }
    }
}
