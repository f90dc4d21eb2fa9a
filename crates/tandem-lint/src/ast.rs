//! Small accessors over pg_query's protobuf tree, so rules read like the SQL they check.

use pg_query::protobuf::{
    a_const, AlterTableCmd, AlterTableStmt, ColumnDef, ConstrType, Constraint, DropStmt, Node,
    RangeVar, TypeName,
};
use pg_query::NodeEnum;

/// The table a `RangeVar` names (without schema: migrations rarely mix schemas, and a
/// schema-qualified and an unqualified reference to one table must match).
pub fn rv_name(rv: Option<&RangeVar>) -> String {
    rv.map(|r| r.relname.clone()).unwrap_or_default()
}

/// The string values of a list of `String` nodes (qualified names, option lists).
pub fn strings(nodes: &[Node]) -> Vec<&str> {
    nodes
        .iter()
        .filter_map(|n| match &n.node {
            Some(NodeEnum::String(s)) => Some(s.sval.as_str()),
            _ => None,
        })
        .collect()
}

/// The last part of each object of a `DROP` (the unqualified name).
pub fn drop_objects(s: &DropStmt) -> Vec<String> {
    s.objects
        .iter()
        .filter_map(|o| match &o.node {
            Some(NodeEnum::List(l)) => strings(&l.items).last().map(|s| s.to_string()),
            Some(NodeEnum::String(s)) => Some(s.sval.clone()),
            _ => None,
        })
        .collect()
}

/// Whether a `DefElem` list (`VACUUM (FULL)`, `REINDEX (CONCURRENTLY)`) holds an option
/// that is on.
pub fn has_option(options: &[Node], name: &str) -> bool {
    options.iter().any(|o| match &o.node {
        Some(NodeEnum::DefElem(d)) if d.defname.eq_ignore_ascii_case(name) => {
            match d.arg.as_ref().and_then(|a| a.node.as_ref()) {
                Some(NodeEnum::Boolean(b)) => b.boolval,
                Some(NodeEnum::Integer(i)) => i.ival != 0,
                Some(NodeEnum::String(s)) => !matches!(s.sval.as_str(), "false" | "off" | "0"),
                _ => true,
            }
        }
        _ => false,
    })
}

pub fn alter_cmds(s: &AlterTableStmt) -> impl Iterator<Item = &AlterTableCmd> {
    s.cmds.iter().filter_map(|c| match &c.node {
        Some(NodeEnum::AlterTableCmd(cmd)) => Some(cmd.as_ref()),
        _ => None,
    })
}

/// The `ALTER TABLE` sub-commands of a statement with the table they alter, if it is one.
pub fn alter_table(node: &NodeEnum) -> Option<(&AlterTableStmt, String)> {
    match node {
        NodeEnum::AlterTableStmt(s)
            if s.objtype() == pg_query::protobuf::ObjectType::ObjectTable =>
        {
            Some((s, rv_name(s.relation.as_ref())))
        }
        _ => None,
    }
}

pub fn cmd_constraint(cmd: &AlterTableCmd) -> Option<&Constraint> {
    match cmd.def.as_ref().and_then(|d| d.node.as_ref()) {
        Some(NodeEnum::Constraint(c)) => Some(c),
        _ => None,
    }
}

pub fn cmd_column(cmd: &AlterTableCmd) -> Option<&ColumnDef> {
    match cmd.def.as_ref().and_then(|d| d.node.as_ref()) {
        Some(NodeEnum::ColumnDef(c)) => Some(c),
        _ => None,
    }
}

pub fn column_constraints(col: &ColumnDef) -> impl Iterator<Item = &Constraint> {
    col.constraints.iter().filter_map(|c| match &c.node {
        Some(NodeEnum::Constraint(c)) => Some(c.as_ref()),
        _ => None,
    })
}

pub fn has_column_constraint(col: &ColumnDef, kind: ConstrType) -> bool {
    column_constraints(col).any(|c| c.contype() == kind)
}

/// The column's default expression, from `DEFAULT` in its constraints.
pub fn column_default(col: &ColumnDef) -> Option<&Node> {
    col.raw_default.as_deref().or_else(|| {
        column_constraints(col)
            .find(|c| c.contype() == ConstrType::ConstrDefault)
            .and_then(|c| c.raw_expr.as_deref())
    })
}

/// A column type reduced to what the rules compare: the type's base name as PostgreSQL
/// spells it internally (`int4`, `varchar`, `timestamptz`, ...) and its modifiers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeInfo {
    pub name: String,
    pub mods: Vec<i64>,
    pub array: bool,
}

impl TypeInfo {
    pub fn of(t: &TypeName) -> Self {
        let names = strings(&t.names);
        let name = names.last().map(|s| canonical_type(s)).unwrap_or_default();
        let mods = t
            .typmods
            .iter()
            .filter_map(|m| match &m.node {
                Some(NodeEnum::AConst(c)) => match &c.val {
                    Some(a_const::Val::Ival(i)) => Some(i64::from(i.ival)),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        TypeInfo {
            name,
            mods,
            array: !t.array_bounds.is_empty(),
        }
    }

    /// How a user would write it, for messages.
    pub fn display(&self) -> String {
        let mut s = match self.name.as_str() {
            "int2" => "smallint".to_string(),
            "int4" => "integer".to_string(),
            "int8" => "bigint".to_string(),
            "bpchar" => "char".to_string(),
            other => other.to_string(),
        };
        if !self.mods.is_empty() {
            let mods: Vec<String> = self.mods.iter().map(i64::to_string).collect();
            s = format!("{s}({})", mods.join(","));
        }
        if self.name == "timestamp" {
            s.push_str(" without time zone");
        }
        if self.array {
            s.push_str("[]");
        }
        s
    }
}

/// Aliases the grammar does not already fold (`int4` and `integer` arrive the same, but
/// `timestamptz` and `serial` arrive as written).
fn canonical_type(name: &str) -> String {
    match name {
        "int" | "integer" => "int4",
        "smallint" => "int2",
        "bigint" => "int8",
        "character varying" => "varchar",
        "character" | "char" => "bpchar",
        "serial4" => "serial",
        "serial8" => "bigserial",
        "serial2" => "smallserial",
        other => other,
    }
    .to_string()
}

/// An expression as SQL text, by deparsing it inside `SELECT`; the library deparses whole
/// statements only. The `SELECT` comes from the parser so that every field has the value
/// the deparser expects.
pub fn expr_sql(expr: &Node) -> Option<String> {
    let template = pg_query::parse("SELECT NULL", 0).ok()?;
    let mut node = template.protobuf.stmts.into_iter().next()?.stmt?.node?;
    let NodeEnum::SelectStmt(select) = &mut node else {
        return None;
    };
    let NodeEnum::ResTarget(target) = select.target_list.first_mut()?.node.as_mut()? else {
        return None;
    };
    target.val = Some(Box::new(expr.clone()));
    let sql = node.deparse(Default::default()).ok()?;
    sql.strip_prefix("SELECT ").map(str::to_string)
}

/// A statement back to SQL (for help texts that show the rewritten statement).
pub fn stmt_sql(node: &NodeEnum) -> Option<String> {
    node.deparse(Default::default()).ok()
}

/// Column names referenced anywhere in an expression.
pub fn column_refs(expr: &Node) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if let Some(n) = &expr.node {
        for (r, _, _, _) in n.nodes() {
            if let pg_query::NodeRef::ColumnRef(c) = r {
                if let Some(name) = strings(&c.fields).last() {
                    if !out.iter().any(|o| o == name) {
                        out.push(name.to_string());
                    }
                }
            }
        }
    }
    out
}

/// Whether `expr` is exactly `<column> IS NOT NULL`, returning the column.
pub fn is_not_null_check(expr: &Node) -> Option<String> {
    match &expr.node {
        Some(NodeEnum::NullTest(t))
            if t.nulltesttype() == pg_query::protobuf::NullTestType::IsNotNull =>
        {
            match t.arg.as_ref().and_then(|a| a.node.as_ref()) {
                Some(NodeEnum::ColumnRef(c)) => strings(&c.fields).last().map(|s| s.to_string()),
                _ => None,
            }
        }
        _ => None,
    }
}

/// A column whose type a statement declares (CREATE TABLE, ADD COLUMN, ALTER COLUMN TYPE).
pub struct Declared<'a> {
    pub column: &'a str,
    pub ty: &'a TypeName,
    /// A primary key, a foreign key, or named like one (`id`, `*_id`).
    pub is_key: bool,
    pub location: i32,
}

pub fn declared_columns(node: &NodeEnum) -> Vec<Declared<'_>> {
    let mut out = Vec::new();
    // snake_case (Rails, Django) and camelCase (Prisma) key names.
    let key_named = |n: &str| n == "id" || n.ends_with("_id") || n.ends_with("Id");
    let col_is_key = |c: &ColumnDef| {
        column_constraints(c).any(|k| {
            matches!(
                k.contype(),
                ConstrType::ConstrPrimary | ConstrType::ConstrForeign
            )
        })
    };
    match node {
        NodeEnum::CreateStmt(s) => {
            let mut table_keys: Vec<&str> = Vec::new();
            for e in &s.table_elts {
                if let Some(NodeEnum::Constraint(c)) = &e.node {
                    if matches!(
                        c.contype(),
                        ConstrType::ConstrPrimary | ConstrType::ConstrForeign
                    ) {
                        table_keys.extend(strings(&c.keys));
                        table_keys.extend(strings(&c.fk_attrs));
                    }
                }
            }
            for e in &s.table_elts {
                if let Some(NodeEnum::ColumnDef(c)) = &e.node {
                    if let Some(ty) = &c.type_name {
                        out.push(Declared {
                            column: &c.colname,
                            ty,
                            is_key: col_is_key(c)
                                || key_named(&c.colname)
                                || table_keys.contains(&c.colname.as_str()),
                            location: c.location,
                        });
                    }
                }
            }
        }
        NodeEnum::AlterTableStmt(s) => {
            for cmd in alter_cmds(s) {
                let Some(c) = cmd_column(cmd) else { continue };
                let Some(ty) = &c.type_name else { continue };
                let column = if c.colname.is_empty() {
                    &cmd.name
                } else {
                    &c.colname
                };
                out.push(Declared {
                    column,
                    ty,
                    is_key: col_is_key(c) || key_named(column),
                    location: if c.location >= 0 {
                        c.location
                    } else {
                        ty.location
                    },
                });
            }
        }
        _ => {}
    }
    out
}

/// The `ADD COLUMN` sub-commands of an `ALTER TABLE`, with the table.
pub fn added_columns(node: &NodeEnum) -> Vec<(String, &ColumnDef)> {
    let Some((s, table)) = alter_table(node) else {
        return Vec::new();
    };
    alter_cmds(s)
        .filter(|c| c.subtype() == pg_query::protobuf::AlterTableType::AtAddColumn)
        .filter_map(|c| cmd_column(c).map(|col| (table.clone(), col)))
        .collect()
}

/// The constraints added by `ALTER TABLE ... ADD CONSTRAINT`, with the table.
pub fn added_constraints(node: &NodeEnum) -> Vec<(String, &Constraint)> {
    let Some((s, table)) = alter_table(node) else {
        return Vec::new();
    };
    alter_cmds(s)
        .filter(|c| c.subtype() == pg_query::protobuf::AlterTableType::AtAddConstraint)
        .filter_map(|c| cmd_constraint(c).map(|k| (table.clone(), k)))
        .collect()
}

/// The sub-commands of an `ALTER TABLE` of one kind, with the table.
pub fn alter_cmds_of(
    node: &NodeEnum,
    kind: pg_query::protobuf::AlterTableType,
) -> Vec<(String, &AlterTableCmd)> {
    let Some((s, table)) = alter_table(node) else {
        return Vec::new();
    };
    alter_cmds(s)
        .filter(|c| c.subtype() == kind)
        .map(|c| (table.clone(), c))
        .collect()
}
