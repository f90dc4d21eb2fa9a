//! `REINDEX` without `CONCURRENTLY` blocks writes and the reads that use the index.

use crate::ast;
use crate::finding::Severity;
use crate::rule::{Hit, Rule};
use crate::state::StmtCx;
use pg_query::NodeEnum;
use tandem_core::locks::LockMode;

pub const RULE: Rule = Rule {
    id: "require-concurrent-reindex",
    severity: Severity::Error,
    summary: "REINDEX without CONCURRENTLY",
    lock: Some(LockMode::AccessExclusive),
    rationale: "REINDEX locks the table against writes (SHARE) and takes ACCESS EXCLUSIVE on \
each index it rebuilds, so queries that would use that index wait too.",
    help: "Use REINDEX (CONCURRENTLY), outside a transaction block.",
    bad: "REINDEX INDEX orders_customer_id_idx;",
    good: "REINDEX INDEX CONCURRENTLY orders_customer_id_idx;",
    exempt_new_tables: true,
    check,
    finish: None,
};

fn check(cx: &StmtCx<'_>, out: &mut Vec<Hit>) {
    let NodeEnum::ReindexStmt(s) = cx.node else {
        return;
    };
    if ast::has_option(&s.params, "concurrently") {
        return;
    }
    out.push(Hit::new(
        "REINDEX without CONCURRENTLY blocks writes to the table and reads through the index",
    ));
}
