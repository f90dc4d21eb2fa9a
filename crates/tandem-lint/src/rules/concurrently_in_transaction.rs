//! `CONCURRENTLY` operations cannot run inside a transaction block.

use crate::ast;
use crate::finding::Severity;
use crate::rule::{Hit, Rule};
use crate::state::StmtCx;
use pg_query::protobuf::{AlterTableType, ObjectType};
use pg_query::NodeEnum;

pub const RULE: Rule = Rule {
    id: "concurrently-in-transaction",
    severity: Severity::Error,
    summary: "CREATE/DROP INDEX, REINDEX or DETACH PARTITION CONCURRENTLY inside a transaction",
    lock: None,
    rationale: "PostgreSQL refuses to run a CONCURRENTLY operation inside a transaction block: \
the migration fails when it reaches it, after the statements before it already ran.",
    help: "Move the statement out of the transaction: in its own migration with the \
transaction turned off (Rails `disable_ddl_transaction!`, Django `atomic = False`, sqlx \
`-- no-transaction`, Alembic `autocommit_block()`), or let tandem run it: tandem never wraps \
concurrent operations in a transaction.",
    bad:
        "BEGIN;\nCREATE INDEX CONCURRENTLY orders_customer_id_idx ON orders (customer_id);\nCOMMIT;",
    good: "CREATE INDEX CONCURRENTLY orders_customer_id_idx ON orders (customer_id);",
    exempt_new_tables: false,
    check,
    finish: None,
};

/// `DETACH PARTITION ... CONCURRENTLY` (not `FINALIZE`, which may run in a transaction).
fn detaches_concurrently(cx: &StmtCx<'_>) -> bool {
    ast::alter_cmds_of(cx.node, AlterTableType::AtDetachPartition)
        .iter()
        .any(|(_, cmd)| {
            matches!(cmd.def.as_ref().and_then(|d| d.node.as_ref()),
                Some(NodeEnum::PartitionCmd(p)) if p.concurrent)
        })
}

fn check(cx: &StmtCx<'_>, out: &mut Vec<Hit>) {
    if !cx.file.in_transaction {
        return;
    }
    let what = match cx.node {
        NodeEnum::IndexStmt(s) if s.concurrent => "CREATE INDEX CONCURRENTLY",
        NodeEnum::DropStmt(s) if s.concurrent && s.remove_type() == ObjectType::ObjectIndex => {
            "DROP INDEX CONCURRENTLY"
        }
        NodeEnum::ReindexStmt(s) if ast::has_option(&s.params, "concurrently") => {
            "REINDEX CONCURRENTLY"
        }
        NodeEnum::AlterTableStmt(_) if detaches_concurrently(cx) => "DETACH PARTITION CONCURRENTLY",
        _ => return,
    };
    let why = if cx.file.explicit_transaction {
        "inside the BEGIN block above"
    } else {
        "in a file run as one transaction (assume_in_transaction)"
    };
    out.push(Hit::new(format!(
        "{what} cannot run {why}; PostgreSQL will reject it"
    )));
}
