//! `BEGIN` inside a transaction, or `COMMIT` of the migration tool's transaction.

use crate::finding::Severity;
use crate::rule::{Hit, Rule};
use crate::state::StmtCx;
use pg_query::protobuf::TransactionStmtKind as K;
use pg_query::NodeEnum;

pub const RULE: Rule = Rule {
    id: "transaction-nesting",
    severity: Severity::Error,
    summary: "BEGIN inside a transaction, or COMMIT of the migration tool's transaction",
    lock: None,
    rationale: "PostgreSQL has no nested transactions: a second BEGIN only warns and the outer \
transaction goes on, and a COMMIT inside a file the migration tool wraps in a transaction \
ends the tool's transaction early, so a later failure no longer rolls everything back.",
    help: "Use one BEGIN/COMMIT pair, or let the migration tool manage the transaction (and \
turn it off for the migration if it must run statements outside one).",
    bad: "BEGIN;\nALTER TABLE users ADD COLUMN nickname text;\nBEGIN;\nALTER TABLE users ADD COLUMN bio text;\nCOMMIT;",
    good: "BEGIN;\nALTER TABLE users ADD COLUMN nickname text;\nALTER TABLE users ADD COLUMN bio text;\nCOMMIT;",
    exempt_new_tables: false,
    check,
    finish: None,
};

fn check(cx: &StmtCx<'_>, out: &mut Vec<Hit>) {
    let NodeEnum::TransactionStmt(t) = cx.node else {
        return;
    };
    match t.kind() {
        K::TransStmtBegin | K::TransStmtStart if cx.file.in_transaction => {
            out.push(Hit::new("BEGIN inside a transaction that is already open"));
        }
        K::TransStmtCommit | K::TransStmtRollback
            if cx.file.in_transaction && !cx.file.explicit_transaction =>
        {
            out.push(Hit::new(
                "this ends the transaction the migration tool opened for the file (assume_in_transaction)",
            ));
        }
        _ => {}
    }
}
