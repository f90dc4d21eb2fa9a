//! `CREATE INDEX` without `CONCURRENTLY` blocks writes for the whole build.

use crate::ast;
use crate::finding::Severity;
use crate::rule::{Hit, Rule};
use crate::state::StmtCx;
use pg_query::NodeEnum;
use tandem_core::locks::LockMode;

pub const RULE: Rule = Rule {
    id: "require-concurrent-index-creation",
    severity: Severity::Error,
    summary: "CREATE INDEX without CONCURRENTLY on an existing table",
    lock: Some(LockMode::Share),
    rationale: "A plain CREATE INDEX holds a SHARE lock on the table until the whole index is \
built: every INSERT, UPDATE and DELETE waits, for minutes on a large table.",
    help: "Build the index with CREATE INDEX CONCURRENTLY, outside a transaction block (or use \
tandem's `create_index` operation, which does).",
    bad: "CREATE INDEX orders_customer_id_idx ON orders (customer_id);",
    good: "CREATE INDEX CONCURRENTLY orders_customer_id_idx ON orders (customer_id);",
    exempt_new_tables: true,
    check,
    finish: None,
};

fn check(cx: &StmtCx<'_>, out: &mut Vec<Hit>) {
    let NodeEnum::IndexStmt(s) = cx.node else {
        return;
    };
    if s.concurrent {
        return;
    }
    let table = ast::rv_name(s.relation.as_ref());
    let mut fixed = s.clone();
    fixed.concurrent = true;
    let mut hit = Hit::new(format!(
        "CREATE INDEX on `{table}` locks it against writes (SHARE) until the index is built"
    ));
    if let Some(sql) = ast::stmt_sql(&NodeEnum::IndexStmt(fixed)) {
        hit = hit.help(format!("Run instead: {sql};"));
    }
    out.push(hit);
}
