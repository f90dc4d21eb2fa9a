//! A blocking lock requested with no `lock_timeout` can take the whole table down.

use crate::finding::Severity;
use crate::rule::{Hit, Rule};
use crate::state::{needs_lock_timeout, StmtCx};
use tandem_core::locks::LockMode;

pub const RULE: Rule = Rule {
    id: "require-lock-timeout",
    severity: Severity::Warning,
    summary: "lock that blocks reads or writes requested with no lock_timeout set",
    lock: Some(LockMode::AccessExclusive),
    rationale: "A statement waiting for its lock sits in the lock queue, and every query on the \
table queues behind it, even for a lock held an instant. One long-running query (a report, \
a backup) is enough to stop all traffic to the table while the migration waits. A \
lock_timeout makes the migration give up (and retry) instead.",
    help: "Put `SET lock_timeout = '2s';` (and a statement_timeout) at the top of the \
migration and retry on failure; tandem sets it for every step and retries with backoff.",
    bad: "ALTER TABLE users ADD COLUMN nickname text;",
    good: "SET lock_timeout = '2s';\nALTER TABLE users ADD COLUMN nickname text;",
    exempt_new_tables: true,
    check,
    finish: None,
};

/// Said once per transaction (or per file outside one), at the first statement that needs
/// the timeout: the statements after it wait the same way, and the fix is the same line.
fn check(cx: &StmtCx<'_>, out: &mut Vec<Hit>) {
    if cx.file.lock_timeout_warned || !needs_lock_timeout(cx.locks, cx.file) {
        return;
    }
    let Some(t) = cx.blocking_lock() else { return };
    let what = if t.mode.blocks_reads() {
        "reads and writes"
    } else {
        "writes"
    };
    let scope = if cx.file.in_transaction {
        "this transaction"
    } else {
        "this file"
    };
    // An unresolved `DROP INDEX` lock still carries the index's name.
    let unresolved_index = matches!(cx.node, pg_query::NodeEnum::DropStmt(s)
        if crate::ast::drop_objects(s).contains(&t.table));
    let table = if matches!(t.action, crate::locks::Action::DropIndex) && unresolved_index {
        format!("the table of index `{}`", t.table)
    } else {
        format!("`{}`", t.table)
    };
    out.push(Hit::new(format!(
        "{} waits for {} on {table} with no lock_timeout: while it waits, {what} on it queue behind it (reported once for {scope}, at the first statement that needs the timeout)",
        t.action.label(),
        t.mode,
    )));
}
