//! Column types learned from the migrations linted so far, so that a later `ALTER COLUMN
//! TYPE` can be judged against the column's current type (most type changes rewrite the
//! table; a few are catalog-only, and which depends on the old type).

use crate::ast::{self, TypeInfo};
use pg_query::protobuf::{AlterTableType, ObjectType};
use pg_query::NodeEnum;
use std::collections::HashMap;

#[derive(Debug, Default, Clone)]
pub struct Schema {
    tables: HashMap<String, HashMap<String, TypeInfo>>,
    /// Index name → its table, for the indexes the linted files created (`DROP INDEX` does
    /// not name the table).
    indexes: HashMap<String, String>,
}

impl Schema {
    pub fn index_table(&self, index: &str) -> Option<&str> {
        self.indexes.get(index).map(String::as_str)
    }

    pub fn column_type(&self, table: &str, column: &str) -> Option<&TypeInfo> {
        self.tables.get(table)?.get(column)
    }

    /// Learns from one statement (after the rules have seen it).
    pub fn apply(&mut self, node: &NodeEnum) {
        match node {
            NodeEnum::CreateStmt(s) => {
                let cols = s
                    .table_elts
                    .iter()
                    .filter_map(|e| match &e.node {
                        Some(NodeEnum::ColumnDef(c)) => {
                            Some((c.colname.clone(), TypeInfo::of(c.type_name.as_ref()?)))
                        }
                        _ => None,
                    })
                    .collect();
                self.tables.insert(ast::rv_name(s.relation.as_ref()), cols);
            }
            NodeEnum::AlterTableStmt(_) => {
                let Some((s, table)) = ast::alter_table(node) else {
                    return;
                };
                let cols = self.tables.entry(table).or_default();
                for cmd in ast::alter_cmds(s) {
                    match cmd.subtype() {
                        AlterTableType::AtAddColumn => {
                            if let Some(c) = ast::cmd_column(cmd) {
                                if let Some(t) = &c.type_name {
                                    cols.insert(c.colname.clone(), TypeInfo::of(t));
                                }
                            }
                        }
                        AlterTableType::AtAlterColumnType => {
                            if let Some(t) = ast::cmd_column(cmd).and_then(|c| c.type_name.as_ref())
                            {
                                cols.insert(cmd.name.clone(), TypeInfo::of(t));
                            }
                        }
                        AlterTableType::AtDropColumn => {
                            cols.remove(&cmd.name);
                        }
                        _ => {}
                    }
                }
            }
            NodeEnum::RenameStmt(s) => {
                let table = ast::rv_name(s.relation.as_ref());
                match s.rename_type() {
                    ObjectType::ObjectColumn => {
                        if let Some(cols) = self.tables.get_mut(&table) {
                            if let Some(t) = cols.remove(&s.subname) {
                                cols.insert(s.newname.clone(), t);
                            }
                        }
                    }
                    ObjectType::ObjectTable => {
                        if let Some(cols) = self.tables.remove(&table) {
                            self.tables.insert(s.newname.clone(), cols);
                        }
                    }
                    _ => {}
                }
            }
            NodeEnum::IndexStmt(s) if !s.idxname.is_empty() => {
                self.indexes
                    .insert(s.idxname.clone(), ast::rv_name(s.relation.as_ref()));
            }
            NodeEnum::DropStmt(s) if s.remove_type() == ObjectType::ObjectIndex => {
                for i in ast::drop_objects(s) {
                    self.indexes.remove(&i);
                }
            }
            NodeEnum::DropStmt(s) if s.remove_type() == ObjectType::ObjectTable => {
                for t in ast::drop_objects(s) {
                    self.tables.remove(&t);
                }
            }
            _ => {}
        }
    }
}
