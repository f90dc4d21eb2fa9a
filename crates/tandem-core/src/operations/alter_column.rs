//! `alter_column`: change a column's name, type, nullability, default, comment or constraints.
//!
//! A rename alone is planned like rename_column. The other changes need a new column kept in
//! sync by dual-write triggers and a backfill, which this version of tandem does not run yet.

use super::column::{CheckDef, ForeignKeyDef};
use super::rename_column::rename_column;
use super::{OpError, PlanContext, Plannable};
use crate::plan::OperationSteps;
use crate::schema::Schema;
use serde::{Deserialize, Deserializer, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlterColumn {
    pub table: String,
    pub column: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub data_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub up: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub down: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nullable: Option<bool>,
    /// `Some(None)` (`default: null`) drops the default.
    #[serde(
        default,
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub default: Option<Option<String>>,
    /// `Some(None)` (`comment: null`) removes the comment.
    #[serde(
        default,
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub comment: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<CheckDef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unique: Option<UniqueDef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub references: Option<ForeignKeyDef>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UniqueDef {
    pub name: String,
}

/// Tells `key: null` (Some(None)) from an absent key (None, via `default`).
fn present_or_null<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Ok(Some(super::column::sql_text(d)?))
}

impl AlterColumn {
    fn changes_data(&self) -> bool {
        self.data_type.is_some()
            || self.nullable.is_some()
            || self.default.is_some()
            || self.comment.is_some()
            || self.check.is_some()
            || self.unique.is_some()
            || self.references.is_some()
    }
}

impl Plannable for AlterColumn {
    fn plan(&self, _ctx: &PlanContext, schema: &mut Schema) -> Result<OperationSteps, OpError> {
        if self.changes_data() || self.up.is_some() || self.down.is_some() {
            return Err(OpError::new(
                format!(
                    "alter_column on `{}.{}` changes the column's shape, which needs dual-write triggers and a backfill; this version of tandem does not run them yet",
                    self.table, self.column
                ),
                "split the change: renames (alter_column with only `name`, or rename_column) work now; type, nullability, default, comment and constraint changes arrive with backfill support",
            ));
        }
        let Some(name) = &self.name else {
            return Err(OpError::new(
                format!("alter_column on `{}.{}` changes nothing", self.table, self.column),
                "give at least one of: name, type, nullable, default, comment, check, unique, references",
            ));
        };
        rename_column(schema, &self.table, &self.column, name)?;
        Ok(OperationSteps::default())
    }
}
