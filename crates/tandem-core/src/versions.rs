//! Version schemas: one schema of views per migration, one view per table, mapping the
//! version's logical names onto the physical tables and columns.

use crate::quote::{ident, literal, qualified};
use crate::schema::Schema;
use serde::{Deserialize, Serialize};

/// PostgreSQL truncates identifiers longer than this; a version schema name must fit.
pub const MAX_IDENTIFIER_BYTES: usize = 63;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionSchema {
    pub name: String,
    pub physical_schema: String,
    /// The views, when the planner knows the schema. `None` after raw SQL: the views are then
    /// generated from the live catalog when the step runs, every column under its own name.
    pub views: Option<Vec<View>>,
    /// PostgreSQL 15+: views check permissions as the querying user, like the table would.
    pub security_invoker: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct View {
    /// The logical table name (the view's name).
    pub name: String,
    /// The physical table.
    pub table: String,
    pub columns: Vec<ViewColumn>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ViewColumn {
    pub name: String,
    pub physical: String,
    /// The physical column whose column-level privileges `physical` takes when the version
    /// schema is created: set when `physical` is a column tandem added to replace that one (an
    /// altered column), so a role with a column grant on it can write the new version too, and
    /// keeps its grant after complete renames the new column into place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privileges_from: Option<String>,
}

/// The default version schema name: `<schema>_<migration>`.
pub fn default_version_schema_name(schema: &str, migration: &str) -> String {
    format!("{schema}_{migration}")
}

/// One view per table of a logical schema.
pub fn views_of(schema: &Schema) -> Vec<View> {
    schema
        .tables
        .iter()
        .map(|t| View {
            name: t.name.clone(),
            table: t.physical.clone(),
            columns: t
                .columns
                .iter()
                .map(|c| ViewColumn {
                    name: c.name.clone(),
                    physical: c.physical.clone(),
                    privileges_from: t
                        .sync
                        .iter()
                        .find(|s| {
                            s.new_column.is_some()
                                && s.new_physical.as_deref() == Some(c.physical.as_str())
                        })
                        .and_then(|s| s.old_physical.clone())
                        .filter(|old| *old != c.physical),
                })
                .collect(),
        })
        .collect()
}

impl VersionSchema {
    /// The statements that (re)create the schema with the given views, in one transaction.
    pub fn render(&self, views: &[View]) -> Vec<String> {
        let mut out = vec![
            format!("DROP SCHEMA IF EXISTS {} CASCADE", ident(&self.name)),
            format!("CREATE SCHEMA {}", ident(&self.name)),
            format!(
                "COMMENT ON SCHEMA {} IS {}",
                ident(&self.name),
                literal(&format!(
                    "tandem version schema over {}; do not edit",
                    self.physical_schema
                ))
            ),
        ];
        let options = if self.security_invoker {
            " WITH (security_invoker = true)"
        } else {
            ""
        };
        for view in views {
            let columns = if view.columns.is_empty() {
                // A table without columns still gets a view, so the version lists every table.
                "NULL::integer AS \"?column?\"".to_string()
            } else {
                view.columns
                    .iter()
                    .map(|c| format!("{} AS {}", ident(&c.physical), ident(&c.name)))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            out.push(format!(
                "CREATE VIEW {}{} AS SELECT {} FROM {}",
                qualified(&self.name, &view.name),
                options,
                columns,
                qualified(&self.physical_schema, &view.table)
            ));
        }
        out
    }

    /// The statements as planned, for `tandem plan`.
    pub fn render_planned(&self) -> Vec<String> {
        match &self.views {
            Some(views) => self.render(views),
            None => {
                let mut out = self.render(&[]);
                out.push(format!(
                    "-- then one view per table of {}, generated from the catalog after the raw SQL ran",
                    ident(&self.physical_schema)
                ));
                out
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Column, NewColumn, SyncColumn, Table};

    fn column(name: &str, physical: &str) -> Column {
        Column {
            name: name.into(),
            physical: physical.into(),
            ..Column::default()
        }
    }

    #[test]
    fn a_replacement_column_takes_the_privileges_of_the_column_it_replaces() {
        let schema = Schema {
            tables: vec![Table {
                name: "users".into(),
                physical: "users".into(),
                columns: vec![
                    column("id", "id"),
                    column("email", "_tandem_new_email"),
                    column("full_name", "name"),
                    column("age", "age"),
                ],
                sync: vec![
                    SyncColumn {
                        old_physical: Some("email".into()),
                        new_physical: Some("_tandem_new_email".into()),
                        new_column: Some(NewColumn::default()),
                        ..SyncColumn::default()
                    },
                    // A new column replaces nothing.
                    SyncColumn {
                        old_physical: None,
                        new_physical: Some("age".into()),
                        new_column: Some(NewColumn::default()),
                        ..SyncColumn::default()
                    },
                ],
                ..Table::default()
            }],
            ..Schema::default()
        };
        let views = views_of(&schema);
        let from: Vec<_> = views[0]
            .columns
            .iter()
            .map(|c| (c.name.as_str(), c.privileges_from.as_deref()))
            .collect();
        assert_eq!(
            from,
            [
                ("id", None),
                ("email", Some("email")),
                ("full_name", None),
                ("age", None)
            ]
        );
    }
}
