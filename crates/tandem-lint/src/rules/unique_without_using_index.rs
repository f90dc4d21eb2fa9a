//! `ADD UNIQUE` / `ADD PRIMARY KEY` builds the index under ACCESS EXCLUSIVE.

use crate::ast;
use crate::finding::Severity;
use crate::rule::{Hit, Rule};
use crate::state::StmtCx;
use pg_query::protobuf::ConstrType;
use tandem_core::locks::LockMode;

pub const RULE: Rule = Rule {
    id: "unique-without-using-index",
    severity: Severity::Error,
    summary: "UNIQUE or PRIMARY KEY constraint that builds its index under lock",
    lock: Some(LockMode::AccessExclusive),
    rationale: "ADD CONSTRAINT ... UNIQUE / PRIMARY KEY builds a new index while holding ACCESS \
EXCLUSIVE on the table: nothing can read or write it until the build ends.",
    help: "Build a unique index CONCURRENTLY first, then attach it: ALTER TABLE ... ADD \
CONSTRAINT ... UNIQUE USING INDEX ... (instant). tandem's `create_constraint` with `type: \
unique` does this.",
    bad: "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);",
    good: "CREATE UNIQUE INDEX CONCURRENTLY users_email_key ON users (email);\nALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_key;",
    exempt_new_tables: true,
    check,
    finish: None,
};

fn check(cx: &StmtCx<'_>, out: &mut Vec<Hit>) {
    let mut flag = |table: &str, c: &pg_query::protobuf::Constraint, what: &str| {
        let name = if c.conname.is_empty() {
            format!("{table}_key")
        } else {
            c.conname.clone()
        };
        let cols = ast::strings(&c.keys).join(", ");
        out.push(
            Hit::new(format!(
                "adding {what} builds its index while holding ACCESS EXCLUSIVE on `{table}`"
            ))
            .at(c.location)
            .help(format!(
                "Run instead:\n  CREATE UNIQUE INDEX CONCURRENTLY {name} ON {table} ({cols});\n  ALTER TABLE {table} ADD CONSTRAINT {name} {what} USING INDEX {name};"
            )),
        );
    };
    for (table, c) in ast::added_constraints(cx.node) {
        if !c.indexname.is_empty() {
            continue;
        }
        match c.contype() {
            ConstrType::ConstrUnique => flag(&table, c, "UNIQUE"),
            ConstrType::ConstrPrimary => flag(&table, c, "PRIMARY KEY"),
            _ => {}
        }
    }
    for (table, col) in ast::added_columns(cx.node) {
        for c in ast::column_constraints(col) {
            match c.contype() {
                ConstrType::ConstrUnique => flag(&table, c, "UNIQUE"),
                ConstrType::ConstrPrimary => flag(&table, c, "PRIMARY KEY"),
                _ => {}
            }
        }
    }
}
