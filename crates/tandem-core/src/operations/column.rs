//! Column and constraint definitions shared by create_table and add_column, and their DDL.

use super::lifecycle::check_identifier;
use super::lookup;
use crate::ddl::{self, References};
use crate::error::OpError;
use crate::keywords::{IDENTITY_KINDS, MATCH_TYPES, REFERENTIAL_ACTIONS};
use crate::names::unique_key_name;
use crate::quote::ident;
use crate::schema::{Column, Constraint, ConstraintKind, NewForeignKey, Schema};
use serde::{Deserialize, Deserializer, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnDef {
    pub name: String,
    #[serde(rename = "type")]
    pub data_type: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub pk: bool,
    /// pgroll's rule: a column is NOT NULL unless it says `nullable: true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nullable: Option<bool>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub unique: bool,
    /// A SQL expression. YAML numbers and booleans are accepted and read as their text.
    #[serde(
        default,
        deserialize_with = "sql_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub default: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<CheckDef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub references: Option<ForeignKeyDef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generated: Option<GeneratedDef>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckDef {
    pub name: String,
    pub constraint: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub no_inherit: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForeignKeyDef {
    pub name: String,
    pub table: String,
    pub column: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_delete: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_update: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_type: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub deferrable: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub initially_deferred: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeneratedDef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<IdentityDef>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityDef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_specified_values: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence_options: Option<String>,
}

/// A table-level constraint of create_table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableConstraintDef {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub references: Option<TableReferenceDef>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub deferrable: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub initially_deferred: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub no_inherit: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub nulls_not_distinct: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_parameters: Option<IndexParametersDef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude: Option<ExcludeDef>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableReferenceDef {
    pub table: String,
    pub columns: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_delete: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_update: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexParametersDef {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include_columns: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_parameters: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tablespace: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExcludeDef {
    pub index_method: String,
    pub elements: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicate: Option<String>,
}

pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}

/// Reads a SQL fragment that YAML may have typed as a number or boolean (`default: 0`).
pub(crate) fn sql_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        Text(String),
        Int(i64),
        Float(f64),
        Bool(bool),
    }
    Ok(Option::<Scalar>::deserialize(d)?.map(|s| match s {
        Scalar::Text(t) => t,
        Scalar::Int(i) => i.to_string(),
        Scalar::Float(f) => f.to_string(),
        Scalar::Bool(b) => b.to_string(),
    }))
}

impl ColumnDef {
    /// The column as the logical schema holds it, under its own name.
    pub(crate) fn logical_column(&self) -> Column {
        Column {
            name: self.name.clone(),
            physical: self.name.clone(),
            data_type: self.data_type.clone(),
            nullable: self.is_nullable(),
            default: self.default.clone(),
            generated: self.is_generated(),
            comment: self.comment.clone(),
            referenced: false,
            // Known once the table exists: a later migration reads them from the catalog.
            sequence: None,
            identity_always: None,
        }
    }

    /// The constraints the column declares (UNIQUE, CHECK, REFERENCES), as the logical schema
    /// of `table` holds them.
    pub(crate) fn logical_constraints(&self, table: &str) -> Vec<Constraint> {
        let unique = self.unique.then(|| unique_key_name(table, &self.name));
        [
            (unique, ConstraintKind::Unique),
            (
                self.check.as_ref().map(|c| c.name.clone()),
                ConstraintKind::Check,
            ),
            (
                self.references.as_ref().map(|r| r.name.clone()),
                ConstraintKind::ForeignKey,
            ),
        ]
        .into_iter()
        .filter_map(|(name, kind)| {
            Some(Constraint {
                name: name?,
                kind,
                columns: vec![self.name.clone()],
                expression: None,
                references: None,
                no_inherit: kind == ConstraintKind::Check
                    && self.check.as_ref().is_some_and(|c| c.no_inherit),
            })
        })
        .collect()
    }

    /// pgroll's rule: NOT NULL unless `nullable: true`; primary key columns are never NULL.
    pub fn is_nullable(&self) -> bool {
        !self.pk && self.nullable.unwrap_or(false)
    }

    pub fn is_generated(&self) -> bool {
        self.generated.is_some()
    }
}

/// A constraint definition must list its columns.
pub(crate) fn require_columns(name: &str, columns: &[String]) -> Result<(), OpError> {
    if columns.is_empty() {
        return Err(OpError::new(
            format!("constraint `{name}` lists no columns"),
            "list them under `columns:`",
        ));
    }
    Ok(())
}

/// A CHECK constraint definition's expression.
pub(crate) fn require_check<'a>(name: &str, check: &'a Option<String>) -> Result<&'a str, OpError> {
    check.as_deref().ok_or_else(|| {
        OpError::new(
            format!("check constraint `{name}` has no `check` expression"),
            "add `check: <boolean SQL expression>`",
        )
    })
}

/// A FOREIGN KEY definition's target, referencing as many columns as it constrains.
pub(crate) fn require_references<'a>(
    name: &str,
    columns: &[String],
    references: &'a Option<TableReferenceDef>,
) -> Result<&'a TableReferenceDef, OpError> {
    let Some(r) = references else {
        return Err(OpError::new(
            format!("foreign key `{name}` has no `references`"),
            "add `references: {table: ..., columns: [...]}`",
        ));
    };
    if r.columns.len() != columns.len() {
        return Err(OpError::new(
            format!(
                "foreign key `{name}` has {} columns but references {}",
                columns.len(),
                r.columns.len()
            ),
            "list as many referenced columns as constrained ones",
        ));
    }
    Ok(r)
}

impl ForeignKeyDef {
    /// The foreign key of a column the new version gets (alter_column, add_column with `up`),
    /// its target resolved to physical names in `schema`.
    pub(crate) fn resolve(&self, schema: &Schema) -> Result<NewForeignKey, OpError> {
        check_identifier("constraint", &self.name)?;
        let target = lookup::table(schema, &self.table)?;
        let target_column = lookup::column(target, &self.column)?;
        Ok(NewForeignKey {
            name: self.name.clone(),
            table: target.physical.clone(),
            column: target_column.physical.clone(),
            on_delete: REFERENTIAL_ACTIONS
                .pick_opt("on_delete", self.on_delete.as_deref())?
                .map(String::from),
            on_update: REFERENTIAL_ACTIONS
                .pick_opt("on_update", self.on_update.as_deref())?
                .map(String::from),
            match_type: MATCH_TYPES
                .pick_opt("match_type", self.match_type.as_deref())?
                .map(String::from),
            deferrable: self.deferrable || self.initially_deferred,
            initially_deferred: self.initially_deferred,
        })
    }
}

/// `REFERENCES "s"."t" ("c") [MATCH ..] [ON DELETE ..] [ON UPDATE ..] [DEFERRABLE ..]`, every
/// keyword checked against its allow-list first.
#[allow(clippy::too_many_arguments)]
pub(crate) fn references_clause(
    schema: &str,
    table: &str,
    columns: &[String],
    on_delete: &Option<String>,
    on_update: &Option<String>,
    match_type: &Option<String>,
    deferrable: bool,
    initially_deferred: bool,
) -> Result<String, OpError> {
    Ok(ddl::references_clause(&References {
        schema,
        table,
        columns,
        match_type: MATCH_TYPES.pick_opt("match_type", match_type.as_deref())?,
        on_delete: REFERENTIAL_ACTIONS.pick_opt("on_delete", on_delete.as_deref())?,
        on_update: REFERENTIAL_ACTIONS.pick_opt("on_update", on_update.as_deref())?,
        deferrable,
        initially_deferred,
    }))
}

/// The column's definition inside CREATE TABLE or ADD COLUMN. Constraints that need care on
/// an existing table (CHECK, REFERENCES, UNIQUE) are left to the caller when `inline` is false.
pub(crate) fn column_definition(
    schema: &str,
    col: &ColumnDef,
    inline: bool,
) -> Result<String, OpError> {
    let mut out = format!("{} {}", ident(&col.name), col.data_type.trim());
    if let Some(generated) = &col.generated {
        match (&generated.expression, &generated.identity) {
            (Some(expr), None) => out.push_str(&format!(" GENERATED ALWAYS AS ({expr}) STORED")),
            (None, Some(identity)) => {
                let when = IDENTITY_KINDS
                    .pick_opt(
                        "user_specified_values",
                        identity.user_specified_values.as_deref(),
                    )?
                    .unwrap_or("ALWAYS");
                out.push_str(&format!(" GENERATED {when} AS IDENTITY"));
                if let Some(opts) = &identity.sequence_options {
                    out.push_str(&format!(" ({opts})"));
                }
            }
            _ => {
                return Err(OpError::new(
                    format!(
                        "column `{}`: `generated` needs exactly one of `expression` or `identity`",
                        col.name
                    ),
                    "write `generated: {expression: ...}` or `generated: {identity: {...}}`",
                ))
            }
        }
    }
    if !col.is_nullable() && !col.pk {
        out.push_str(" NOT NULL");
    }
    if let Some(d) = &col.default {
        out.push_str(&format!(" DEFAULT {d}"));
    }
    if inline {
        if col.unique {
            out.push_str(" UNIQUE");
        }
        if let Some(check) = &col.check {
            out.push_str(&format!(
                " CONSTRAINT {} CHECK ({})",
                ident(&check.name),
                check.constraint
            ));
            if check.no_inherit {
                out.push_str(" NO INHERIT");
            }
        }
        if let Some(fk) = &col.references {
            out.push_str(&format!(
                " CONSTRAINT {} {}",
                ident(&fk.name),
                references_clause(
                    schema,
                    &fk.table,
                    std::slice::from_ref(&fk.column),
                    &fk.on_delete,
                    &fk.on_update,
                    &fk.match_type,
                    fk.deferrable,
                    fk.initially_deferred
                )?
            ));
        }
    }
    Ok(out)
}
