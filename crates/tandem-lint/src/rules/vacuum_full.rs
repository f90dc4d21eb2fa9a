//! `VACUUM FULL` rewrites the table under ACCESS EXCLUSIVE.

use crate::finding::Severity;
use crate::locks::Action;
use crate::rule::{Hit, Rule};
use crate::state::StmtCx;
use tandem_core::locks::LockMode;

pub const RULE: Rule = Rule {
    id: "vacuum-full",
    severity: Severity::Error,
    summary: "VACUUM FULL",
    lock: Some(LockMode::AccessExclusive),
    rationale: "VACUUM FULL copies the whole table and its indexes while holding ACCESS \
EXCLUSIVE: the table is unreadable for the whole copy.",
    help: "Use plain VACUUM (no blocking lock), or pg_repack / pg_squeeze to reclaim space \
online.",
    bad: "VACUUM FULL orders;",
    good: "VACUUM (ANALYZE) orders;",
    exempt_new_tables: true,
    check,
    finish: None,
};

fn check(cx: &StmtCx<'_>, out: &mut Vec<Hit>) {
    if cx.locks.iter().any(|t| t.action == Action::VacuumFull)
        || matches!(cx.node, pg_query::NodeEnum::VacuumStmt(s) if s.rels.is_empty() && crate::ast::has_option(&s.options, "full"))
    {
        out.push(Hit::new(
            "VACUUM FULL rewrites the table under ACCESS EXCLUSIVE: no reads or writes until it ends",
        ));
    }
}
