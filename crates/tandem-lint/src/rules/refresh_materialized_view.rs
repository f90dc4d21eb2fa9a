//! `REFRESH MATERIALIZED VIEW` without `CONCURRENTLY` blocks reads of the view.

use crate::finding::Severity;
use crate::rule::{Hit, Rule};
use crate::state::StmtCx;
use pg_query::NodeEnum;
use tandem_core::locks::LockMode;

pub const RULE: Rule = Rule {
    id: "refresh-materialized-view",
    severity: Severity::Warning,
    summary: "REFRESH MATERIALIZED VIEW without CONCURRENTLY",
    lock: Some(LockMode::AccessExclusive),
    rationale: "A plain refresh holds ACCESS EXCLUSIVE on the view while it recomputes it: \
every query on the view waits.",
    help: "Use REFRESH MATERIALIZED VIEW CONCURRENTLY (needs a unique index on the view).",
    bad: "REFRESH MATERIALIZED VIEW daily_sales;",
    good: "REFRESH MATERIALIZED VIEW CONCURRENTLY daily_sales;",
    exempt_new_tables: true,
    check,
    finish: None,
};

fn check(cx: &StmtCx<'_>, out: &mut Vec<Hit>) {
    if let NodeEnum::RefreshMatViewStmt(s) = cx.node {
        if !s.concurrent && !s.skip_data {
            out.push(Hit::new(
                "REFRESH MATERIALIZED VIEW blocks every read of the view until it is recomputed",
            ));
        }
    }
}
