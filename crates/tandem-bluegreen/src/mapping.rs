//! How a row of one side becomes a row of the other: per table, each target column as an SQL
//! expression over the source table's columns (quoted identifiers). Forward (blue to green)
//! comes from the migration's `up`, backward from its `down`; columns a migration keeps are
//! plain references.

use crate::catalog;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tandem_core::quote::ident;
use tandem_core::{Migration, Operation};
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

    /// The target columns that are a source column as it is (no expression).
    pub fn is_plain(&self, c: &ColumnMap) -> bool {
        match references(&c.expression, &self.source).as_deref() {
            Ok([only]) => unwrap_parentheses(&c.expression) == ident(only),
            _ => false,
        }
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

    /// The mapping of one migration from `before` (the tables as they are before it), by
    /// following its operations: renames carry columns and tables, `up` computes the new
    /// values and `down` the old ones. Operations that do not change what rows hold (indexes,
    /// constraints) change nothing here; a `sql` operation's effect is unknown, and `create`
    /// checks the result against green's catalog.
    pub fn of_migration(before: &[catalog::Table], migration: &Migration) -> Result<Mapping> {
        let mut tables: Vec<Walk> = before
            .iter()
            .map(|t| Walk {
                blue: Some(t.name.clone()),
                name: t.name.clone(),
                columns: t
                    .replicated_columns()
                    .map(|c| (c.name.clone(), Some(ident(&c.name))))
                    .collect(),
                downs: t
                    .replicated_columns()
                    .map(|c| (c.name.clone(), Some(ident(&c.name))))
                    .collect(),
            })
            .collect();
        for op in &migration.operations {
            apply(&mut tables, op, &migration.file)?;
        }
        let mut forward = Vec::new();
        let mut backward = Vec::new();
        for old in before {
            match tables
                .iter()
                .find(|t| t.blue.as_deref() == Some(old.name.as_str()))
            {
                Some(t) => {
                    forward.push(TableMap {
                        source: old.name.clone(),
                        target: Some(t.name.clone()),
                        columns: t
                            .columns
                            .iter()
                            .filter_map(|(name, up)| {
                                up.as_ref().map(|u| ColumnMap {
                                    target: name.clone(),
                                    expression: u.clone(),
                                })
                            })
                            .collect(),
                    });
                    backward.push(TableMap {
                        source: t.name.clone(),
                        target: Some(old.name.clone()),
                        columns: t
                            .downs
                            .iter()
                            .filter_map(|(name, down)| {
                                down.as_ref().map(|d| ColumnMap {
                                    target: name.clone(),
                                    expression: d.clone(),
                                })
                            })
                            .collect(),
                    });
                }
                None => forward.push(TableMap {
                    source: old.name.clone(),
                    target: None,
                    columns: Vec::new(),
                }),
            }
        }
        for t in tables.iter().filter(|t| t.blue.is_none()) {
            backward.push(TableMap {
                source: t.name.clone(),
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

/// A table while following a migration's operations.
struct Walk {
    /// Blue's name for it; None for a table the migration creates.
    blue: Option<String>,
    /// Its name now.
    name: String,
    /// Its columns now, each with its value as SQL over blue's columns (None: no value
    /// comes from blue, the column keeps its default).
    columns: Vec<(String, Option<String>)>,
    /// Blue's columns, each with its value as SQL over the columns it has now (None: it
    /// cannot be computed any more).
    downs: Vec<(String, Option<String>)>,
}

fn walk<'a>(tables: &'a mut [Walk], name: &str, file: &str) -> Result<&'a mut Walk> {
    tables.iter_mut().find(|t| t.name == name).ok_or_else(|| {
        Error::usage(
            format!("{file}: table {name} does not exist at this point of the migration"),
            "check the table names of the operations",
        )
    })
}

/// Replaces `column` by `value` in every expression of `exprs` that reads it; an expression
/// reading it becomes None when `value` is None.
fn replace_in(
    exprs: &mut [(String, Option<String>)],
    table: &str,
    column: &str,
    value: Option<&str>,
) -> Result<()> {
    for (_, e) in exprs.iter_mut() {
        let Some(text) = e.clone() else { continue };
        if !references(&text, table)?.iter().any(|r| r == column) {
            continue;
        }
        *e = match value {
            Some(v) => {
                let values = BTreeMap::from([(column.to_string(), v.to_string())]);
                Some(substitute(&text, table, &values)?)
            }
            None => None,
        };
    }
    Ok(())
}

/// An expression of the migration (over the table's columns now) as SQL over blue's columns:
/// each column it reads replaced by that column's value. None if it reads a column with none.
fn over_blue(t: &Walk, expression: &str) -> Result<Option<String>> {
    let mut values = BTreeMap::new();
    for r in references(expression, &t.name)? {
        match t.columns.iter().find(|(n, _)| *n == r) {
            Some((_, Some(v))) => {
                values.insert(r, v.clone());
            }
            Some((_, None)) => return Ok(None),
            None => {}
        }
    }
    substitute(expression, &t.name, &values).map(Some)
}

fn apply(tables: &mut Vec<Walk>, op: &Operation, file: &str) -> Result<()> {
    match op {
        Operation::RenameTable(r) => walk(tables, &r.from, file)?.name = r.to.clone(),
        Operation::RenameColumn(r) => rename(walk(tables, &r.table, file)?, &r.from, &r.to)?,
        Operation::AlterColumn(a) => {
            let t = walk(tables, &a.table, file)?;
            if let Some(to) = &a.name {
                rename(t, &a.column, to)?;
            }
            if let Some(up) = &a.up {
                let value = over_blue(t, up)?;
                if let Some(c) = t.columns.iter_mut().find(|(n, _)| *n == a.column) {
                    c.1 = value;
                }
            }
            if let Some(down) = &a.down {
                checked(down, &t.name)?;
                let table = t.name.clone();
                replace_in(&mut t.downs, &table, &a.column, Some(down))?;
            }
        }
        Operation::AddColumn(a) => {
            let t = walk(tables, &a.table, file)?;
            let value = match &a.up {
                Some(up) => over_blue(t, up)?,
                None => None,
            };
            t.columns.push((a.column.name.clone(), value));
        }
        Operation::DropColumn(d) => {
            let t = walk(tables, &d.table, file)?;
            t.columns.retain(|(n, _)| *n != d.column);
            let table = t.name.clone();
            if let Some(down) = &d.down {
                checked(down, &table)?;
            }
            replace_in(&mut t.downs, &table, &d.column, d.down.as_deref())?;
        }
        Operation::DropTable(d) => tables.retain(|t| t.name != d.name),
        Operation::CreateTable(c) => tables.push(Walk {
            blue: None,
            name: c.name.clone(),
            columns: c.columns.iter().map(|c| (c.name.clone(), None)).collect(),
            downs: Vec::new(),
        }),
        _ => {}
    }
    Ok(())
}

fn rename(t: &mut Walk, from: &str, to: &str) -> Result<()> {
    if let Some(c) = t.columns.iter_mut().find(|(n, _)| n == from) {
        c.0 = to.to_string();
    }
    let table = t.name.clone();
    replace_in(&mut t.downs, &table, from, Some(&ident(to)))
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
            .map(|c| (c.target.clone(), c.expression.clone()))
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
    for s in second
        .iter()
        .filter(|s| !first.iter().any(|f| f.target.as_ref() == Some(&s.source)))
    {
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
        .map(|s| unwrap_parentheses(&s).to_string())
        .map_err(|e| {
            Error::usage(
                format!("the expression `{expression}` of table {table} cannot be rewritten: {e}"),
                "check the column names it uses",
            )
        })
}

/// `(("id"))` is `"id"`: parentheses around the whole expression are dropped, so that a column
/// carried through several migrations is still recognised as itself.
pub(crate) fn unwrap_parentheses(expression: &str) -> &str {
    let mut s = expression.trim();
    while s.starts_with('(') && s.ends_with(')') && encloses(s) {
        s = s[1..s.len() - 1].trim();
    }
    s
}

/// Whether the first parenthesis closes at the very end (quotes respected).
fn encloses(s: &str) -> bool {
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'') | (None, '"') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') => {
                depth -= 1;
                if depth == 0 && i != s.len() - 1 {
                    return false;
                }
            }
            _ => {}
        }
    }
    depth == 0
}

/// The column names an expression reads.
pub fn references(expression: &str, table: &str) -> Result<Vec<String>> {
    Ok(parse(expression, table)?.referenced_columns(&Collect(table)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outer_parentheses_only_are_dropped() {
        assert_eq!(unwrap_parentheses("((\"id\"))"), "\"id\"");
        assert_eq!(unwrap_parentheses("(a) + (b)"), "(a) + (b)");
        assert_eq!(unwrap_parentheses("(')(')"), "')('");
    }

    #[test]
    fn composition_carries_a_column_through_two_migrations() {
        let one = Mapping {
            forward: vec![TableMap {
                source: "t".into(),
                target: Some("t".into()),
                columns: vec![ColumnMap {
                    target: "price".into(),
                    expression: "CAST(\"price\" AS numeric)".into(),
                }],
            }],
            backward: vec![],
        };
        let two = Mapping {
            forward: vec![TableMap {
                source: "t".into(),
                target: Some("u".into()),
                columns: vec![ColumnMap {
                    target: "cost".into(),
                    expression: "\"price\" * 2".into(),
                }],
            }],
            backward: vec![],
        };
        let both = one.then(&two).unwrap();
        assert_eq!(both.forward[0].target.as_deref(), Some("u"));
        assert_eq!(both.forward[0].columns[0].target, "cost");
        assert_eq!(
            both.forward[0].columns[0].expression,
            "(CAST(\"price\" AS numeric)) * 2"
        );
    }
}
