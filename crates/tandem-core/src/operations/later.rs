//! Operations whose model tandem reads (so pgroll files parse and validate strictly) but does
//! not plan yet: each says so clearly instead of doing something half right.

use super::column::TableReferenceDef;
use super::{OpError, PlanContext, Plannable};
use crate::plan::OperationSteps;
use crate::schema::Schema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateIndex {
    pub name: String,
    pub table: String,
    pub columns: Vec<IndexColumn>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_parameters: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unique: Option<bool>,
}

/// An index column: a name, or `{column, opclass, collate, sort, nulls}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum IndexColumn {
    Name(String),
    Detailed(IndexColumnDef),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexColumnDef {
    pub column: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opclass: Option<OpclassDef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nulls: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpclassDef {
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DropIndex {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateConstraint {
    pub table: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub references: Option<TableReferenceDef>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub up: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub down: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "super::column::is_false")]
    pub no_inherit: bool,
    #[serde(default, skip_serializing_if = "super::column::is_false")]
    pub nulls_not_distinct: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DropConstraint {
    pub table: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub up: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub down: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DropMulticolumnConstraint {
    pub table: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub up: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub down: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenameConstraint {
    pub table: String,
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetReplicaIdentity {
    pub table: String,
    pub identity: ReplicaIdentityDef,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplicaIdentityDef {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<String>,
}

fn not_yet(kind: &str) -> OpError {
    OpError::new(
        format!("the `{kind}` operation is not supported by this version of tandem yet"),
        "supported now: create_table, add_column, rename_column, drop_column, rename_table, drop_table, sql, and alter_column with only `name`; run the change as a `sql` operation with `up` and `down` meanwhile",
    )
}

macro_rules! not_planned_yet {
    ($($ty:ty => $kind:literal),* $(,)?) => {$(
        impl Plannable for $ty {
            fn plan(&self, _ctx: &PlanContext, _schema: &mut Schema) -> Result<OperationSteps, OpError> {
                Err(not_yet($kind))
            }
        }
    )*};
}

not_planned_yet!(
    CreateIndex => "create_index",
    DropIndex => "drop_index",
    CreateConstraint => "create_constraint",
    DropConstraint => "drop_constraint",
    DropMulticolumnConstraint => "drop_multicolumn_constraint",
    RenameConstraint => "rename_constraint",
    SetReplicaIdentity => "set_replica_identity",
);
