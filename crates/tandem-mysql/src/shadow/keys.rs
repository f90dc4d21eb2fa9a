//! Keyset walking over a primary key of one or more columns.

use crate::quote::{ident, ident_list};

/// `(a, b) > (?, ?)`, or `a > ?` for one column.
pub fn after(key: &[String]) -> String {
    compare(key, ">")
}

/// `(a, b) <= (?, ?)`.
pub fn up_to(key: &[String]) -> String {
    compare(key, "<=")
}

fn compare(key: &[String], op: &str) -> String {
    if key.len() == 1 {
        format!("{} {op} ?", ident(&key[0]))
    } else {
        let marks = vec!["?"; key.len()].join(", ");
        format!("({}) {op} ({marks})", ident_list(key))
    }
}

/// `a, b` for ORDER BY.
pub fn order(key: &[String]) -> String {
    ident_list(key)
}

/// `t.a = s.b AND ...`, joining a source key to its shadow names.
pub fn join(key: &[String], shadow_key: &[String]) -> String {
    key.iter()
        .zip(shadow_key)
        .map(|(k, s)| format!("t.{} = s.{}", ident(k), ident(s)))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// A row's values (a NULL for a value the row does not have).
pub fn values(row: mysql_async::Row) -> Vec<mysql_async::Value> {
    row.unwrap_raw()
        .into_iter()
        .map(|v| v.unwrap_or(mysql_async::Value::NULL))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_and_composite_keys() {
        assert_eq!(after(&["id".into()]), "`id` > ?");
        assert_eq!(up_to(&["a".into(), "b".into()]), "(`a`, `b`) <= (?, ?)");
        assert_eq!(join(&["a".into()], &["b".into()]), "t.`a` = s.`b`");
    }
}
