//! The operations of a migration file, one per file, each with the same lifecycle:
//! validate against the logical schema, change the logical schema, and add its steps to
//! the start, complete and rollback phases.
//!
//! The operations are listed once, in the [`operations!`] table at the end of this file: the
//! [`Operation`] enum, its [`Operation::kind`], the planner's dispatch, [`OPERATION_KINDS`] and
//! the file parser all come from it. Adding an operation is its file (with its `mod` line,
//! which rustfmt needs to see) and one line of the table.

mod add_column;
mod alter_column;
mod column;
mod create_constraint;
mod create_index;
mod create_table;
mod drop_column;
mod drop_constraint;
mod drop_index;
mod drop_multicolumn_constraint;
mod drop_table;
mod lifecycle;
pub(crate) mod lookup;
mod raw_sql;
mod rename_column;
mod rename_constraint;
mod rename_table;
mod set_replica_identity;

pub use column::{
    CheckDef, ColumnDef, ForeignKeyDef, GeneratedDef, IdentityDef, TableConstraintDef,
};

pub use crate::error::OpError;
pub(crate) use create_index::partitions_of;
pub(crate) use lifecycle::{check_identifier, Plannable};
pub use lifecycle::{default_key, PlanContext};

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

/// Declares every operation once: `"key in the file" => Variant(module::Type)`.
macro_rules! operations {
    ($($kind:literal => $variant:ident($module:ident :: $ty:ident)),* $(,)?) => {
        $(pub use $module::$ty;)*

        /// One operation of a migration file, in pgroll's format (`- create_table: {...}`).
        ///
        /// Deserialized by hand from a one-key map: YAML deserializers read externally tagged
        /// enums from `!tags` only, and pgroll's files use maps.
        #[derive(Debug, Clone, PartialEq, Serialize)]
        pub enum Operation {
            $(#[serde(rename = $kind)] $variant($ty),)*
        }

        /// Every operation key, for "expected one of" messages.
        pub const OPERATION_KINDS: &[&str] = &[$($kind),*];

        impl Operation {
            /// The operation's key in the file, e.g. `create_table`.
            pub fn kind(&self) -> &'static str {
                match self {
                    $(Operation::$variant(_) => $kind,)*
                }
            }

            pub(crate) fn planner(&self) -> &dyn Plannable {
                match self {
                    $(Operation::$variant(o) => o,)*
                }
            }

            /// Reads the operation under `key` from the rest of its map.
            fn read<'de, A: MapAccess<'de>>(key: &str, map: &mut A) -> Result<Operation, A::Error> {
                match key {
                    $($kind => Ok(Operation::$variant(map.next_value()?)),)*
                    other => Err(de::Error::unknown_variant(other, OPERATION_KINDS)),
                }
            }
        }
    };
}

operations! {
    "create_table" => CreateTable(create_table::CreateTable),
    "add_column" => AddColumn(add_column::AddColumn),
    "rename_column" => RenameColumn(rename_column::RenameColumn),
    "drop_column" => DropColumn(drop_column::DropColumn),
    "rename_table" => RenameTable(rename_table::RenameTable),
    "drop_table" => DropTable(drop_table::DropTable),
    "sql" => Sql(raw_sql::RawSql),
    "alter_column" => AlterColumn(alter_column::AlterColumn),
    "create_index" => CreateIndex(create_index::CreateIndex),
    "drop_index" => DropIndex(drop_index::DropIndex),
    "create_constraint" => CreateConstraint(create_constraint::CreateConstraint),
    "drop_constraint" => DropConstraint(drop_constraint::DropConstraint),
    "drop_multicolumn_constraint" => DropMulticolumnConstraint(drop_multicolumn_constraint::DropMulticolumnConstraint),
    "rename_constraint" => RenameConstraint(rename_constraint::RenameConstraint),
    "set_replica_identity" => SetReplicaIdentity(set_replica_identity::SetReplicaIdentity),
}

impl Operation {
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
                let op = Operation::read(&key, &mut map)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_as_itself() {
        for kind in OPERATION_KINDS {
            let yaml = format!("{kind}: {{}}\n");
            // `{}` lacks required fields, but the error must name this operation's fields,
            // not an unknown variant: the key dispatched to its own type.
            let err = serde_norway::from_str::<Operation>(&yaml).map_err(|e| e.to_string());
            assert!(
                err.as_ref().is_err_and(|e| !e.contains("unknown variant")),
                "{kind}: {err:?}"
            );
        }
    }

    #[test]
    fn an_unknown_kind_lists_every_operation() {
        let err = serde_norway::from_str::<Operation>("make_it_so: {}\n")
            .expect_err("unknown")
            .to_string();
        assert!(err.contains("unknown variant `make_it_so`"), "{err}");
        assert!(err.contains("set_replica_identity"), "{err}");
    }
}
