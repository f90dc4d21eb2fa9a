//! Renaming a column breaks every running query that uses the old name.

use crate::finding::Severity;
use crate::rule::{Hit, Rule};
use crate::state::StmtCx;
use pg_query::protobuf::ObjectType;
use pg_query::NodeEnum;
use tandem_core::locks::LockMode;

pub const RULE: Rule = Rule {
    id: "rename-column",
    severity: Severity::Error,
    summary: "column renamed in place",
    lock: Some(LockMode::AccessExclusive),
    rationale: "The rename is instant, but the application version still running during the \
deploy keeps using the old name and fails until every instance runs the new code.",
    help: "Use tandem's `rename_column` operation: both names work while old and new \
application versions run side by side.",
    bad: "ALTER TABLE users RENAME COLUMN name TO full_name;",
    good: "ALTER TABLE users ADD COLUMN full_name text;",
    exempt_new_tables: true,
    check,
    finish: None,
};

fn check(cx: &StmtCx<'_>, out: &mut Vec<Hit>) {
    let NodeEnum::RenameStmt(s) = cx.node else {
        return;
    };
    if s.rename_type() != ObjectType::ObjectColumn {
        return;
    }
    let table = crate::ast::rv_name(s.relation.as_ref());
    out.push(
        Hit::new(format!(
            "renaming `{table}.{}` to `{}` breaks the application code still using the old name",
            s.subname, s.newname
        ))
        .help(format!(
            "tandem operation:\n  - rename_column:\n      table: {table}\n      from: {}\n      to: {}",
            s.subname, s.newname
        )),
    );
}
