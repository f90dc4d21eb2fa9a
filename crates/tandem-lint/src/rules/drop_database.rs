//! `DROP DATABASE` has no place in a migration.

use crate::finding::Severity;
use crate::rule::{Hit, Rule};
use crate::state::StmtCx;
use pg_query::NodeEnum;

pub const RULE: Rule = Rule {
    id: "drop-database",
    severity: Severity::Error,
    summary: "DROP DATABASE in a migration",
    lock: None,
    rationale: "A migration that drops a database destroys every table in it, irreversibly.",
    help: "Drop databases by hand, outside migrations, after a backup.",
    bad: "DROP DATABASE analytics;",
    good: "DROP SCHEMA IF EXISTS scratch;",
    exempt_new_tables: false,
    check,
    finish: None,
};

fn check(cx: &StmtCx<'_>, out: &mut Vec<Hit>) {
    if let NodeEnum::DropdbStmt(s) = cx.node {
        out.push(Hit::new(format!(
            "DROP DATABASE {} deletes all of its data",
            s.dbname
        )));
    }
}
