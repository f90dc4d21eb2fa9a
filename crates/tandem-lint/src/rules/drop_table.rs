//! Dropping a table breaks the application version that still uses it.

use crate::ast;
use crate::finding::Severity;
use crate::rule::{Hit, Rule};
use crate::state::StmtCx;
use pg_query::protobuf::ObjectType;
use pg_query::NodeEnum;
use tandem_core::locks::LockMode;

pub const RULE: Rule = Rule {
    id: "drop-table",
    severity: Severity::Error,
    summary: "table dropped",
    lock: Some(LockMode::AccessExclusive),
    rationale: "Code still running during the deploy fails on the missing table, and the data \
is gone. DROP TABLE also waits for ACCESS EXCLUSIVE, queueing every query on the table \
behind it.",
    help: "Stop using the table in a deploy first, then drop it in a later migration (tandem's \
`drop_table` operation hides it from the new version before removing it).",
    bad: "DROP TABLE legacy_sessions;",
    good: "REVOKE ALL ON legacy_sessions FROM app_user;",
    exempt_new_tables: true,
    check,
    finish: None,
};

fn check(cx: &StmtCx<'_>, out: &mut Vec<Hit>) {
    let NodeEnum::DropStmt(s) = cx.node else {
        return;
    };
    if s.remove_type() != ObjectType::ObjectTable {
        return;
    }
    for t in ast::drop_objects(s) {
        if cx.is_new_table(&t) {
            continue;
        }
        out.push(
            Hit::new(format!(
                "dropping `{t}` breaks the application code still using it, and loses its data"
            ))
            .help(format!(
                "tandem operation:\n  - drop_table:\n      name: {t}"
            )),
        );
    }
}
