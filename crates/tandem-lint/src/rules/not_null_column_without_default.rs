//! A NOT NULL column without a default cannot be added to a table that has rows.

use crate::ast;
use crate::finding::Severity;
use crate::rule::{Hit, Rule};
use crate::state::StmtCx;
use pg_query::protobuf::ConstrType;
use tandem_core::locks::LockMode;

pub const RULE: Rule = Rule {
    id: "not-null-column-without-default",
    severity: Severity::Error,
    summary: "NOT NULL column added without a default",
    lock: Some(LockMode::AccessExclusive),
    rationale: "Existing rows would have NULL in the new column, so PostgreSQL rejects the \
statement on any table that has rows: the migration passes on an empty development database \
and fails in production. Old application code also cannot insert rows without the column.",
    help: "Add the column with a constant DEFAULT (instant since PostgreSQL 11), or add it \
nullable, backfill, and then make it NOT NULL with a validated CHECK. tandem's `add_column` \
with `up:` backfills it for you.",
    bad: "ALTER TABLE users ADD COLUMN plan text NOT NULL;",
    good: "ALTER TABLE users ADD COLUMN plan text NOT NULL DEFAULT 'free';",
    exempt_new_tables: true,
    check,
    finish: None,
};

fn check(cx: &StmtCx<'_>, out: &mut Vec<Hit>) {
    for (table, col) in ast::added_columns(cx.node) {
        let not_null = col.is_not_null
            || ast::has_column_constraint(col, ConstrType::ConstrNotnull)
            || ast::has_column_constraint(col, ConstrType::ConstrPrimary);
        let filled = ast::column_default(col).is_some()
            || ast::has_column_constraint(col, ConstrType::ConstrIdentity)
            || ast::has_column_constraint(col, ConstrType::ConstrGenerated)
            || col
                .type_name
                .as_ref()
                .is_some_and(|t| ast::TypeInfo::of(t).name.ends_with("serial"));
        if not_null && !filled {
            out.push(
                Hit::new(format!(
                    "`{table}.{}` is NOT NULL with no default: this fails on a table with rows",
                    col.colname
                ))
                .at(col.location),
            );
        }
    }
}
