//! Expression slots: one expression, with the rules of the place it is used in.

use serde_json::Value;

use super::kinds::{ExpressionSlot, Slot, SlotError};
use super::skeleton::{normalized, without_comments, Skeleton};
use crate::{parse_expression, Expression};

/// The statement the expression is finally used in, to parse it there too.
fn skeleton(slot: ExpressionSlot) -> Skeleton {
    match slot {
        ExpressionSlot::Default => Skeleton {
            before: "CREATE TABLE t (c int DEFAULT ",
            after: "\n)",
            sample: "(0)",
            pointer: "/node/CreateStmt/table_elts/0/node/ColumnDef/constraints/0/node/Constraint/raw_expr",
        },
        ExpressionSlot::Check => Skeleton {
            before: "CREATE TABLE t (CHECK ",
            after: "\n)",
            sample: "(true)",
            pointer: "/node/CreateStmt/table_elts/0/node/Constraint/raw_expr",
        },
        ExpressionSlot::Generated => Skeleton {
            before: "CREATE TABLE t (c int GENERATED ALWAYS AS ",
            after: "\nSTORED)",
            sample: "(1)",
            pointer: "/node/CreateStmt/table_elts/0/node/ColumnDef/constraints/0/node/Constraint/raw_expr",
        },
        ExpressionSlot::Up | ExpressionSlot::Down => Skeleton {
            before: "UPDATE t SET c = ",
            after: "\n",
            sample: "(1)",
            pointer: "/node/UpdateStmt/target_list/0/node/ResTarget/val",
        },
        ExpressionSlot::IndexPredicate => Skeleton {
            before: "CREATE INDEX i ON t (c) WHERE ",
            after: "\n",
            sample: "(true)",
            pointer: "/node/IndexStmt/where_clause",
        },
        ExpressionSlot::ExclusionPredicate => Skeleton {
            before: "CREATE TABLE t (EXCLUDE USING gist (c WITH &&) WHERE ",
            after: "\n)",
            sample: "(true)",
            pointer: "/node/CreateStmt/table_elts/0/node/Constraint/where_clause",
        },
    }
}

/// Parses one expression for `slot`: exactly one expression (or pgroll's `SELECT <expr>`),
/// nothing the slot forbids (see [`ExpressionSlot`]), and the same tree once placed,
/// parenthesized and without comments, in the statement it is used in. Splice
/// [`Expression::sql`] (or [`Expression::rewrite`]'s output), never the raw text.
pub fn parse_expression_in(slot: ExpressionSlot, text: &str) -> Result<Expression, SlotError> {
    let kind = Slot::Expression(slot);
    let expr = parse_expression(text).map_err(|e| SlotError {
        slot: kind,
        line: e.line,
        column: e.column,
        offset: e.offset,
        found: e.message,
    })?;
    let tree = &expr.parsed.tree;
    // Positions in the tree are offsets into `SELECT <normalized text>`.
    let at = |pos: Option<usize>| {
        let within = pos.unwrap_or(0).saturating_sub(crate::parse::PREFIX.len());
        expr.parsed.origin + within
    };
    if let Some(p) = find(tree, "ParamRef") {
        return Err(SlotError::at(
            kind,
            text,
            at(p),
            "a parameter (`$1`), which nothing binds",
        ));
    }
    if !slot.allows_subqueries() {
        if let Some(p) = find(tree, "SubLink") {
            return Err(SlotError::at(
                kind,
                text,
                at(p),
                &format!(
                    "a subquery, which PostgreSQL does not allow in {}",
                    slot.noun()
                ),
            ));
        }
    }
    if !slot.allows_column_references() {
        if let Some(p) = find(tree, "ColumnRef") {
            return Err(SlotError::at(
                kind,
                text,
                at(p),
                &format!(
                    "a column reference, which {} cannot read (use a constant or a function call)",
                    slot.noun()
                ),
            ));
        }
    }
    let placed = skeleton(slot).fit(kind, &expr.sql())?;
    if normalized(&placed.tree) != normalized(tree) {
        return Err(SlotError::at(
            kind,
            text,
            expr.parsed.origin,
            &format!("an expression that parses differently in {}", slot.noun()),
        ));
    }
    Ok(expr)
}

/// Where the first node of `kind` is in `tree` (`Some(None)` when it has no location).
fn find(tree: &Value, kind: &str) -> Option<Option<usize>> {
    match tree {
        Value::Object(map) => {
            if let Some(node) = map.get(kind).filter(|_| map.len() == 1) {
                return Some(crate::parse::min_location(node));
            }
            map.values().find_map(|v| find(v, kind))
        }
        Value::Array(items) => items.iter().find_map(|v| find(v, kind)),
        _ => None,
    }
}

impl Expression {
    /// The expression as SQL to splice: in parentheses, comments removed, so that it is one
    /// operand wherever it is placed.
    pub fn sql(&self) -> String {
        format!("({})", without_comments(self.text()))
    }
}
