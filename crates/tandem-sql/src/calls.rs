//! What an expression would call if it ran, read from its parse tree without running it:
//! the caller looks each one up in the catalog (`pg_proc.provolatile`, `pg_operator.oprcode`,
//! `pg_cast`/the type's input function) to decide volatility, instead of evaluating the
//! expression on a row.
//!
//! The raw parse tree is not resolved: `f(x)` names every overload of `f` in the search path,
//! and implicit casts the analyzer would add are not visible. A caller deciding volatility
//! therefore treats a name as volatile if any function or operator of that name (in the
//! schema written, else in the search path) is volatile.

use std::fmt;

use pg_query::protobuf::AExprKind;
use serde_json::Value;

/// A possibly schema-qualified name, as written (`nextval`, `pg_catalog.now`, `public.&&`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QualifiedName {
    /// The schema if the text named one (`OPERATOR(pg_catalog.+)`, `public.f(x)`); the
    /// parser itself qualifies some built-ins with `pg_catalog` (`AT TIME ZONE` calls
    /// `pg_catalog.timezone`, `int` is `pg_catalog.int4`).
    pub schema: Option<String>,
    /// The function, operator or type name (folded to lower case unless it was quoted).
    pub name: String,
}

impl fmt::Display for QualifiedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.schema {
            Some(s) => write!(f, "{s}.{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// A cast's target type.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CastTarget {
    /// The type's name (`pg_catalog.int4` for `int`, `public.mood` for `mood`).
    pub name: QualifiedName,
    /// Whether it is an array of that type (`int[]`), whose element input function runs.
    pub array: bool,
}

/// Everything an expression would call, deduplicated, in order of first appearance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CalledObjects {
    /// Functions called by name (`nextval`, `public.f`), aggregates and window functions
    /// included, and those the grammar writes for special syntax (`EXTRACT` is
    /// `pg_catalog.extract`, `AT TIME ZONE` is `pg_catalog.timezone`).
    pub functions: Vec<QualifiedName>,
    /// Operators (`+`, `||`, `&&`, `OPERATOR(public.===)`); `LIKE` is `~~`, `IN` and `IS
    /// DISTINCT FROM` and `NULLIF` are `=` (or `<>`), `BETWEEN` is `>=` and `<=`.
    pub operators: Vec<QualifiedName>,
    /// Explicit casts (`CAST(x AS t)`, `x::t`, `t 'literal'`): the target types.
    pub casts: Vec<CastTarget>,
    /// SQL value functions written as keywords (`current_timestamp`, `current_user`,
    /// `localtime`, ...): all stable, never volatile.
    pub value_functions: Vec<&'static str>,
    /// Whether a subquery is present (its own calls are listed above too).
    pub subqueries: bool,
}

/// Collects the calls of a parse (sub)tree in pg_query's JSON form.
pub(crate) fn collect(tree: &Value) -> CalledObjects {
    let mut out = CalledObjects::default();
    walk(tree, &mut out);
    out
}

fn walk(v: &Value, out: &mut CalledObjects) {
    match v {
        Value::Object(map) => {
            if map.len() == 1 {
                if let Some((kind, body)) = map.iter().next() {
                    node(kind, body, out);
                }
            }
            map.values().for_each(|v| walk(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
        _ => {}
    }
}

/// Records what one node (`{"FuncCall": {...}}`'s kind and body) calls.
fn node(kind: &str, body: &Value, out: &mut CalledObjects) {
    match kind {
        "FuncCall" => push(&mut out.functions, name(body.get("funcname"))),
        "AExpr" => {
            let kind = body.get("kind").and_then(Value::as_i64).unwrap_or(0);
            let between = [
                AExprKind::AexprBetween,
                AExprKind::AexprNotBetween,
                AExprKind::AexprBetweenSym,
                AExprKind::AexprNotBetweenSym,
            ]
            .iter()
            .any(|k| *k as i64 == kind);
            if between {
                for op in [">=", "<="] {
                    push(&mut out.operators, Some(plain(op)));
                }
            } else {
                push(&mut out.operators, name(body.get("name")));
            }
        }
        "TypeCast" => {
            if let Some(t) = body.get("type_name") {
                push(&mut out.casts, type_target(t));
            }
        }
        "SqlvalueFunction" => {
            let op = body.get("op").and_then(Value::as_i64).unwrap_or(0);
            if let Some(f) = value_function(op) {
                if !out.value_functions.contains(&f) {
                    out.value_functions.push(f);
                }
            }
        }
        "SubLink" => {
            out.subqueries = true;
            // `x = ANY (SELECT ...)`, `x IN (SELECT ...)`: the comparison operator.
            push(&mut out.operators, name(body.get("oper_name")));
        }
        _ => {}
    }
}

fn push<T: PartialEq>(list: &mut Vec<T>, item: Option<T>) {
    if let Some(item) = item {
        if !list.contains(&item) {
            list.push(item);
        }
    }
}

fn plain(name: &str) -> QualifiedName {
    QualifiedName {
        schema: None,
        name: name.to_owned(),
    }
}

/// A name from a list of `String` nodes: the last is the name, the one before the schema.
fn name(list: Option<&Value>) -> Option<QualifiedName> {
    let parts: Vec<&str> = list?
        .as_array()?
        .iter()
        .filter_map(|n| n.pointer("/node/String/sval").and_then(Value::as_str))
        .collect();
    let (last, rest) = parts.split_last()?;
    Some(QualifiedName {
        schema: rest.last().map(|s| (*s).to_owned()),
        name: (*last).to_owned(),
    })
}

fn type_target(t: &Value) -> Option<CastTarget> {
    let array = t
        .get("array_bounds")
        .and_then(Value::as_array)
        .is_some_and(|b| !b.is_empty());
    Some(CastTarget {
        name: name(t.get("names"))?,
        array,
    })
}

/// The SQL spelling of a `SQLValueFunction`'s `op` (pg_query's `SqlValueFunctionOp`).
fn value_function(op: i64) -> Option<&'static str> {
    Some(match op {
        1 => "current_date",
        2 | 3 => "current_time",
        4 | 5 => "current_timestamp",
        6 | 7 => "localtime",
        8 | 9 => "localtimestamp",
        10 => "current_role",
        11 => "current_user",
        12 => "user",
        13 => "session_user",
        14 => "current_catalog",
        15 => "current_schema",
        _ => return None,
    })
}
