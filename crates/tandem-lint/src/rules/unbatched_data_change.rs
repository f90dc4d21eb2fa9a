//! A whole-table UPDATE or DELETE in a migration is one long transaction.

use crate::ast;
use crate::finding::Severity;
use crate::rule::{Hit, Rule};
use crate::state::StmtCx;
use pg_query::protobuf::{AExprKind, Node};
use pg_query::{NodeEnum, NodeRef};
use tandem_core::locks::LockMode;

pub const RULE: Rule = Rule {
    id: "unbatched-data-change",
    severity: Severity::Warning,
    summary: "UPDATE or DELETE of a whole table in a migration",
    lock: Some(LockMode::RowExclusive),
    rationale: "One UPDATE or DELETE over a whole table locks every row it touches until it \
commits, bloats the table, can run for hours, and holds back vacuum; in the migration's \
transaction it also keeps the schema changes' locks.",
    help: "Backfill in batches, each in its own transaction, bounded by key: `UPDATE t SET ... \
WHERE id >= $1 AND id < $1 + 10000` or `WHERE id IN (SELECT id FROM t WHERE ... LIMIT \
10000)`. tandem's `up:` expressions backfill in batches for you.",
    bad: "UPDATE users SET plan = 'free' WHERE plan IS NULL;",
    good: "UPDATE users SET plan = 'free' WHERE id IN (SELECT id FROM users WHERE plan IS NULL LIMIT 10000);",
    exempt_new_tables: true,
    check,
    finish: None,
};

/// A WHERE clause that limits the statement to a batch: a key range, a `LIMIT`ed
/// sub-select, a parameter, or equality on a key.
fn is_bounded(where_clause: &Node) -> bool {
    let Some(root) = where_clause.node.as_ref() else {
        return false;
    };
    let (mut lower, mut upper) = (false, false);
    for (n, _, _, _) in root.nodes() {
        match n {
            NodeRef::SelectStmt(s) if s.limit_count.is_some() => return true,
            NodeRef::ParamRef(_) => return true,
            NodeRef::AExpr(e) => {
                let op = ast::strings(&e.name).first().copied().unwrap_or("");
                match e.kind() {
                    AExprKind::AexprBetween => return true,
                    AExprKind::AexprIn => return is_key(e.lexpr.as_deref()),
                    AExprKind::AexprOp if op == "=" && is_key(e.lexpr.as_deref()) => return true,
                    AExprKind::AexprOp if matches!(op, ">" | ">=") => lower = true,
                    AExprKind::AexprOp if matches!(op, "<" | "<=") => upper = true,
                    _ => {}
                }
            }
            _ => {}
        }
    }
    lower && upper
}

fn is_key(expr: Option<&Node>) -> bool {
    match expr.and_then(|e| e.node.as_ref()) {
        Some(NodeEnum::ColumnRef(c)) => ast::strings(&c.fields)
            .last()
            .is_some_and(|n| *n == "id" || n.ends_with("_id")),
        _ => false,
    }
}

/// Migration tools' own bookkeeping tables: their one-row updates are not backfills.
const TOOL_TABLES: &[&str] = &[
    "schema_migrations",
    "ar_internal_metadata",
    "django_migrations",
    "alembic_version",
    "flyway_schema_history",
    "knex_migrations",
    "knex_migrations_lock",
    "_sqlx_migrations",
    "__diesel_schema_migrations",
    "_prisma_migrations",
];

fn check(cx: &StmtCx<'_>, out: &mut Vec<Hit>) {
    let (verb, table, where_clause) = match cx.node {
        NodeEnum::UpdateStmt(s) => (
            "UPDATE",
            ast::rv_name(s.relation.as_ref()),
            s.where_clause.as_deref(),
        ),
        NodeEnum::DeleteStmt(s) => (
            "DELETE",
            ast::rv_name(s.relation.as_ref()),
            s.where_clause.as_deref(),
        ),
        _ => return,
    };
    if where_clause.is_some_and(is_bounded) || TOOL_TABLES.contains(&table.as_str()) {
        return;
    }
    let scope = if where_clause.is_some() {
        "a WHERE clause not bounded to a batch"
    } else {
        "no WHERE clause"
    };
    out.push(Hit::new(format!(
        "{verb} of `{table}` with {scope} runs as one long transaction over the whole table"
    )));
}
