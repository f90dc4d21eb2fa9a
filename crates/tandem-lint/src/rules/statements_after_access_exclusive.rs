//! Work done in a transaction after it took ACCESS EXCLUSIVE extends the outage.

use crate::finding::Severity;
use crate::rule::{Hit, Rule};
use crate::state::StmtCx;
use pg_query::NodeEnum;
use tandem_core::locks::LockMode;

pub const RULE: Rule = Rule {
    id: "statements-after-access-exclusive",
    severity: Severity::Warning,
    summary: "more statements run in a transaction that already holds ACCESS EXCLUSIVE",
    lock: Some(LockMode::AccessExclusive),
    rationale: "Locks are held until the transaction ends: once a statement took ACCESS \
EXCLUSIVE on a table, every following statement of the same transaction runs while nobody \
can read or write that table, however harmless each statement is alone.",
    help: "Commit right after the statement that takes ACCESS EXCLUSIVE, and run the rest in \
their own transactions (tandem runs each step in its own short transaction).",
    bad: "BEGIN;\nALTER TABLE users ADD COLUMN nickname text;\nUPDATE users SET nickname = name WHERE id BETWEEN 1 AND 1000;\nCOMMIT;",
    good: "BEGIN;\nALTER TABLE users ADD COLUMN nickname text;\nCOMMIT;\nUPDATE users SET nickname = name WHERE id BETWEEN 1 AND 1000;",
    exempt_new_tables: false,
    check,
    finish: None,
};

fn check(cx: &StmtCx<'_>, out: &mut Vec<Hit>) {
    let Some(held) = &cx.file.access_exclusive else {
        return;
    };
    if held.statements_since > 0 || matches!(cx.node, NodeEnum::TransactionStmt(_)) {
        return;
    }
    out.push(Hit::new(format!(
        "this runs while the transaction still holds ACCESS EXCLUSIVE on `{}` (taken on line {}): reads and writes of `{}` wait until COMMIT",
        held.table, held.line, held.table
    )));
}
