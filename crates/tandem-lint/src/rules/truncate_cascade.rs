//! `TRUNCATE ... CASCADE` empties every table that references this one.

use crate::ast;
use crate::finding::Severity;
use crate::rule::{Hit, Rule};
use crate::state::StmtCx;
use pg_query::protobuf::DropBehavior;
use pg_query::NodeEnum;
use tandem_core::locks::LockMode;

pub const RULE: Rule = Rule {
    id: "truncate-cascade",
    severity: Severity::Error,
    summary: "TRUNCATE ... CASCADE",
    lock: Some(LockMode::AccessExclusive),
    rationale: "CASCADE also truncates every table with a foreign key to this one, and their \
referencing tables in turn: data you did not name is deleted, each table under ACCESS \
EXCLUSIVE.",
    help: "Name every table to truncate explicitly, without CASCADE, so the statement fails \
instead of silently deleting more.",
    bad: "TRUNCATE customers CASCADE;",
    good: "TRUNCATE order_items, orders, customers;",
    exempt_new_tables: true,
    check,
    finish: None,
};

fn check(cx: &StmtCx<'_>, out: &mut Vec<Hit>) {
    let NodeEnum::TruncateStmt(s) = cx.node else {
        return;
    };
    if s.behavior() != DropBehavior::DropCascade {
        return;
    }
    let names: Vec<String> = s
        .relations
        .iter()
        .filter_map(|r| match &r.node {
            Some(NodeEnum::RangeVar(rv)) => Some(ast::rv_name(Some(rv))),
            _ => None,
        })
        .collect();
    out.push(Hit::new(format!(
        "TRUNCATE {} CASCADE also empties every table that references it",
        names.join(", ")
    )));
}
