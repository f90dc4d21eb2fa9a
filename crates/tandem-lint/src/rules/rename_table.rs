//! Renaming a table breaks every running query that uses the old name.

use crate::finding::Severity;
use crate::rule::{Hit, Rule};
use crate::state::StmtCx;
use pg_query::protobuf::ObjectType;
use pg_query::NodeEnum;
use tandem_core::locks::LockMode;

pub const RULE: Rule = Rule {
    id: "rename-table",
    severity: Severity::Error,
    summary: "table renamed in place",
    lock: Some(LockMode::AccessExclusive),
    rationale: "The rename is instant, but the application version still running during the \
deploy keeps querying the old name and fails.",
    help: "Use tandem's `rename_table` operation: both names work while old and new \
application versions run side by side.",
    bad: "ALTER TABLE customers RENAME TO clients;",
    good: "CREATE VIEW clients AS SELECT * FROM customers;",
    exempt_new_tables: true,
    check,
    finish: None,
};

fn check(cx: &StmtCx<'_>, out: &mut Vec<Hit>) {
    let NodeEnum::RenameStmt(s) = cx.node else {
        return;
    };
    if s.rename_type() != ObjectType::ObjectTable {
        return;
    }
    let table = crate::ast::rv_name(s.relation.as_ref());
    out.push(
        Hit::new(format!(
            "renaming `{table}` to `{}` breaks the application code still using the old name",
            s.newname
        ))
        .help(format!(
            "tandem operation:\n  - rename_table:\n      from: {table}\n      to: {}",
            s.newname
        )),
    );
}
