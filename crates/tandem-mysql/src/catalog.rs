//! The live schema of one database, read from information_schema.

use crate::error::{Error, Result};
use mysql_async::prelude::*;
use mysql_async::Conn;
use std::collections::BTreeMap;

/// One column as the server describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveColumn {
    pub name: String,
    /// The full type, e.g. `int(11) unsigned`, `varchar(20)`.
    pub column_type: String,
    pub nullable: bool,
    /// The default as `SHOW CREATE TABLE` would write it (an expression or a quoted literal).
    pub default: Option<String>,
    /// e.g. `auto_increment`, `on update current_timestamp()`.
    pub extra: String,
    pub comment: String,
    pub collation: Option<String>,
    /// A generated column's expression.
    pub generation: Option<String>,
}

/// One index: its columns in order, and whether it is unique.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveIndex {
    pub name: String,
    pub columns: Vec<String>,
    pub unique: bool,
}

/// One base table.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveTable {
    pub name: String,
    pub columns: Vec<LiveColumn>,
    pub primary_key: Vec<String>,
    pub indexes: Vec<LiveIndex>,
    pub checks: Vec<String>,
    /// Foreign keys from or to this table (names).
    pub foreign_keys: Vec<String>,
    pub triggers: Vec<String>,
    pub engine: String,
}

impl LiveTable {
    pub fn column(&self, name: &str) -> Option<&LiveColumn> {
        self.columns
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }

    pub fn column_names(&self) -> Vec<String> {
        self.columns.iter().map(|c| c.name.clone()).collect()
    }

    pub fn index(&self, name: &str) -> Option<&LiveIndex> {
        self.indexes
            .iter()
            .find(|i| i.name.eq_ignore_ascii_case(name))
    }
}

/// The base tables and views of the connection's database.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveSchema {
    pub database: String,
    pub tables: BTreeMap<String, LiveTable>,
    pub views: Vec<String>,
    /// `is_mariadb`, from `version()`.
    pub mariadb: bool,
}

impl LiveSchema {
    /// The table named `name`; table names are case-sensitive on Linux.
    pub fn table(&self, name: &str) -> Option<&LiveTable> {
        self.tables.get(name)
    }

    pub fn table_names(&self) -> Vec<String> {
        self.tables.keys().cloned().collect()
    }
}

/// Reads the schema of the current database.
pub async fn read_schema(conn: &mut Conn) -> Result<LiveSchema> {
    let ctx = "reading the live schema from information_schema";
    let (database, version): (Option<String>, String) = conn
        .query_first("SELECT DATABASE(), VERSION()")
        .await
        .map_err(Error::sql(ctx))?
        .unwrap_or((None, String::new()));
    let database = database.ok_or(Error::NoDatabase)?;
    let mariadb = version.to_ascii_lowercase().contains("mariadb");
    let mut schema = LiveSchema {
        database: database.clone(),
        mariadb,
        ..LiveSchema::default()
    };

    let tables: Vec<(String, String, Option<String>)> = conn
        .exec(
            "SELECT TABLE_NAME, TABLE_TYPE, ENGINE FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME",
            (&database,),
        )
        .await
        .map_err(Error::sql(ctx))?;
    for (name, kind, engine) in tables {
        if kind == "VIEW" {
            schema.views.push(name);
        } else {
            schema.tables.insert(
                name.clone(),
                LiveTable {
                    name,
                    columns: Vec::new(),
                    primary_key: Vec::new(),
                    indexes: Vec::new(),
                    checks: Vec::new(),
                    foreign_keys: Vec::new(),
                    triggers: Vec::new(),
                    engine: engine.unwrap_or_default(),
                },
            );
        }
    }

    type ColumnRow = (
        String,
        String,
        String,
        String,
        Option<String>,
        String,
        String,
        Option<String>,
        Option<String>,
    );
    let columns: Vec<ColumnRow> = conn
        .exec(
            "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA, \
             COLUMN_COMMENT, COLLATION_NAME, GENERATION_EXPRESSION \
             FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? \
             ORDER BY TABLE_NAME, ORDINAL_POSITION",
            (&database,),
        )
        .await
        .map_err(Error::sql(ctx))?;
    for (table, name, column_type, nullable, default, extra, comment, collation, generation) in
        columns
    {
        let Some(t) = schema.tables.get_mut(&table) else {
            continue;
        };
        t.columns.push(LiveColumn {
            name,
            column_type,
            nullable: nullable == "YES",
            default: normalize_default(default, &extra, mariadb),
            extra,
            comment,
            collation,
            generation: generation.filter(|g| !g.is_empty()),
        });
    }

    let indexes: Vec<(String, String, String, i64)> = conn
        .exec(
            "SELECT TABLE_NAME, INDEX_NAME, COLUMN_NAME, NON_UNIQUE \
             FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? \
             ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX",
            (&database,),
        )
        .await
        .map_err(Error::sql(ctx))?;
    for (table, index, column, non_unique) in indexes {
        let Some(t) = schema.tables.get_mut(&table) else {
            continue;
        };
        if index == "PRIMARY" {
            t.primary_key.push(column);
            continue;
        }
        match t.indexes.iter_mut().find(|i| i.name == index) {
            Some(i) => i.columns.push(column),
            None => t.indexes.push(LiveIndex {
                name: index,
                columns: vec![column],
                unique: non_unique == 0,
            }),
        }
    }

    let constraints: Vec<(String, String, String, Option<String>)> = conn
        .exec(
            "SELECT TABLE_NAME, CONSTRAINT_NAME, CONSTRAINT_TYPE, NULL \
             FROM information_schema.TABLE_CONSTRAINTS WHERE TABLE_SCHEMA = ? \
             UNION ALL \
             SELECT REFERENCED_TABLE_NAME, CONSTRAINT_NAME, 'REFERENCED', TABLE_NAME \
             FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ?",
            (&database, &database),
        )
        .await
        .map_err(Error::sql(ctx))?;
    for (table, name, kind, from) in constraints {
        let Some(t) = schema.tables.get_mut(&table) else {
            continue;
        };
        match kind.as_str() {
            "CHECK" => t.checks.push(name),
            "FOREIGN KEY" => t.foreign_keys.push(name),
            "REFERENCED" => t
                .foreign_keys
                .push(format!("{name} (from {})", from.unwrap_or_default())),
            _ => {}
        }
    }

    let triggers: Vec<(String, String)> = conn
        .exec(
            "SELECT EVENT_OBJECT_TABLE, TRIGGER_NAME FROM information_schema.TRIGGERS \
             WHERE TRIGGER_SCHEMA = ?",
            (&database,),
        )
        .await
        .map_err(Error::sql(ctx))?;
    for (table, name) in triggers {
        if let Some(t) = schema.tables.get_mut(&table) {
            t.triggers.push(name);
        }
    }
    Ok(schema)
}

/// MariaDB reports defaults as SQL (`'abc'`, `NULL`, `current_timestamp()`), MySQL as the raw
/// value with `DEFAULT_GENERATED` in EXTRA for expressions; both become SQL text here.
fn normalize_default(default: Option<String>, extra: &str, mariadb: bool) -> Option<String> {
    let value = default?;
    if mariadb {
        return (value != "NULL").then_some(value);
    }
    if extra.contains("DEFAULT_GENERATED") {
        let lower = value.to_ascii_lowercase();
        if lower.starts_with("current_timestamp") || lower.starts_with("now") {
            Some(value)
        } else {
            Some(format!("({value})"))
        }
    } else {
        Some(crate::quote::literal(&value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_become_sql() {
        assert_eq!(normalize_default(Some("NULL".into()), "", true), None);
        assert_eq!(
            normalize_default(Some("'a'".into()), "", true).as_deref(),
            Some("'a'")
        );
        assert_eq!(
            normalize_default(Some("a'b".into()), "", false).as_deref(),
            Some("'a''b'")
        );
        assert_eq!(
            normalize_default(Some("CURRENT_TIMESTAMP".into()), "DEFAULT_GENERATED", false)
                .as_deref(),
            Some("CURRENT_TIMESTAMP")
        );
        assert_eq!(normalize_default(None, "", false), None);
    }
}
