//! `create_index`: built CONCURRENTLY (SHARE UPDATE EXCLUSIVE: reads and writes go on), after
//! any backfill of the same migration so it indexes final values; an invalid leftover of a
//! failed build is dropped first. Rollback drops it.

use super::{check_identifier, lookup, OpError, PlanContext, Plannable};
use crate::ddl::{self, IndexBuild};
use crate::expressions::{new_value, rewrite_logical};
use crate::keywords::{INDEX_METHODS, NULLS_ORDERS, SORT_ORDERS};
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
            .unwrap_or("btree");
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

#[cfg(test)]
mod tests {
    use crate::testing::{error, locks, plan, statements, step};
    use crate::Phase;

    #[test]
    fn built_concurrently_after_the_backfill_with_every_option_and_dropped_at_rollback() {
        let planned = plan(
            r#"operations:
  - create_index:
      name: ix
      table: users
      columns: [{column: Mixed, collate: C, sort: desc, nulls: last, opclass: {name: text_pattern_ops}}, email]
      method: GIN
      unique: true
      storage_parameters: fillfactor=70
      predicate: email IS NOT NULL
"#,
        )
        .unwrap();
        let build = step(
            &planned,
            Phase::Start,
            "build index ix without blocking writes",
        );
        assert_eq!(
            build.statements(),
            vec![
                r#"DROP INDEX CONCURRENTLY IF EXISTS "public"."ix""#,
                r#"CREATE UNIQUE INDEX CONCURRENTLY "ix" ON "public"."users" USING "gin" ("Mixed" COLLATE "C" "text_pattern_ops" DESC NULLS LAST, "email") WITH (fillfactor=70) WHERE ("email" IS NOT NULL)"#,
            ]
        );
        assert!(!build.transactional);
        assert_eq!(locks(build), vec!["SHARE UPDATE EXCLUSIVE public.users"]);
        let drop = step(&planned, Phase::Rollback, "drop the new index ix");
        assert_eq!(
            drop.statements(),
            vec![r#"DROP INDEX CONCURRENTLY IF EXISTS "public"."ix""#]
        );
        assert!(!drop.transactional);
        assert!(statements(&planned, Phase::Complete)
            .iter()
            .all(|s| !s.contains("\"ix\"")));
        let users = planned.new_schema.table("users").unwrap();
        let ix = users.indexes.iter().find(|i| i.name == "ix").unwrap();
        assert_eq!(
            (ix.method.as_str(), ix.unique, ix.plain),
            ("gin", true, false)
        );
        assert_eq!(ix.columns, vec!["Mixed", "email"]);
    }

    #[test]
    fn a_renamed_column_is_indexed_under_its_physical_name() {
        let planned = plan(
            "operations:\n  - rename_column: {table: users, from: email, to: mail}\n  - create_index: {name: ix, table: users, columns: [mail]}\n",
        )
        .unwrap();
        assert_eq!(
            step(
                &planned,
                Phase::Start,
                "build index ix without blocking writes"
            )
            .statements()[1],
            r#"CREATE INDEX CONCURRENTLY "ix" ON "public"."users" USING "btree" ("email")"#
        );
    }

    #[test]
    fn keywords_names_and_columns_are_checked() {
        let (message, help) = error(
            "operations:\n  - create_index: {name: ix, table: users, columns: [id], method: 'btree; drop table users'}\n",
        );
        assert!(message.contains("is not an index method"), "{message}");
        assert_eq!(help, "use one of: btree, hash, gist, spgist, gin, brin");
        let (message, _) = error(
            "operations:\n  - create_index: {name: ix, table: users, columns: [{column: id, nulls: middle}]}\n",
        );
        assert!(message.contains("`nulls: middle`"), "{message}");
        let (message, _) = error(
            "operations:\n  - create_index: {name: users_email_idx, table: users, columns: [id]}\n",
        );
        assert!(message.contains("already exists"), "{message}");
        let (message, help) =
            error("operations:\n  - create_index: {name: ix, table: users, columns: [nope]}\n");
        assert_eq!(message, "column `nope` does not exist in table `users`");
        assert!(help.contains("id, name, email, Mixed, org"), "{help}");
    }
}
