//! A blocking lock requested with no `lock_timeout` can take the whole table down.

use crate::finding::Severity;
use crate::rule::{Hit, Rule};
use crate::state::StmtCx;
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

fn check(cx: &StmtCx<'_>, out: &mut Vec<Hit>) {
    if cx.file.lock_timeout_set {
        return;
    }
    let Some(t) = cx.blocking_lock() else { return };
    if !(t.mode.blocks_reads() || t.mode.blocks_writes()) {
        return;
    }
    let what = if t.mode.blocks_reads() {
        "reads and writes"
    } else {
        "writes"
    };
    out.push(Hit::new(format!(
        "{} waits for {} on `{}` with no lock_timeout: while it waits, {what} on `{}` queue behind it",
        t.action.label(),
        t.mode,
        t.table,
        t.table
    )));
}
