//! `CLUSTER` rewrites the table under ACCESS EXCLUSIVE.

use crate::finding::Severity;
use crate::rule::{Hit, Rule};
use crate::state::StmtCx;
use pg_query::NodeEnum;
use tandem_core::locks::LockMode;

pub const RULE: Rule = Rule {
    id: "cluster",
    severity: Severity::Error,
    summary: "CLUSTER",
    lock: Some(LockMode::AccessExclusive),
    rationale: "CLUSTER rewrites the table in index order while holding ACCESS EXCLUSIVE: no \
reads or writes for the whole rewrite.",
    help: "Use pg_repack --order-by to reorder a table online, or leave the physical order to \
autovacuum and a good index.",
    bad: "CLUSTER orders USING orders_created_at_idx;",
    good: "ANALYZE orders;",
    exempt_new_tables: true,
    check,
    finish: None,
};

fn check(cx: &StmtCx<'_>, out: &mut Vec<Hit>) {
    if matches!(cx.node, NodeEnum::ClusterStmt(_)) {
        out.push(Hit::new(
            "CLUSTER rewrites the table under ACCESS EXCLUSIVE: no reads or writes until it ends",
        ));
    }
}
