//! An explicit `LOCK TABLE` in a mode that blocks reads or writes.

use crate::finding::Severity;
use crate::rule::{Hit, Rule};
use crate::state::StmtCx;
use pg_query::NodeEnum;
use tandem_core::locks::LockMode;

pub const RULE: Rule = Rule {
    id: "lock-table",
    severity: Severity::Error,
    summary: "LOCK TABLE in a mode that blocks reads or writes",
    lock: Some(LockMode::AccessExclusive),
    rationale: "An explicit LOCK TABLE holds its lock until the end of the transaction, blocking \
every reader (ACCESS EXCLUSIVE, the default mode) or writer for the whole migration.",
    help: "Remove the explicit lock; if the statements need consistency, use the weakest mode \
that suffices, a short lock_timeout, and keep the transaction short.",
    bad: "LOCK TABLE orders;",
    good: "LOCK TABLE orders IN ACCESS SHARE MODE;",
    exempt_new_tables: true,
    check,
    finish: None,
};

fn check(cx: &StmtCx<'_>, out: &mut Vec<Hit>) {
    if !matches!(cx.node, NodeEnum::LockStmt(_)) {
        return;
    }
    for t in cx.locks {
        if t.mode.blocks_writes() {
            let what = if t.mode.blocks_reads() {
                "reads and writes"
            } else {
                "writes"
            };
            out.push(Hit::new(format!(
                "LOCK TABLE `{}` IN {} MODE blocks {what} until the transaction ends",
                t.table, t.mode
            )));
        }
    }
}
