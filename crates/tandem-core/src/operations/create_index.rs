//! `create_index`: built CONCURRENTLY (SHARE UPDATE EXCLUSIVE: reads and writes go on), after
//! any backfill of the same migration so it indexes final values; an invalid leftover of a
//! failed build is dropped first. Rollback drops it.

use super::lifecycle::{check_identifier, PlanContext, Plannable};
use super::lookup;
use crate::ddl::{self, IndexBuild};
use crate::error::OpError;
use crate::expressions::{new_value, rewrite_logical};
use crate::keywords::{DEFAULT_INDEX_METHOD, INDEX_METHODS, NULLS_ORDERS, SORT_ORDERS};
use crate::locks::LockMode;
use crate::plan::{lock, OperationSteps, Step};
use crate::quote::ident;
use crate::schema::{Index, Schema, Table};
use serde::{Deserialize, Serialize};

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

impl IndexColumn {
    fn column(&self) -> &str {
        match self {
            IndexColumn::Name(n) => n,
            IndexColumn::Detailed(d) => &d.column,
        }
    }

    /// The key element as SQL: the physical column, then its collation, opclass and order.
    fn element(&self, table: &Table) -> Result<String, OpError> {
        let mut e = ident(&lookup::column(table, self.column())?.physical);
        let IndexColumn::Detailed(d) = self else {
            return Ok(e);
        };
        if let Some(collate) = &d.collate {
            e.push_str(&format!(" COLLATE {}", ident(collate)));
        }
        if let Some(op) = &d.opclass {
            e.push_str(&format!(" {}", ident(&op.name)));
            if !op.params.is_empty() {
                e.push_str(&format!(" ({})", op.params.join(", ")));
            }
        }
        if let Some(sort) = SORT_ORDERS.pick_opt("sort", d.sort.as_deref())? {
            e.push_str(&format!(" {sort}"));
        }
        if let Some(nulls) = NULLS_ORDERS.pick_opt("nulls", d.nulls.as_deref())? {
            e.push_str(&format!(" NULLS {nulls}"));
        }
        Ok(e)
    }
}

impl Plannable for CreateIndex {
    fn plan(&self, ctx: &PlanContext, schema: &mut Schema) -> Result<OperationSteps, OpError> {
        check_identifier("index", &self.name)?;
        if schema.name_taken(&self.name) {
            return Err(OpError::new(
                format!("a table or index named `{}` already exists", self.name),
                "choose another index name",
            ));
        }
        let table = lookup::table(schema, &self.table)?.clone();
        if self.columns.is_empty() {
            return Err(OpError::new(
                format!("index `{}` has no columns", self.name),
                "list them under `columns:`",
            ));
        }
        let method = INDEX_METHODS
            .pick_opt("method", self.method.as_deref())?
            .unwrap_or(DEFAULT_INDEX_METHOD);
        let elements = self
            .columns
            .iter()
            .map(|c| c.element(&table))
            .collect::<Result<Vec<_>, _>>()?;
        let predicate = match &self.predicate {
            Some(p) => Some(rewrite_logical("predicate", p, schema, &table, new_value)?),
            None => None,
        };
        let build = IndexBuild {
            name: &self.name,
            unique: self.unique == Some(true),
            method: Some(method),
            elements,
            nulls_not_distinct: false,
            storage_parameters: self.storage_parameters.as_deref(),
            predicate: predicate.as_deref(),
        };
        let steps = OperationSteps {
            after_backfill: vec![ddl::build_index_step(
                format!("build index {} without blocking writes", self.name),
                &ctx.schema,
                &table.physical,
                &build,
            )],
            rollback: vec![Step::sql(
                format!("drop the new index {}", self.name),
                vec![ddl::drop_index_concurrently(&ctx.schema, &self.name)],
                vec![lock(
                    &ctx.schema,
                    &table.physical,
                    LockMode::ShareUpdateExclusive,
                )],
            )
            .non_transactional()],
            ..OperationSteps::default()
        };
        lookup::table_mut(schema, &self.table)?.indexes.push(Index {
            name: self.name.clone(),
            columns: self
                .columns
                .iter()
                .map(|c| c.column().to_string())
                .collect(),
            unique: self.unique == Some(true),
            method: method.to_string(),
            plain: self.predicate.is_none(),
            constraint: None,
        });
        Ok(steps)
    }
}
