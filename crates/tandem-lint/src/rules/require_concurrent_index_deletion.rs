//! `DROP INDEX` without `CONCURRENTLY` takes ACCESS EXCLUSIVE on the table.

use crate::ast;
use crate::finding::Severity;
use crate::rule::{Hit, Rule};
use crate::state::StmtCx;
use pg_query::protobuf::ObjectType;
use pg_query::NodeEnum;
use tandem_core::locks::LockMode;

pub const RULE: Rule = Rule {
    id: "require-concurrent-index-deletion",
    severity: Severity::Error,
    summary: "DROP INDEX without CONCURRENTLY",
    lock: Some(LockMode::AccessExclusive),
    rationale: "DROP INDEX takes an ACCESS EXCLUSIVE lock on the index's table: while it waits \
for running queries to finish, every new query on the table queues behind it.",
    help: "Use DROP INDEX CONCURRENTLY, outside a transaction block (tandem's `drop_index` \
operation does).",
    bad: "DROP INDEX orders_customer_id_idx;",
    good: "DROP INDEX CONCURRENTLY orders_customer_id_idx;",
    exempt_new_tables: true,
    check,
    finish: None,
};

fn check(cx: &StmtCx<'_>, out: &mut Vec<Hit>) {
    let NodeEnum::DropStmt(s) = cx.node else {
        return;
    };
    if s.remove_type() != ObjectType::ObjectIndex || s.concurrent {
        return;
    }
    let indexes = ast::drop_objects(s);
    let names = indexes.join(", ");
    let tables: Vec<String> = indexes
        .iter()
        .filter_map(|i| cx.run.schema.index_table(i).map(|t| format!("`{t}`")))
        .collect();
    let on = if tables.len() == indexes.len() {
        format!("its table {}", tables.join(", "))
    } else {
        "the table it indexes (DROP INDEX does not name it)".to_string()
    };
    out.push(
        Hit::new(format!(
            "DROP INDEX {names} takes ACCESS EXCLUSIVE on {on}, blocking reads and writes"
        ))
        .help(format!(
            "Run instead: DROP INDEX CONCURRENTLY IF EXISTS {names};"
        )),
    );
}
