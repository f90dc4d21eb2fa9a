//! Which column references in a parse tree mean a column of the target table.
//!
//! The walk goes over the generic JSON form of pg_query's protobuf tree rather than its
//! `nodes()` iterator, because that iterator skips some node types: a reference missed here
//! would be left unrewritten and silently read the wrong column.

use serde_json::Value;

use crate::ColumnResolver;

/// One reference to a column of the target table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ColumnUse {
    /// The column's logical name.
    pub name: String,
    /// Byte offset of the reference's first token in the parsed (wrapped) text; `None` if
    /// the parser recorded none.
    pub location: Option<usize>,
    /// How many dotted fields the reference has (1 for `x`, 2 for `t.x`).
    pub fields: usize,
}

/// The references to target columns in `tree`, in source order.
pub(crate) fn target_columns(tree: &Value, resolver: &dyn ColumnResolver) -> Vec<ColumnUse> {
    let mut walker = Walker {
        resolver,
        scopes: Vec::new(),
        out: Vec::new(),
    };
    walker.walk(tree);
    let mut out = walker.out;
    // JSON objects iterate in key order, not source order.
    out.sort_by_key(|u| u.location.unwrap_or(usize::MAX));
    out
}

/// What is known about the columns of one FROM item.
#[derive(Debug)]
enum Columns {
    /// The target table itself (a self-join in a subquery): its columns are the resolver's.
    Target,
    Known(Vec<String>),
    /// Not known: by the rule tandem follows, such an item shadows no unqualified name.
    Unknown,
}

/// A FROM item of a subquery, as seen from inside that subquery.
#[derive(Debug)]
struct FromItem {
    /// The name that qualifies its columns (the alias, else the table name); `None` when it
    /// is hidden behind a join alias.
    name: Option<String>,
    columns: Columns,
}

/// The FROM items of one enclosing subquery, and its CTE names (a CTE shadows a table).
#[derive(Debug, Default)]
struct Scope {
    items: Vec<FromItem>,
    ctes: Vec<String>,
}

struct Walker<'a> {
    resolver: &'a dyn ColumnResolver,
    /// Innermost last.
    scopes: Vec<Scope>,
    out: Vec<ColumnUse>,
}

impl Walker<'_> {
    fn walk(&mut self, v: &Value) {
        match v {
            Value::Object(map) => {
                if let Some(c) = map.get("ColumnRef") {
                    self.column_ref(c);
                } else if let Some(s) = map.get("SelectStmt") {
                    self.select(s);
                } else {
                    map.values().for_each(|v| self.walk(v));
                }
            }
            Value::Array(items) => items.iter().for_each(|v| self.walk(v)),
            _ => {}
        }
    }

    /// A SELECT below the expression's top is a subquery: its FROM items are in scope for
    /// everything inside it (also for its own FROM clause: that over-approximates only where
    /// a non-LATERAL FROM subquery would reference a sibling, which PostgreSQL rejects).
    fn select(&mut self, body: &Value) {
        let mut scope = Scope::default();
        if let Some(ctes) = body.pointer("/with_clause/ctes").and_then(Value::as_array) {
            scope.ctes = ctes
                .iter()
                .filter_map(|c| c.pointer("/node/CommonTableExpr/ctename"))
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect();
        }
        if let Some(from) = body.get("from_clause").and_then(Value::as_array) {
            let mut items = Vec::new();
            for item in from {
                self.add_from_item(item, &scope.ctes, &mut items);
            }
            scope.items = items;
        }
        self.scopes.push(scope);
        if let Value::Object(map) = body {
            for (key, v) in map {
                // The arms of UNION/INTERSECT/EXCEPT are bare SelectStmt bodies, not nodes.
                if (key == "larg" || key == "rarg") && v.is_object() {
                    self.select(v);
                } else {
                    self.walk(v);
                }
            }
        }
        self.scopes.pop();
    }

    fn add_from_item(&self, node: &Value, ctes: &[String], out: &mut Vec<FromItem>) {
        let Some((kind, v)) = variant(node) else {
            return;
        };
        let alias = v.pointer("/alias/aliasname").and_then(Value::as_str);
        let alias_columns: Vec<String> = v
            .pointer("/alias/colnames")
            .and_then(Value::as_array)
            .map(|names| names.iter().filter_map(sval).map(str::to_owned).collect())
            .unwrap_or_default();
        match kind {
            "RangeVar" => {
                let relname = v.get("relname").and_then(Value::as_str).unwrap_or_default();
                let schema = v
                    .get("schemaname")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let is_cte = schema.is_empty()
                    && (ctes.iter().any(|c| c == relname)
                        || self
                            .scopes
                            .iter()
                            .any(|s| s.ctes.iter().any(|c| c == relname)));
                let columns = if is_cte {
                    Columns::Known(alias_columns)
                } else if relname == self.resolver.table_name() {
                    Columns::Target
                } else {
                    // Renamed columns (`users AS u(a, b)`) are added to, not substituted
                    // for, the table's: shadowing too much only leaves a name unrewritten
                    // (a loud error later), shadowing too little would read the wrong column.
                    match self.resolver.other_table_columns(relname) {
                        Some(mut cols) => {
                            cols.extend(alias_columns);
                            Columns::Known(cols)
                        }
                        None if alias_columns.is_empty() => Columns::Unknown,
                        None => Columns::Known(alias_columns),
                    }
                };
                out.push(FromItem {
                    name: Some(alias.unwrap_or(relname).to_owned()),
                    columns,
                });
            }
            "JoinExpr" => {
                let mut inner = Vec::new();
                for side in ["larg", "rarg"] {
                    if let Some(n) = v.get(side) {
                        self.add_from_item(n, ctes, &mut inner);
                    }
                }
                if let Some(alias) = alias {
                    // `(a JOIN b) AS j` hides `a` and `b` as qualifiers, not their columns.
                    inner.iter_mut().for_each(|i| i.name = None);
                    inner.push(FromItem {
                        name: Some(alias.to_owned()),
                        columns: Columns::Known(alias_columns),
                    });
                }
                out.extend(inner);
            }
            "RangeSubselect" => {
                let mut columns = alias_columns;
                if let Some(targets) = v
                    .pointer("/subquery/node/SelectStmt/target_list")
                    .and_then(Value::as_array)
                {
                    columns.extend(targets.iter().filter_map(output_name));
                }
                out.push(FromItem {
                    name: alias.map(str::to_owned),
                    columns: Columns::Known(columns),
                });
            }
            "RangeFunction" => {
                // `generate_series(1, 3) AS g` has a column `g` (or the listed ones).
                let mut columns = alias_columns;
                columns.extend(alias.map(str::to_owned));
                out.push(FromItem {
                    name: alias.map(str::to_owned),
                    columns: Columns::Known(columns),
                });
            }
            "RangeTableSample" => {
                if let Some(relation) = v.get("relation") {
                    self.add_from_item(relation, ctes, out);
                }
            }
            _ => {}
        }
    }

    fn column_ref(&mut self, c: &Value) {
        let Some(fields) = c.get("fields").and_then(Value::as_array) else {
            return;
        };
        // `*`, `t.*` (an A_Star field) and anything odd are left alone.
        let Some(fields) = fields.iter().map(sval).collect::<Option<Vec<&str>>>() else {
            return;
        };
        let name = match fields.as_slice() {
            [name]
                if !self
                    .scopes
                    .iter()
                    .any(|s| s.has_column(name, self.resolver)) =>
            {
                *name
            }
            [table, name]
                if *table == self.resolver.table_name()
                    && !self.scopes.iter().any(|s| s.has_name(table)) =>
            {
                *name
            }
            _ => return,
        };
        if self.resolver.column(name).is_none() {
            return;
        }
        let location = c
            .get("location")
            .and_then(Value::as_i64)
            .and_then(|l| usize::try_from(l).ok());
        self.out.push(ColumnUse {
            name: name.to_owned(),
            location,
            fields: fields.len(),
        });
    }
}

impl Scope {
    fn has_column(&self, name: &str, resolver: &dyn ColumnResolver) -> bool {
        self.items.iter().any(|item| match &item.columns {
            Columns::Target => resolver.column(name).is_some(),
            Columns::Known(cols) => cols.iter().any(|c| c == name),
            Columns::Unknown => false,
        })
    }

    fn has_name(&self, name: &str) -> bool {
        self.items.iter().any(|i| i.name.as_deref() == Some(name))
    }
}

/// The variant name and body of a `Node` (`{"node": {"RangeVar": {...}}}`).
fn variant(node: &Value) -> Option<(&str, &Value)> {
    let map = node.get("node")?.as_object()?;
    map.iter().next().map(|(k, v)| (k.as_str(), v))
}

/// The text of a `String` node.
fn sval(node: &Value) -> Option<&str> {
    node.pointer("/node/String/sval").and_then(Value::as_str)
}

/// The column name a subquery's target produces: its alias, else the last field of a bare
/// column reference (other expressions get names like `?column?` that nobody references).
fn output_name(target: &Value) -> Option<String> {
    let res = target.pointer("/node/ResTarget")?;
    match res.get("name").and_then(Value::as_str) {
        Some(name) if !name.is_empty() => Some(name.to_owned()),
        _ => res
            .pointer("/val/node/ColumnRef/fields")
            .and_then(Value::as_array)
            .and_then(|f| f.last())
            .and_then(sval)
            .map(str::to_owned),
    }
}
