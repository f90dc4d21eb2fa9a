//! Finding a table, column or constraint an operation names, with the one error each for a
//! name that does not exist (it lists the names that do).

use crate::error::OpError;
use crate::schema::{Column, Constraint, Schema, Table};

/// The table `name` of the logical schema.
pub(crate) fn table<'a>(schema: &'a Schema, name: &str) -> Result<&'a Table, OpError> {
    schema
        .table(name)
        .ok_or_else(|| no_such_table(schema, name))
}

/// [`table`], to change it.
pub(crate) fn table_mut<'a>(schema: &'a mut Schema, name: &str) -> Result<&'a mut Table, OpError> {
    match schema.tables.iter().position(|t| t.name == name) {
        Some(i) => Ok(&mut schema.tables[i]),
        None => Err(no_such_table(schema, name)),
    }
}

/// The column `name` of `table` (logical name).
pub(crate) fn column<'a>(table: &'a Table, name: &str) -> Result<&'a Column, OpError> {
    table
        .column(name)
        .ok_or_else(|| no_such_column(table, name))
}

/// The constraint `name` of `table`.
pub(crate) fn constraint<'a>(table: &'a Table, name: &str) -> Result<&'a Constraint, OpError> {
    table.constraint(name).ok_or_else(|| {
        OpError::new(
            format!("table `{}` has no constraint `{name}`", table.name),
            format!(
                "its constraints are: {}",
                table
                    .constraints
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    })
}

/// The error for a table the schema does not have.
pub(crate) fn no_such_table(schema: &Schema, table: &str) -> OpError {
    let known: Vec<&str> = schema.tables.iter().map(|t| t.name.as_str()).collect();
    OpError::new(
        format!("table `{table}` does not exist in schema `{}`", schema.name),
        if known.is_empty() {
            "the schema has no tables yet; create it with create_table first".to_string()
        } else {
            format!("the tables are: {}", known.join(", "))
        },
    )
}

/// The error for a column a table does not have.
pub(crate) fn no_such_column(table: &Table, column: &str) -> OpError {
    OpError::new(
        format!("column `{column}` does not exist in table `{}`", table.name),
        format!(
            "the columns of `{}` are: {}",
            table.name,
            table.column_names().join(", ")
        ),
    )
}
