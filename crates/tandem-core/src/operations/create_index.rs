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
use crate::schema::{Index, Partition, Schema, Table};
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
        let what = format!("create_index `{}`", self.name);
        let partitions = partitions_of(&table, &what)?;
        if self.unique == Some(true) {
            let physical: Vec<String> = self
                .columns
                .iter()
                .filter_map(|c| table.column(c.column()).map(|k| k.physical.clone()))
                .collect();
            refuse_unique_without_partition_key(&table, &physical, &what)?;
        }
        let build = IndexBuild {
            name: &self.name,
            unique: self.unique == Some(true),
            method: Some(method),
            elements,
            nulls_not_distinct: false,
            storage_parameters: self.storage_parameters.as_deref(),
            predicate: predicate.as_deref(),
            partitions,
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
                ddl::drop_built_index(&ctx.schema, &self.name, partitions),
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

/// The partitions to build an index on, for a partitioned table: an index is made `ON ONLY`
/// the parent and built on each partition (see [`ddl::create_index_concurrently`]). A
/// partition partitioned in turn would need the same one level down: refused for now.
pub(crate) fn partitions_of<'a>(
    table: &'a Table,
    what: &str,
) -> Result<Option<&'a [Partition]>, OpError> {
    let Some(p) = &table.partitioning else {
        return Ok(None);
    };
    if let Some(sub) = p.partitions.iter().find(|p| p.partitioned) {
        return Err(OpError::new(
            format!(
                "{what}: table `{}` has partition `{}`, which is partitioned in turn; tandem builds indexes one level down only",
                table.name, sub.name
            ),
            "build the index on each sub-partition with a `sql` operation, or use a table partitioned on one level",
        ));
    }
    Ok(Some(&p.partitions))
}

/// PostgreSQL cannot attach an index built concurrently as a UNIQUE or PRIMARY KEY
/// constraint of a partitioned table (`ADD CONSTRAINT ... USING INDEX`), and building the
/// constraint directly would lock every partition for the whole build.
pub(crate) fn refuse_unique_constraint(table: &Table, what: &str) -> Result<(), OpError> {
    if table.partitioning.is_some() {
        return Err(OpError::new(
            format!(
                "{what}: `{}` is a partitioned table, where a unique constraint cannot be built without blocking writes",
                table.name
            ),
            "use create_index with `unique: true` over columns that include the partition key (a unique index enforces the same), or add the constraint in a maintenance window with a `sql` operation",
        ));
    }
    Ok(())
}

/// A unique index on a partitioned table must cover the partition key (PostgreSQL checks
/// uniqueness per partition).
pub(crate) fn refuse_unique_without_partition_key(
    table: &Table,
    physical_columns: &[String],
    what: &str,
) -> Result<(), OpError> {
    let Some(p) = &table.partitioning else {
        return Ok(());
    };
    let missing: Vec<&str> = p
        .key_columns
        .iter()
        .filter(|k| !physical_columns.contains(k))
        .map(String::as_str)
        .collect();
    if p.key_has_expressions || !missing.is_empty() {
        return Err(OpError::new(
            format!(
                "{what}: a unique index on the partitioned table `{}` must include every column of the partition key{}",
                table.name,
                if p.key_has_expressions { " (which has expressions, so it cannot)".to_string() } else { format!(", and lacks {}", missing.join(", ")) }
            ),
            "add the partition key's columns to the index, or make the index not unique",
        ));
    }
    Ok(())
}

/// Foreign keys are added NOT VALID (then validated without blocking writes), which
/// PostgreSQL allows on partitioned tables from version 18 only.
pub(crate) fn refuse_not_valid_foreign_key(
    ctx: &PlanContext,
    table: &Table,
    what: &str,
) -> Result<(), OpError> {
    if table.partitioning.is_some() && ctx.server_version_num < 180000 {
        return Err(OpError::new(
            format!(
                "{what}: `{}` is a partitioned table, and PostgreSQL before 18 cannot add a foreign key NOT VALID to it (adding it valid would block writes while every partition is scanned)",
                table.name
            ),
            "add the foreign key in a maintenance window with a `sql` operation, or upgrade to PostgreSQL 18",
        ));
    }
    Ok(())
}
