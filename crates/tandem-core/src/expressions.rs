//! Migration expressions (`up`, `down`, checks) are written against logical column names;
//! here they become SQL over physical columns, through the PostgreSQL parser (tandem-sql),
//! never by substring replacement.

use crate::error::OpError;
use crate::quote::ident;
use crate::schema::{Column, Schema, Table};
use std::collections::BTreeMap;
use tandem_sql::{parse_expression, ColumnResolver};

struct MapResolver<'a> {
    table: &'a str,
    columns: BTreeMap<String, String>,
    schema: &'a Schema,
}

impl ColumnResolver for MapResolver<'_> {
    fn column(&self, name: &str) -> Option<String> {
        self.columns.get(name).cloned()
    }

    fn table_name(&self) -> &str {
        self.table
    }

    fn other_table_columns(&self, table: &str) -> Option<Vec<String>> {
        self.schema
            .table(table)
            .map(|t| t.columns.iter().map(|c| c.name.clone()).collect())
    }
}

fn parse(what: &str, expr: &str) -> Result<tandem_sql::Expression, OpError> {
    parse_expression(expr).map_err(|e| {
        OpError::new(
            format!("the {what} expression `{expr}` is not valid: {e}"),
            "write a single SQL expression over the table's columns (pgroll's `SELECT <expression>` form is accepted too)",
        )
    })
}

/// Rewrites `expr`, written against the logical columns of `table`, replacing each column
/// with `value(column)`.
pub(crate) fn rewrite_logical(
    what: &str,
    expr: &str,
    schema: &Schema,
    table: &Table,
    value: impl Fn(&Column) -> String,
) -> Result<String, OpError> {
    let parsed = parse(what, expr)?;
    let resolver = MapResolver {
        table: &table.name,
        columns: table
            .columns
            .iter()
            .map(|c| (c.name.clone(), value(c)))
            .collect(),
        schema,
    };
    parsed.rewrite(&resolver).map_err(|e| {
        OpError::new(
            format!("the {what} expression `{expr}` cannot be rewritten: {e}"),
            "check the column names it uses",
        )
    })
}

/// Every physical column of a table during the migration: the new version's and the hidden
/// old ones.
pub(crate) fn physical_columns(table: &Table) -> Vec<String> {
    let mut cols: Vec<String> = table.columns.iter().map(|c| c.physical.clone()).collect();
    for s in &table.sync {
        if let Some(old) = &s.old_physical {
            if !cols.contains(old) {
                cols.push(old.clone());
            }
        }
    }
    cols
}

/// Rewrites an expression over physical columns, replacing each with `map(column)` (columns
/// `map` leaves out stay as they are).
pub(crate) fn rewrite_physical(
    expr: &str,
    schema: &Schema,
    table: &Table,
    map: impl Fn(&str) -> Option<String>,
) -> Result<String, OpError> {
    let parsed = parse("generated", expr)?;
    let resolver = MapResolver {
        table: &table.physical,
        columns: physical_columns(table)
            .into_iter()
            .map(|c| {
                let replacement = map(&c).unwrap_or_else(|| ident(&c));
                (c, replacement)
            })
            .collect(),
        schema,
    };
    parsed.rewrite(&resolver).map_err(|e| {
        OpError::new(
            format!("cannot rewrite `{expr}`: {e}"),
            "this is a bug in tandem; please report it",
        )
    })
}

/// The physical columns an expression over physical columns reads.
pub(crate) fn physical_references(
    expr: &str,
    schema: &Schema,
    table: &Table,
) -> Result<Vec<String>, OpError> {
    let parsed = parse("generated", expr)?;
    let resolver = MapResolver {
        table: &table.physical,
        columns: physical_columns(table)
            .into_iter()
            .map(|c| (c.clone(), ident(&c)))
            .collect(),
        schema,
    };
    Ok(parsed.referenced_columns(&resolver))
}

/// A column's value in a row written by the old version, as SQL over physical columns: the
/// physical column itself, or, for a column the migration computes from others, its `up`.
pub(crate) fn old_value(table: &Table, column: &Column) -> String {
    table
        .sync
        .iter()
        .find(|s| s.new_physical.as_deref() == Some(column.physical.as_str()))
        .and_then(|s| s.up.clone())
        .map(|up| format!("({up})"))
        .unwrap_or_else(|| ident(&column.physical))
}

/// A column's value in a row written by the new version: its physical column.
pub(crate) fn new_value(column: &Column) -> String {
    ident(&column.physical)
}
