//! The operations of a migration file, one per file, each with the same lifecycle:
//! validate against the logical schema, change the logical schema, and add its steps to
//! the start, complete and rollback phases.

mod add_column;
mod alter_column;
mod column;
mod create_table;
mod drop_column;
mod drop_table;
mod later;
mod raw_sql;
mod rename_column;
mod rename_table;

pub use add_column::AddColumn;
pub use alter_column::AlterColumn;
pub use column::{
    CheckDef, ColumnDef, ForeignKeyDef, GeneratedDef, IdentityDef, TableConstraintDef,
};
pub use create_table::CreateTable;
pub use drop_column::DropColumn;
pub use drop_table::DropTable;
pub use later::{
    CreateConstraint, CreateIndex, DropConstraint, DropIndex, DropMulticolumnConstraint,
    RenameConstraint, SetReplicaIdentity,
};
pub use raw_sql::RawSql;
pub use rename_column::RenameColumn;
pub use rename_table::RenameTable;

use crate::plan::OperationSteps;
use crate::schema::Schema;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeSet;

/// One operation of a migration file, in pgroll's format (`- create_table: {...}`).
///
/// Deserialized by hand from a one-key map: YAML deserializers read externally tagged enums
/// from `!tags` only, and pgroll's files use maps.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    CreateTable(CreateTable),
    AddColumn(AddColumn),
    RenameColumn(RenameColumn),
    DropColumn(DropColumn),
    RenameTable(RenameTable),
    DropTable(DropTable),
    Sql(RawSql),
    AlterColumn(AlterColumn),
    CreateIndex(CreateIndex),
    DropIndex(DropIndex),
    CreateConstraint(CreateConstraint),
    DropConstraint(DropConstraint),
    DropMulticolumnConstraint(DropMulticolumnConstraint),
    RenameConstraint(RenameConstraint),
    SetReplicaIdentity(SetReplicaIdentity),
}

/// What the planner knows beyond the schema, gathered from the server before planning.
#[derive(Debug, Clone, Default)]
pub struct PlanContext {
    /// The physical schema, e.g. `public`.
    pub schema: String,
    /// `server_version_num`, e.g. 150004.
    pub server_version_num: i32,
    /// Default expressions (keyed by [`default_key`]) that PostgreSQL evaluates once per row
    /// when a column is added with them: adding such a column rewrites the table.
    pub volatile_defaults: BTreeSet<String>,
}

/// Key under which a default's volatility is recorded: the type and the expression.
pub fn default_key(data_type: &str, default: &str) -> String {
    format!("{data_type}\u{1f}{default}")
}

/// Why an operation cannot be planned, and what to do about it.
#[derive(Debug, Clone, PartialEq)]
pub struct OpError {
    pub message: String,
    pub help: String,
}

impl OpError {
    pub fn new(message: impl Into<String>, help: impl Into<String>) -> OpError {
        OpError {
            message: message.into(),
            help: help.into(),
        }
    }
}

/// The lifecycle every operation implements.
pub(crate) trait Plannable {
    /// Validates against `schema` (the logical schema as the operations before this one left
    /// it), changes `schema` to what the new version sees, and returns the operation's steps.
    fn plan(&self, ctx: &PlanContext, schema: &mut Schema) -> Result<OperationSteps, OpError>;
}

impl Operation {
    /// The operation's key in the file, e.g. `create_table`.
    pub fn kind(&self) -> &'static str {
        match self {
            Operation::CreateTable(_) => "create_table",
            Operation::AddColumn(_) => "add_column",
            Operation::RenameColumn(_) => "rename_column",
            Operation::DropColumn(_) => "drop_column",
            Operation::RenameTable(_) => "rename_table",
            Operation::DropTable(_) => "drop_table",
            Operation::Sql(_) => "sql",
            Operation::AlterColumn(_) => "alter_column",
            Operation::CreateIndex(_) => "create_index",
            Operation::DropIndex(_) => "drop_index",
            Operation::CreateConstraint(_) => "create_constraint",
            Operation::DropConstraint(_) => "drop_constraint",
            Operation::DropMulticolumnConstraint(_) => "drop_multicolumn_constraint",
            Operation::RenameConstraint(_) => "rename_constraint",
            Operation::SetReplicaIdentity(_) => "set_replica_identity",
        }
    }

    pub(crate) fn planner(&self) -> &dyn Plannable {
        match self {
            Operation::CreateTable(o) => o,
            Operation::AddColumn(o) => o,
            Operation::RenameColumn(o) => o,
            Operation::DropColumn(o) => o,
            Operation::RenameTable(o) => o,
            Operation::DropTable(o) => o,
            Operation::Sql(o) => o,
            Operation::AlterColumn(o) => o,
            Operation::CreateIndex(o) => o,
            Operation::DropIndex(o) => o,
            Operation::CreateConstraint(o) => o,
            Operation::DropConstraint(o) => o,
            Operation::DropMulticolumnConstraint(o) => o,
            Operation::RenameConstraint(o) => o,
            Operation::SetReplicaIdentity(o) => o,
        }
    }

    /// Raw SQL run at start changes the schema in ways the planner cannot follow, so it must be
    /// the only operation of its migration (as in pgroll).
    pub fn is_isolated(&self) -> bool {
        matches!(self, Operation::Sql(s) if !s.on_complete)
    }

    /// `(type, default)` pairs whose volatility the planner needs to know.
    pub fn defaults_to_probe(&self) -> Vec<(String, String)> {
        match self {
            Operation::AddColumn(a) => a
                .column
                .default
                .as_ref()
                .map(|d| vec![(a.column.data_type.clone(), d.clone())])
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }
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
pub(crate) fn no_such_column(table: &crate::schema::Table, column: &str) -> OpError {
    OpError::new(
        format!("column `{column}` does not exist in table `{}`", table.name),
        format!(
            "the columns of `{}` are: {}",
            table.name,
            table.column_names().join(", ")
        ),
    )
}

/// Rejects names PostgreSQL would silently truncate.
pub(crate) fn check_identifier(what: &str, name: &str) -> Result<(), OpError> {
    if name.is_empty() {
        return Err(OpError::new(
            format!("the {what} name is empty"),
            "give it a name",
        ));
    }
    if name.len() > crate::versions::MAX_IDENTIFIER_BYTES {
        return Err(OpError::new(
            format!(
                "the {what} name `{name}` is {} bytes long; PostgreSQL truncates names to 63 bytes",
                name.len()
            ),
            "choose a shorter name",
        ));
    }
    Ok(())
}

/// [`check_identifier`] for the planner.
pub(crate) fn check_identifier_pub(what: &str, name: &str) -> Result<(), OpError> {
    check_identifier(what, name)
}

/// Every operation key, for "expected one of" messages.
pub const OPERATION_KINDS: &[&str] = &[
    "create_table",
    "add_column",
    "rename_column",
    "drop_column",
    "rename_table",
    "drop_table",
    "sql",
    "alter_column",
    "create_index",
    "drop_index",
    "create_constraint",
    "drop_constraint",
    "drop_multicolumn_constraint",
    "rename_constraint",
    "set_replica_identity",
];

impl<'de> Deserialize<'de> for Operation {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OperationVisitor;

        impl<'de> Visitor<'de> for OperationVisitor {
            type Value = Operation;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an operation: a map with one key such as `create_table`")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Operation, A::Error> {
                let Some(key) = map.next_key::<String>()? else {
                    return Err(de::Error::custom(
                        "empty operation: expected one key such as `create_table`",
                    ));
                };
                let op = match key.as_str() {
                    "create_table" => Operation::CreateTable(map.next_value()?),
                    "add_column" => Operation::AddColumn(map.next_value()?),
                    "rename_column" => Operation::RenameColumn(map.next_value()?),
                    "drop_column" => Operation::DropColumn(map.next_value()?),
                    "rename_table" => Operation::RenameTable(map.next_value()?),
                    "drop_table" => Operation::DropTable(map.next_value()?),
                    "sql" => Operation::Sql(map.next_value()?),
                    "alter_column" => Operation::AlterColumn(map.next_value()?),
                    "create_index" => Operation::CreateIndex(map.next_value()?),
                    "drop_index" => Operation::DropIndex(map.next_value()?),
                    "create_constraint" => Operation::CreateConstraint(map.next_value()?),
                    "drop_constraint" => Operation::DropConstraint(map.next_value()?),
                    "drop_multicolumn_constraint" => {
                        Operation::DropMulticolumnConstraint(map.next_value()?)
                    }
                    "rename_constraint" => Operation::RenameConstraint(map.next_value()?),
                    "set_replica_identity" => Operation::SetReplicaIdentity(map.next_value()?),
                    other => return Err(de::Error::unknown_variant(other, OPERATION_KINDS)),
                };
                if let Some(extra) = map.next_key::<String>()? {
                    return Err(de::Error::custom(format!(
                        "an operation has exactly one key, but `{key}` is followed by `{extra}`; start a new list item (`- {extra}:`)"
                    )));
                }
                Ok(op)
            }
        }

        deserializer.deserialize_map(OperationVisitor)
    }
}
