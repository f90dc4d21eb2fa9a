//! How a row of one side becomes a row of the other: per table, each target column as an SQL
//! expression over the source table's columns (quoted identifiers). Forward (blue to green)
//! comes from the migration's `up`, backward from its `down`; columns a migration keeps are
//! plain references.

use crate::catalog;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tandem_core::quote::ident;
use tandem_core::schema::Schema;
use tandem_sql::{parse_expression, ColumnResolver};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnMap {
    pub target: String,
    /// SQL over the source table's columns, each written as a quoted identifier.
    pub expression: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableMap {
    pub source: String,
    /// None when the other side has no such table (dropped by the migration, or created by it).
    pub target: Option<String>,
    /// Target columns with no entry keep their default on insert and are left alone on update.
    pub columns: Vec<ColumnMap>,
}

impl TableMap {
    /// Every target column is the same-named source column.
    pub fn is_identity(&self) -> bool {
        self.target.as_deref() == Some(self.source.as_str())
            && self
                .columns
                .iter()
                .all(|c| c.expression == ident(&c.target))
    }

    pub fn column(&self, target: &str) -> Option<&ColumnMap> {
        self.columns.iter().find(|c| c.target == target)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Mapping {
    /// Blue's tables to green's, one per blue table.
    pub forward: Vec<TableMap>,
    /// Green's tables to blue's, one per green table.
    pub backward: Vec<TableMap>,
}

impl Mapping {
    /// The maps for replication out of `from`.
    pub fn from_side(&self, from: crate::Side) -> &[TableMap] {
        match from {
            crate::Side::Blue => &self.forward,
            crate::Side::Green => &self.backward,
        }
    }

    /// The mapping of one migration, planned against `before` (the tables as they are before
    /// it) into `planned` (the logical schema the migration leaves).
    pub fn of_migration(before: &[catalog::Table], planned: &Schema) -> Result<Mapping> {
        let mut forward = Vec::new();
        let mut backward = Vec::new();
        for old in before {
            let Some(new) = planned
                .tables
                .iter()
                .find(|t| !t.created_here && t.physical == old.name)
            else {
                forward.push(TableMap {
                    source: old.name.clone(),
                    target: None,
                    columns: Vec::new(),
                });
                continue;
            };
            let old_has = |c: &str| old.column(c).is_some_and(|c| !c.generated);
            // Forward: each new column from `up`, or from the old column it still is.
            let mut columns = Vec::new();
            for c in &new.columns {
                let up = new
                    .sync
                    .iter()
                    .find(|s| s.new_physical.as_deref() == Some(c.physical.as_str()))
                    .and_then(|s| s.up.clone());
                let expression = match up {
                    Some(up) => checked(&up, &old.name)?,
                    None if old_has(&c.physical) => ident(&c.physical),
                    None => continue,
                };
                columns.push(ColumnMap {
                    target: c.name.clone(),
                    expression,
                });
            }
            forward.push(TableMap {
                source: old.name.clone(),
                target: Some(new.name.clone()),
                columns,
            });
            // Backward: each old column from `down` (written over the new physical columns,
            // which take their logical names at complete), or from the column it became.
            let renamed: BTreeMap<String, String> = new
                .columns
                .iter()
                .map(|c| (c.physical.clone(), ident(&c.name)))
                .collect();
            let mut columns = Vec::new();
            for old_col in old.replicated_columns() {
                let down = new
                    .sync
                    .iter()
                    .find(|s| s.old_physical.as_deref() == Some(old_col.name.as_str()))
                    .and_then(|s| s.down.clone());
                let expression = match down {
                    Some(down) => substitute(&down, &new.name, &renamed)?,
                    None => match new.columns.iter().find(|c| c.physical == old_col.name) {
                        Some(c) => ident(&c.name),
                        None => continue,
                    },
                };
                columns.push(ColumnMap {
                    target: old_col.name.clone(),
                    expression,
                });
            }
            backward.push(TableMap {
                source: new.name.clone(),
                target: Some(old.name.clone()),
                columns,
            });
        }
        for new in planned.tables.iter().filter(|t| t.created_here) {
            backward.push(TableMap {
                source: new.name.clone(),
                target: None,
                columns: Vec::new(),
            });
        }
        Ok(Mapping { forward, backward })
    }

    /// `self` then `next` (several migration files): green's rows of `next` from blue's.
    pub fn then(&self, next: &Mapping) -> Result<Mapping> {
        Ok(Mapping {
            forward: compose(&self.forward, &next.forward)?,
            backward: compose(&next.backward, &self.backward)?,
        })
    }

    /// The identity mapping of a schema no migration changed.
    pub fn identity(tables: &[catalog::Table]) -> Mapping {
        let maps: Vec<TableMap> = tables
            .iter()
            .map(|t| TableMap {
                source: t.name.clone(),
                target: Some(t.name.clone()),
                columns: t
                    .replicated_columns()
                    .map(|c| ColumnMap {
                        target: c.name.clone(),
                        expression: ident(&c.name),
                    })
                    .collect(),
            })
            .collect();
        Mapping {
            forward: maps.clone(),
            backward: maps,
        }
    }
}

/// `first` (a to b) then `second` (b to c): a to c.
fn compose(first: &[TableMap], second: &[TableMap]) -> Result<Vec<TableMap>> {
    let mut out = Vec::new();
    for f in first {
        let Some(mid) = &f.target else {
            out.push(f.clone());
            continue;
        };
        let Some(s) = second.iter().find(|s| &s.source == mid) else {
            out.push(TableMap {
                source: f.source.clone(),
                target: None,
                columns: Vec::new(),
            });
            continue;
        };
        let values: BTreeMap<String, String> = f
            .columns
            .iter()
            .map(|c| (c.target.clone(), format!("({})", c.expression)))
            .collect();
        let mut columns = Vec::new();
        for c in &s.columns {
            let referenced = references(&c.expression, mid)?;
            // A column computed from a value the first mapping does not carry is unknown.
            if referenced.iter().all(|r| values.contains_key(r)) {
                columns.push(ColumnMap {
                    target: c.target.clone(),
                    expression: substitute(&c.expression, mid, &values)?,
                });
            }
        }
        out.push(TableMap {
            source: f.source.clone(),
            target: s.target.clone(),
            columns,
        });
    }
    // Tables the second step creates from nothing.
    for s in second.iter().filter(|s| !first.iter().any(|f| f.target.as_ref() == Some(&s.source))) {
        out.push(TableMap {
            source: s.source.clone(),
            target: None,
            columns: Vec::new(),
        });
    }
    Ok(out)
}

/// Resolves column names to replacement SQL; other names stay as written.
struct Replace<'a> {
    table: &'a str,
    values: &'a BTreeMap<String, String>,
}

impl ColumnResolver for Replace<'_> {
    fn column(&self, name: &str) -> Option<String> {
        self.values.get(name).cloned()
    }
    fn table_name(&self) -> &str {
        self.table
    }
    fn other_table_columns(&self, _table: &str) -> Option<Vec<String>> {
        None
    }
}

/// Records every name it is asked about, to list the columns an expression reads.
struct Collect<'a>(&'a str);

impl ColumnResolver for Collect<'_> {
    fn column(&self, name: &str) -> Option<String> {
        Some(ident(name))
    }
    fn table_name(&self) -> &str {
        self.0
    }
    fn other_table_columns(&self, _table: &str) -> Option<Vec<String>> {
        None
    }
}

fn parse(expression: &str, table: &str) -> Result<tandem_sql::Expression> {
    parse_expression(expression).map_err(|e| {
        Error::usage(
            format!("the expression `{expression}` of table {table} cannot be parsed: {e}"),
            "write `up` and `down` as single SQL expressions over the table's columns",
        )
    })
}

/// Parses an expression (the planner already did; this keeps user text from reaching SQL
/// unparsed) and returns it as written.
fn checked(expression: &str, table: &str) -> Result<String> {
    parse(expression, table)?;
    Ok(expression.to_string())
}

/// Replaces each column reference of `expression` with its value in `values`.
pub fn substitute(
    expression: &str,
    table: &str,
    values: &BTreeMap<String, String>,
) -> Result<String> {
    parse(expression, table)?
        .rewrite(&Replace { table, values })
        .map_err(|e| {
            Error::usage(
                format!("the expression `{expression}` of table {table} cannot be rewritten: {e}"),
                "check the column names it uses",
            )
        })
}

/// The column names an expression reads.
pub fn references(expression: &str, table: &str) -> Result<Vec<String>> {
    Ok(parse(expression, table)?.referenced_columns(&Collect(table)))
}
