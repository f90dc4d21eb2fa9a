//! `SET LOGGED` / `SET UNLOGGED` rewrite the whole table.

use crate::finding::Severity;
use crate::locks::Action;
use crate::rule::{Hit, Rule};
use crate::state::StmtCx;
use tandem_core::locks::LockMode;

pub const RULE: Rule = Rule {
    id: "set-logged-unlogged",
    severity: Severity::Error,
    summary: "SET LOGGED or SET UNLOGGED on an existing table",
    lock: Some(LockMode::AccessExclusive),
    rationale: "ALTER TABLE ... SET LOGGED and SET UNLOGGED rewrite the table and its indexes \
into new files (SET LOGGED also writes all of it to the WAL) while holding ACCESS EXCLUSIVE: \
no reads, no writes until the copy ends.",
    help: "Do it in a maintenance window, or create a new table with the wanted persistence, \
copy the rows in batches and swap names.",
    bad: "ALTER TABLE events SET LOGGED;",
    good: "CREATE UNLOGGED TABLE events_staging (id bigint PRIMARY KEY);\nALTER TABLE events_staging SET LOGGED;",
    exempt_new_tables: true,
    check,
    finish: None,
};

fn check(cx: &StmtCx<'_>, out: &mut Vec<Hit>) {
    for t in cx.locks.iter().filter(|t| t.action == Action::SetLogged) {
        out.push(Hit::new(format!(
            "{} rewrites all of `{}` and its indexes under ACCESS EXCLUSIVE",
            t.action.label(),
            t.table
        )));
    }
}
