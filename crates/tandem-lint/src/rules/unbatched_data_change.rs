//! A whole-table UPDATE or DELETE in a migration is one long transaction.

use crate::ast;
use crate::finding::Severity;
use crate::rule::{Hit, Rule};
use crate::state::StmtCx;
use pg_query::protobuf::{AExprKind, BoolExprType, Node};
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

/// A WHERE clause that limits the statement to a batch. Only the top-level conditions count
/// (AND-ed; under OR every branch must be bounded): a join condition of `UPDATE ... FROM` or
/// a correlated `NOT EXISTS (...)` compares keys to other rows' keys, which bounds nothing.
/// Bounding conditions: a key equal to (or `IN`) constants or parameters, a `LIMIT`ed
/// sub-select, `BETWEEN` constants, or a lower and an upper constant bound on one column.
fn is_bounded(where_clause: &Node) -> bool {
    let mut ranges: Vec<(String, bool, bool)> = Vec::new();
    bounded(where_clause, &mut ranges) || ranges.iter().any(|(_, lo, hi)| *lo && *hi)
}

fn bounded(n: &Node, ranges: &mut Vec<(String, bool, bool)>) -> bool {
    match n.node.as_ref() {
        Some(NodeEnum::BoolExpr(b)) => match b.boolop() {
            BoolExprType::AndExpr => {
                let mut any = false;
                for a in &b.args {
                    any |= bounded(a, ranges);
                }
                any
            }
            BoolExprType::OrExpr => b.args.iter().all(is_bounded),
            _ => false,
        },
        Some(NodeEnum::AExpr(e)) => {
            let op = ast::strings(&e.name).first().copied().unwrap_or("");
            let rhs = e.rexpr.as_deref();
            match e.kind() {
                AExprKind::AexprBetween => column(e.lexpr.as_deref()).is_some(),
                AExprKind::AexprIn => is_key(e.lexpr.as_deref()) && is_constant(rhs),
                AExprKind::AexprOp if op == "=" => {
                    (is_key(e.lexpr.as_deref()) && is_constant(rhs))
                        || (is_key(rhs) && is_constant(e.lexpr.as_deref()))
                }
                AExprKind::AexprOp if matches!(op, ">" | ">=" | "<" | "<=") && is_constant(rhs) => {
                    if let Some(c) = column(e.lexpr.as_deref()) {
                        let lower = matches!(op, ">" | ">=");
                        match ranges.iter_mut().find(|r| r.0 == c) {
                            Some(r) if lower => r.1 = true,
                            Some(r) => r.2 = true,
                            None => ranges.push((c, lower, !lower)),
                        }
                    }
                    false
                }
                _ => false,
            }
        }
        // `id IN (SELECT id FROM t ... LIMIT n)`, `= ANY (...)`.
        Some(NodeEnum::SubLink(l)) => {
            is_key(l.testexpr.as_deref())
                && matches!(l.subselect.as_deref().and_then(|s| s.node.as_ref()),
                    Some(NodeEnum::SelectStmt(s)) if s.limit_count.is_some())
        }
        _ => false,
    }
}

/// A constant, a parameter, a list of them, or a `LIMIT`ed sub-select: something that does
/// not grow with the table.
fn is_constant(expr: Option<&Node>) -> bool {
    let Some(root) = expr.and_then(|e| e.node.as_ref()) else {
        return false;
    };
    match root {
        NodeEnum::SubLink(l) => matches!(l.subselect.as_deref().and_then(|s| s.node.as_ref()),
            Some(NodeEnum::SelectStmt(s)) if s.limit_count.is_some()),
        _ => !root
            .nodes()
            .iter()
            .any(|(n, _, _, _)| matches!(n, NodeRef::ColumnRef(_) | NodeRef::SubLink(_))),
    }
}

fn column(expr: Option<&Node>) -> Option<String> {
    match expr.and_then(|e| e.node.as_ref()) {
        Some(NodeEnum::ColumnRef(c)) => ast::strings(&c.fields).last().map(|s| s.to_string()),
        _ => None,
    }
}

fn is_key(expr: Option<&Node>) -> bool {
    column(expr).is_some_and(|n| n == "id" || n.ends_with("_id") || n.ends_with("Id"))
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
