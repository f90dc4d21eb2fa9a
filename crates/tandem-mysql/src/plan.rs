//! From a migration to MySQL changes: every operation is checked against the live schema (as the
//! operations before it leave it) and becomes one change. Pure: no I/O.

use crate::catalog::{LiveColumn, LiveIndex, LiveSchema, LiveTable};
use crate::error::Error;
use crate::quote::{ident, ident_list, literal};
use tandem_core::operations::{ColumnDef, TableConstraintDef};
use tandem_core::{Migration, Operation};

/// How a change runs.
#[derive(Debug, Clone, PartialEq)]
pub enum ChangeKind {
    /// `ALTER TABLE table <clauses>`: INSTANT, else INPLACE with LOCK=NONE, else a shadow copy.
    Alter {
        table: String,
        clauses: String,
        /// Column renames (old name, new name): the shadow copy maps values across them.
        renames: Vec<(String, String)>,
    },
    /// A statement that changes no rows but takes a metadata lock (CREATE/DROP/RENAME TABLE).
    Statement { sql: String },
    /// The user's own statement (`sql` operation), run as one prepared statement.
    Raw { sql: String },
}

/// One operation of the migration, translated.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// Index of the operation in the file.
    pub index: usize,
    /// Where it is, for messages: `file:line (create_index)`.
    pub location: String,
    pub kind: ChangeKind,
}

impl Change {
    /// The statement as it would run without an ALGORITHM clause.
    pub fn sql(&self) -> String {
        match &self.kind {
            ChangeKind::Alter { table, clauses, .. } => {
                format!("ALTER TABLE {} {clauses}", ident(table))
            }
            ChangeKind::Statement { sql } | ChangeKind::Raw { sql } => sql.clone(),
        }
    }
}

/// Validates `migration` against `schema` and translates every operation. Nothing runs; the
/// first problem is an error naming the file, line and operation.
pub fn plan(migration: &Migration, live: &LiveSchema) -> Result<Vec<Change>, Error> {
    let mut schema = live.clone();
    let mut changes = Vec::new();
    for (index, op) in migration.operations.iter().enumerate() {
        let location = match migration.line_of(index).filter(|l| *l > 0) {
            Some(line) => format!("{}:{line} ({})", migration.file, op.kind()),
            None => format!(
                "{} (operation {} `{}`)",
                migration.file,
                index + 1,
                op.kind()
            ),
        };
        let invalid = |e: Invalid| Error::Invalid {
            location: location.clone(),
            message: e.message,
            help: e.help,
        };
        let kind = translate(op, &mut schema).map_err(invalid)?;
        changes.push(Change {
            index,
            location,
            kind,
        });
    }
    Ok(changes)
}

/// Why an operation does not fit.
#[derive(Debug)]
struct Invalid {
    message: String,
    help: String,
}

fn invalid(message: impl Into<String>, help: impl Into<String>) -> Invalid {
    Invalid {
        message: message.into(),
        help: help.into(),
    }
}

fn unsupported(what: &str, instead: &str) -> Invalid {
    invalid(
        format!("{what} is not supported on MySQL/MariaDB"),
        instead.to_string(),
    )
}

fn table<'a>(schema: &'a LiveSchema, name: &str) -> Result<&'a LiveTable, Invalid> {
    schema.table(name).ok_or_else(|| {
        let known = schema.table_names();
        invalid(
            format!(
                "table `{name}` does not exist in database `{}`",
                schema.database
            ),
            if known.is_empty() {
                "the database has no tables yet; create it with create_table first".to_string()
            } else {
                format!("the tables are: {}", known.join(", "))
            },
        )
    })
}

fn table_mut<'a>(schema: &'a mut LiveSchema, name: &str) -> Result<&'a mut LiveTable, Invalid> {
    table(schema, name)?;
    schema
        .tables
        .get_mut(name)
        .ok_or_else(|| invalid(format!("table `{name}` vanished"), "report this as a bug"))
}

fn column<'a>(t: &'a LiveTable, name: &str) -> Result<&'a LiveColumn, Invalid> {
    t.column(name).ok_or_else(|| {
        invalid(
            format!("column `{name}` does not exist in table `{}`", t.name),
            format!(
                "the columns of `{}` are: {}",
                t.name,
                t.column_names().join(", ")
            ),
        )
    })
}

fn check_new_name(what: &str, name: &str) -> Result<(), Invalid> {
    if name.is_empty() {
        return Err(invalid(
            format!("the {what} name is empty"),
            "give it a name",
        ));
    }
    if name.chars().count() > 64 {
        return Err(invalid(
            format!("the {what} name `{name}` is longer than MySQL's 64 characters"),
            "choose a shorter name",
        ));
    }
    if name.starts_with("_tandem") || name.ends_with("_tandem_new") || name.ends_with("_tandem_old")
    {
        return Err(invalid(
            format!("`{name}` looks like one of tandem's own tables"),
            "choose a name that does not start with `_tandem` or end in `_tandem_new`/`_tandem_old`",
        ));
    }
    Ok(())
}

fn no_text(field: &str, value: &Option<String>, op: &str) -> Result<(), Invalid> {
    if value.is_some() {
        return Err(invalid(
            format!("`{field}` of {op} is not supported on MySQL/MariaDB"),
            "MySQL converts the values itself when the type changes; remove the field, or use an `sql` operation",
        ));
    }
    Ok(())
}

fn translate(op: &Operation, schema: &mut LiveSchema) -> Result<ChangeKind, Invalid> {
    match op {
        Operation::CreateTable(c) => {
            check_new_name("table", &c.name)?;
            if schema.table(&c.name).is_some() || schema.views.contains(&c.name) {
                return Err(invalid(
                    format!("table `{}` already exists", c.name),
                    "choose another name, or drop the existing table first",
                ));
            }
            if c.columns.is_empty() {
                return Err(invalid("the table has no columns", "add at least one column"));
            }
            let mut parts = Vec::new();
            let mut live = LiveTable {
                name: c.name.clone(),
                columns: Vec::new(),
                primary_key: Vec::new(),
                indexes: Vec::new(),
                checks: Vec::new(),
                foreign_keys: Vec::new(),
                triggers: Vec::new(),
                engine: "InnoDB".into(),
            };
            for col in &c.columns {
                check_new_name("column", &col.name)?;
                if live.column(&col.name).is_some() {
                    return Err(invalid(
                        format!("column `{}` appears twice", col.name),
                        "give each column its own name",
                    ));
                }
                parts.push(column_definition(col)?);
                extra_column_clauses(&c.name, col, &mut parts, false)?;
                if col.pk {
                    live.primary_key.push(col.name.clone());
                }
                live.columns.push(live_column(col));
            }
            if !live.primary_key.is_empty() {
                parts.push(format!("PRIMARY KEY ({})", ident_list(&live.primary_key)));
            }
            for constraint in &c.constraints {
                parts.push(table_constraint(&live, constraint)?);
                if constraint.kind == "primary_key" {
                    live.primary_key = constraint.columns.clone();
                }
            }
            let mut sql = format!("CREATE TABLE {} ({})", ident(&c.name), parts.join(", "));
            if let Some(comment) = &c.comment {
                sql.push_str(&format!(" COMMENT={}", literal(comment)));
            }
            schema.tables.insert(c.name.clone(), live);
            Ok(ChangeKind::Statement { sql })
        }
        Operation::AddColumn(a) => {
            no_text("up", &a.up, "add_column")?;
            check_new_name("column", &a.column.name)?;
            let t = table(schema, &a.table)?;
            if t.column(&a.column.name).is_some() {
                return Err(invalid(
                    format!(
                        "column `{}` already exists in table `{}`",
                        a.column.name, a.table
                    ),
                    "choose another name, or use alter_column to change it",
                ));
            }
            if a.column.pk {
                return Err(unsupported(
                    "adding a primary key column",
                    "create the table with its primary key, or use an `sql` operation",
                ));
            }
            if !a.column.is_nullable() && a.column.default.is_none() && !t.columns.is_empty() {
                // MySQL fills existing rows with the type's implicit default (0, ''), silently.
                return Err(invalid(
                    format!(
                        "column `{}` is NOT NULL without a default: existing rows would get the type's implicit zero value",
                        a.column.name
                    ),
                    "give it a `default`, or make it `nullable: true`",
                ));
            }
            let mut clauses = vec![format!("ADD COLUMN {}", column_definition(&a.column)?)];
            extra_column_clauses(&a.table, &a.column, &mut clauses, true)?;
            let t = table_mut(schema, &a.table)?;
            t.columns.push(live_column(&a.column));
            Ok(ChangeKind::Alter {
                table: a.table.clone(),
                clauses: clauses.join(", "),
                renames: Vec::new(),
            })
        }
        Operation::DropColumn(d) => {
            let t = table(schema, &d.table)?;
            column(t, &d.column)?;
            if t.columns.len() == 1 {
                return Err(invalid(
                    format!("`{}` is the only column of `{}`", d.column, d.table),
                    "drop the table instead",
                ));
            }
            if t.primary_key.iter().any(|c| c.eq_ignore_ascii_case(&d.column)) {
                return Err(invalid(
                    format!("`{}` is part of the primary key of `{}`", d.column, d.table),
                    "the online copy walks the primary key; change the key with an `sql` operation first",
                ));
            }
            let t = table_mut(schema, &d.table)?;
            t.columns.retain(|c| !c.name.eq_ignore_ascii_case(&d.column));
            for index in &mut t.indexes {
                index.columns.retain(|c| !c.eq_ignore_ascii_case(&d.column));
            }
            t.indexes.retain(|i| !i.columns.is_empty());
            Ok(ChangeKind::Alter {
                table: d.table.clone(),
                clauses: format!("DROP COLUMN {}", ident(&d.column)),
                renames: Vec::new(),
            })
        }
        Operation::RenameColumn(r) => {
            check_new_name("column", &r.to)?;
            let t = table(schema, &r.table)?;
            let from = column(t, &r.from)?.name.clone();
            if t.column(&r.to).is_some() {
                return Err(invalid(
                    format!("column `{}` already exists in table `{}`", r.to, r.table),
                    "choose another name",
                ));
            }
            rename_live_column(table_mut(schema, &r.table)?, &from, &r.to);
            Ok(ChangeKind::Alter {
                table: r.table.clone(),
                clauses: format!("RENAME COLUMN {} TO {}", ident(&from), ident(&r.to)),
                renames: vec![(from, r.to.clone())],
            })
        }
        Operation::AlterColumn(a) => alter_column(a, schema),
        Operation::CreateIndex(c) => {
            check_new_name("index", &c.name)?;
            if c.predicate.is_some() {
                return Err(unsupported(
                    "a partial index (`predicate`)",
                    "MySQL has no partial indexes; index the whole column, or a generated column",
                ));
            }
            if c.storage_parameters.is_some() {
                return Err(unsupported("`storage_parameters`", "remove the field"));
            }
            let method = match c.method.as_deref().map(str::to_ascii_lowercase).as_deref() {
                None | Some("btree") => "",
                Some("hash") => " USING HASH",
                Some(other) => {
                    return Err(invalid(
                        format!("index method `{other}` does not exist on MySQL/MariaDB"),
                        "use btree (the default) or hash",
                    ))
                }
            };
            let t = table(schema, &c.table)?;
            if t.index(&c.name).is_some() {
                return Err(invalid(
                    format!("index `{}` already exists on `{}`", c.name, c.table),
                    "choose another name",
                ));
            }
            if c.columns.is_empty() {
                return Err(invalid("the index has no columns", "list at least one column"));
            }
            let mut parts = Vec::new();
            let mut names = Vec::new();
            for entry in &c.columns {
                // An index column is a name or `{column, sort, ...}` (untagged in the file).
                let entry = serde_json::to_value(entry).unwrap_or_default();
                let (name, sort) = match &entry {
                    serde_json::Value::String(n) => (n.clone(), None),
                    serde_json::Value::Object(d) => {
                        if ["opclass", "collate", "nulls"].iter().any(|k| d.contains_key(*k)) {
                            return Err(unsupported(
                                "`opclass`, `collate` or `nulls` on an index column",
                                "remove them; MySQL indexes columns with their own collation",
                            ));
                        }
                        (
                            d.get("column").and_then(|v| v.as_str()).unwrap_or_default().to_string(),
                            d.get("sort").and_then(|v| v.as_str()).map(str::to_string),
                        )
                    }
                    _ => (String::new(), None),
                };
                let col = column(t, &name)?;
                let sort = match sort.as_deref().map(str::to_ascii_uppercase).as_deref() {
                    None => String::new(),
                    Some("ASC") => " ASC".into(),
                    Some("DESC") => " DESC".into(),
                    Some(other) => {
                        return Err(invalid(
                            format!("`sort: {other}` is not ASC or DESC"),
                            "use ASC or DESC",
                        ))
                    }
                };
                parts.push(format!("{}{sort}", ident(&col.name)));
                names.push(col.name.clone());
            }
            let unique = c.unique.unwrap_or(false);
            let t = table_mut(schema, &c.table)?;
            t.indexes.push(LiveIndex {
                name: c.name.clone(),
                columns: names,
                unique,
            });
            Ok(ChangeKind::Alter {
                table: c.table.clone(),
                clauses: format!(
                    "ADD {}INDEX {} ({}){method}",
                    if unique { "UNIQUE " } else { "" },
                    ident(&c.name),
                    parts.join(", ")
                ),
                renames: Vec::new(),
            })
        }
        Operation::DropIndex(d) => {
            let owner = schema
                .tables
                .values()
                .find(|t| t.index(&d.name).is_some())
                .map(|t| t.name.clone())
                .ok_or_else(|| {
                    invalid(
                        format!("no table of `{}` has an index `{}`", schema.database, d.name),
                        "check the name with SHOW INDEX FROM <table>",
                    )
                })?;
            let t = table_mut(schema, &owner)?;
            t.indexes.retain(|i| !i.name.eq_ignore_ascii_case(&d.name));
            Ok(ChangeKind::Alter {
                table: owner,
                clauses: format!("DROP INDEX {}", ident(&d.name)),
                renames: Vec::new(),
            })
        }
        Operation::CreateConstraint(c) => {
            check_new_name("constraint", &c.name)?;
            if !c.up.is_empty() || !c.down.is_empty() {
                return Err(unsupported(
                    "`up`/`down` on create_constraint",
                    "fix the data first (an `sql` operation), then add the constraint",
                ));
            }
            let t = table(schema, &c.table)?;
            if t.index(&c.name).is_some() || t.checks.iter().any(|n| n == &c.name) {
                return Err(invalid(
                    format!("constraint `{}` already exists on `{}`", c.name, c.table),
                    "choose another name",
                ));
            }
            let def = TableConstraintDef {
                name: c.name.clone(),
                kind: c.kind.clone(),
                columns: c.columns.clone(),
                check: c.check.clone(),
                references: c.references.clone(),
                deferrable: false,
                initially_deferred: false,
                no_inherit: c.no_inherit,
                nulls_not_distinct: c.nulls_not_distinct,
                index_parameters: None,
                exclude: None,
            };
            let clause = table_constraint(t, &def)?;
            let t = table_mut(schema, &c.table)?;
            match c.kind.as_str() {
                "unique" => t.indexes.push(LiveIndex {
                    name: c.name.clone(),
                    columns: c.columns.clone(),
                    unique: true,
                }),
                "check" => t.checks.push(c.name.clone()),
                _ => t.foreign_keys.push(c.name.clone()),
            }
            Ok(ChangeKind::Alter {
                table: c.table.clone(),
                clauses: format!("ADD {clause}"),
                renames: Vec::new(),
            })
        }
        Operation::RenameTable(r) => {
            check_new_name("table", &r.to)?;
            table(schema, &r.from)?;
            if schema.table(&r.to).is_some() || schema.views.contains(&r.to) {
                return Err(invalid(
                    format!("table `{}` already exists", r.to),
                    "choose another name",
                ));
            }
            let mut t = schema.tables.remove(&r.from).ok_or_else(|| {
                invalid(format!("table `{}` vanished", r.from), "report this as a bug")
            })?;
            t.name = r.to.clone();
            schema.tables.insert(r.to.clone(), t);
            Ok(ChangeKind::Statement {
                sql: format!("RENAME TABLE {} TO {}", ident(&r.from), ident(&r.to)),
            })
        }
        Operation::DropTable(d) => {
            table(schema, &d.name)?;
            schema.tables.remove(&d.name);
            Ok(ChangeKind::Statement {
                sql: format!("DROP TABLE {}", ident(&d.name)),
            })
        }
        Operation::Sql(s) => {
            if s.up.trim().is_empty() {
                return Err(invalid("the `sql` operation's `up` is empty", "write one statement"));
            }
            Ok(ChangeKind::Raw { sql: s.up.clone() })
        }
        Operation::DropConstraint(_)
        | Operation::DropMulticolumnConstraint(_)
        | Operation::RenameConstraint(_)
        | Operation::SetReplicaIdentity(_) => Err(unsupported(
            &format!("`{}`", op.kind()),
            "use drop_index for a unique constraint, or an `sql` operation (ALTER TABLE ... DROP CONSTRAINT ...)",
        )),
    }
}

fn alter_column(
    a: &tandem_core::operations::AlterColumn,
    schema: &mut LiveSchema,
) -> Result<ChangeKind, Invalid> {
    no_text("up", &a.up, "alter_column")?;
    no_text("down", &a.down, "alter_column")?;
    if a.check.is_some() || a.unique.is_some() || a.references.is_some() {
        return Err(unsupported(
            "`check`, `unique` or `references` on alter_column",
            "use create_constraint (unique, check) or create_index instead",
        ));
    }
    let t = table(schema, &a.table)?;
    let current = column(t, &a.column)?.clone();
    if current.generation.is_some() {
        return Err(unsupported(
            "changing a generated column",
            "drop it and add it again",
        ));
    }
    if let Some(name) = &a.name {
        check_new_name("column", name)?;
        if !name.eq_ignore_ascii_case(&current.name) && t.column(name).is_some() {
            return Err(invalid(
                format!("column `{name}` already exists in table `{}`", a.table),
                "choose another name",
            ));
        }
    }
    let definition_changes = a.data_type.is_some() || a.nullable.is_some() || a.comment.is_some();
    if a.name.is_none() && !definition_changes && a.default.is_none() {
        return Err(invalid(
            "alter_column changes nothing",
            "give at least one of: name, type, nullable, default, comment",
        ));
    }
    let mut new = current.clone();
    if let Some(ty) = &a.data_type {
        if ty.trim().is_empty() {
            return Err(invalid("`type` is empty", "give the new type, e.g. bigint"));
        }
        new.column_type = ty.trim().to_string();
        // A new type takes its own character set and collation.
        new.collation = None;
    }
    if let Some(n) = a.nullable {
        if !n && t.primary_key.iter().any(|c| c == &current.name) {
            // Primary key columns are NOT NULL already; nothing to do.
        }
        new.nullable = n;
    }
    if let Some(d) = &a.default {
        new.default = d.clone();
    }
    if let Some(c) = &a.comment {
        new.comment = c.clone().unwrap_or_default();
    }
    let new_name = a.name.clone().unwrap_or_else(|| current.name.clone());
    new.name = new_name.clone();
    let renamed = new_name != current.name;

    let clauses = if !definition_changes && a.default.is_none() {
        format!(
            "RENAME COLUMN {} TO {}",
            ident(&current.name),
            ident(&new_name)
        )
    } else if !definition_changes && !renamed {
        match &new.default {
            Some(d) => format!("ALTER COLUMN {} SET DEFAULT {d}", ident(&current.name)),
            None => format!("ALTER COLUMN {} DROP DEFAULT", ident(&current.name)),
        }
    } else {
        format!(
            "CHANGE COLUMN {} {}",
            ident(&current.name),
            live_definition(&new)
        )
    };
    let t = table_mut(schema, &a.table)?;
    if let Some(c) = t.columns.iter_mut().find(|c| c.name == current.name) {
        *c = new;
    }
    if renamed {
        rename_live_column(t, &current.name, &new_name);
    }
    Ok(ChangeKind::Alter {
        table: a.table.clone(),
        clauses,
        renames: if renamed {
            vec![(current.name, new_name)]
        } else {
            Vec::new()
        },
    })
}

fn rename_live_column(t: &mut LiveTable, from: &str, to: &str) {
    for c in &mut t.columns {
        if c.name == from {
            c.name = to.to_string();
        }
    }
    for key in t
        .primary_key
        .iter_mut()
        .chain(t.indexes.iter_mut().flat_map(|i| i.columns.iter_mut()))
    {
        if key == from {
            *key = to.to_string();
        }
    }
}

/// A live column's full definition, for CHANGE COLUMN: everything the column had that the
/// operation did not change is written again (MySQL forgets what MODIFY does not repeat).
fn live_definition(c: &LiveColumn) -> String {
    let mut out = format!("{} {}", ident(&c.name), c.column_type);
    if let Some(collation) = &c.collation {
        out.push_str(&format!(" COLLATE {collation}"));
    }
    out.push_str(if c.nullable { " NULL" } else { " NOT NULL" });
    if let Some(d) = &c.default {
        out.push_str(&format!(" DEFAULT {d}"));
    }
    let extra = c.extra.to_ascii_lowercase();
    if extra.contains("auto_increment") {
        out.push_str(" AUTO_INCREMENT");
    }
    if let Some(i) = extra.find("on update ") {
        let clause: String = c.extra[i..]
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ");
        out.push_str(&format!(" {clause}"));
    }
    if !c.comment.is_empty() {
        out.push_str(&format!(" COMMENT {}", literal(&c.comment)));
    }
    out
}

fn live_column(col: &ColumnDef) -> LiveColumn {
    LiveColumn {
        name: col.name.clone(),
        column_type: col.data_type.trim().to_string(),
        nullable: col.is_nullable(),
        default: col.default.clone(),
        extra: String::new(),
        comment: col.comment.clone().unwrap_or_default(),
        collation: None,
        generation: col.generated.as_ref().and_then(|g| g.expression.clone()),
    }
}

/// A column of create_table or add_column.
fn column_definition(col: &ColumnDef) -> Result<String, Invalid> {
    if col.data_type.trim().is_empty() {
        return Err(invalid(
            format!("column `{}` has no type", col.name),
            "give it a `type`, e.g. int or varchar(255)",
        ));
    }
    let mut out = format!("{} {}", ident(&col.name), col.data_type.trim());
    let mut auto_increment = false;
    if let Some(generated) = &col.generated {
        match (&generated.expression, &generated.identity) {
            (Some(expr), None) => out.push_str(&format!(" GENERATED ALWAYS AS ({expr}) STORED")),
            (None, Some(_)) => auto_increment = true,
            _ => {
                return Err(invalid(
                    format!(
                        "column `{}`: `generated` needs exactly one of `expression` or `identity`",
                        col.name
                    ),
                    "write `generated: {expression: ...}` or `generated: {identity: {}}` (AUTO_INCREMENT)",
                ))
            }
        }
    }
    out.push_str(if col.is_nullable() {
        " NULL"
    } else {
        " NOT NULL"
    });
    if let Some(d) = &col.default {
        out.push_str(&format!(" DEFAULT {d}"));
    }
    if auto_increment {
        out.push_str(" AUTO_INCREMENT");
    }
    if let Some(comment) = &col.comment {
        out.push_str(&format!(" COMMENT {}", literal(comment)));
    }
    Ok(out)
}

/// UNIQUE, CHECK and REFERENCES of a column, as separate clauses (`ADD ...` when `add`).
fn extra_column_clauses(
    table: &str,
    col: &ColumnDef,
    out: &mut Vec<String>,
    add: bool,
) -> Result<(), Invalid> {
    let prefix = if add { "ADD " } else { "" };
    if col.unique {
        let name = format!("{table}_{}_key", col.name);
        out.push(format!(
            "{prefix}CONSTRAINT {} UNIQUE ({})",
            ident(&name),
            ident(&col.name)
        ));
    }
    if let Some(check) = &col.check {
        check_new_name("constraint", &check.name)?;
        out.push(format!(
            "{prefix}CONSTRAINT {} CHECK ({})",
            ident(&check.name),
            check.constraint
        ));
    }
    if let Some(fk) = &col.references {
        out.push(format!(
            "{prefix}CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({}){}",
            ident(&fk.name),
            ident(&col.name),
            ident(&fk.table),
            ident(&fk.column),
            referential_actions(&fk.on_delete, &fk.on_update)?
        ));
    }
    Ok(())
}

fn referential_actions(
    on_delete: &Option<String>,
    on_update: &Option<String>,
) -> Result<String, Invalid> {
    let mut out = String::new();
    for (what, value) in [("ON DELETE", on_delete), ("ON UPDATE", on_update)] {
        if let Some(v) = value {
            let upper = v.trim().to_ascii_uppercase();
            if ![
                "NO ACTION",
                "RESTRICT",
                "CASCADE",
                "SET NULL",
                "SET DEFAULT",
            ]
            .contains(&upper.as_str())
            {
                return Err(invalid(
                    format!("`{v}` is not a referential action"),
                    "use NO ACTION, RESTRICT, CASCADE, SET NULL or SET DEFAULT",
                ));
            }
            out.push_str(&format!(" {what} {upper}"));
        }
    }
    Ok(out)
}

/// A table constraint (create_table's `constraints`, create_constraint).
fn table_constraint(t: &LiveTable, c: &TableConstraintDef) -> Result<String, Invalid> {
    check_new_name("constraint", &c.name)?;
    if c.deferrable || c.initially_deferred || c.nulls_not_distinct || c.exclude.is_some() {
        return Err(unsupported(
            "`deferrable`, `nulls_not_distinct` or `exclude`",
            "remove them; MySQL checks constraints immediately",
        ));
    }
    for col in &c.columns {
        column(t, col)?;
    }
    let name = ident(&c.name);
    match c.kind.as_str() {
        "unique" | "primary_key" => {
            if c.columns.is_empty() {
                return Err(invalid(
                    "the constraint has no columns",
                    "list its `columns`",
                ));
            }
            if c.kind == "unique" {
                Ok(format!(
                    "CONSTRAINT {name} UNIQUE ({})",
                    ident_list(&c.columns)
                ))
            } else {
                Ok(format!("PRIMARY KEY ({})", ident_list(&c.columns)))
            }
        }
        "check" => {
            let check = c
                .check
                .as_deref()
                .filter(|s| !s.trim().is_empty())
                .ok_or_else(|| {
                    invalid(
                        "a check constraint needs `check`",
                        "write the condition, e.g. `check: price > 0`",
                    )
                })?;
            Ok(format!("CONSTRAINT {name} CHECK ({check})"))
        }
        "foreign_key" => {
            let r = c.references.as_ref().ok_or_else(|| {
                invalid(
                    "a foreign_key constraint needs `references`",
                    "write `references: {table: ..., columns: [...]}`",
                )
            })?;
            Ok(format!(
                "CONSTRAINT {name} FOREIGN KEY ({}) REFERENCES {} ({}){}",
                ident_list(&c.columns),
                ident(&r.table),
                ident_list(&r.columns),
                referential_actions(&r.on_delete, &r.on_update)?
            ))
        }
        other => Err(invalid(
            format!("constraint type `{other}` is not supported on MySQL/MariaDB"),
            "use unique, check, primary_key or foreign_key",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> LiveSchema {
        let col = |name: &str, ty: &str| LiveColumn {
            name: name.into(),
            column_type: ty.into(),
            nullable: false,
            default: None,
            extra: String::new(),
            comment: String::new(),
            collation: None,
            generation: None,
        };
        let mut s = LiveSchema {
            database: "app".into(),
            ..LiveSchema::default()
        };
        s.tables.insert(
            "users".into(),
            LiveTable {
                name: "users".into(),
                columns: vec![col("id", "int(11)"), col("name", "varchar(20)")],
                primary_key: vec!["id".into()],
                indexes: vec![],
                checks: vec![],
                foreign_keys: vec![],
                triggers: vec![],
                engine: "InnoDB".into(),
            },
        );
        s
    }

    fn migration(yaml: &str) -> Migration {
        Migration::parse("m", "m.yaml", yaml, false).unwrap()
    }

    #[test]
    fn translates_operations_in_order() {
        let m = migration(
            "operations:\n  - rename_column: {table: users, from: name, to: full_name}\n  - alter_column: {table: users, column: id, type: bigint}\n  - create_index: {name: users_full_name, table: users, columns: [full_name]}\n",
        );
        let changes = plan(&m, &schema()).unwrap();
        assert_eq!(
            changes[0].sql(),
            "ALTER TABLE `users` RENAME COLUMN `name` TO `full_name`"
        );
        assert_eq!(
            changes[1].sql(),
            "ALTER TABLE `users` CHANGE COLUMN `id` `id` bigint NOT NULL"
        );
        assert_eq!(
            changes[2].sql(),
            "ALTER TABLE `users` ADD INDEX `users_full_name` (`full_name`)"
        );
    }

    #[test]
    fn errors_name_the_file_line_and_operation() {
        let m = migration("operations:\n  - drop_column: {table: users, column: nope}\n");
        let error = plan(&m, &schema()).unwrap_err().to_string();
        assert!(
            error.starts_with("m.yaml:2 (drop_column): column `nope` does not exist"),
            "{error}"
        );
        assert!(error.contains("id, name"), "{error}");
    }

    #[test]
    fn a_later_operation_sees_the_earlier_ones() {
        let m = migration(
            "operations:\n  - rename_table: {from: users, to: people}\n  - add_column: {table: users, column: {name: x, type: int, nullable: true}}\n",
        );
        let error = plan(&m, &schema()).unwrap_err().to_string();
        assert!(error.contains("table `users` does not exist"), "{error}");
    }

    #[test]
    fn refuses_not_null_without_default() {
        let m = migration(
            "operations:\n  - add_column: {table: users, column: {name: x, type: int}}\n",
        );
        assert!(plan(&m, &schema()).is_err());
    }
}
