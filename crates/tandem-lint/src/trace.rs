//! `tandem lint --trace`: run a migration set's statements, in order, on a throwaway database
//! holding the schema, and observe what the server really does after each one: the locks it
//! holds (`pg_locks`), the tables and indexes it rewrote (a new `relfilenode`), and the tables
//! it scanned (`pg_stat_xact_user_tables`). Each statement runs alone, in its own transaction
//! when it may, through the extended protocol (one statement per call, never a batch).
//! The caller provides the connection to a database it may wreck; this module never prints.

use crate::finding::{Finding, Severity};
use crate::parse;
use crate::source::{LineIndex, Placement};
use pg_query::NodeEnum;
use std::collections::{BTreeSet, HashMap};
use tandem_core::locks::LockMode;
use tokio_postgres::Client;

/// The rule id of findings the trace makes.
pub const TRACE: &str = "trace";
/// The rule id of a static verdict the trace contradicts.
pub const TRACE_CONTRADICTS: &str = "trace-contradicts";

/// What one statement did on the server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    /// (table, lock mode) of every lock held on a table that existed before the file.
    pub locks: Vec<(String, LockMode)>,
    /// Tables that existed before the file whose data or an index of it was rewritten.
    pub rewritten: BTreeSet<String>,
    /// Tables that existed before the file and were read in full.
    pub scanned: BTreeSet<String>,
    /// The server refused the statement (its message).
    pub error: Option<String>,
}

/// One traced statement.
#[derive(Debug, Clone)]
pub struct Traced {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    pub statement: String,
    pub observed: Observed,
}

#[derive(Debug, thiserror::Error)]
#[error("the trace database failed: {0}; the trace needs a throwaway PostgreSQL it may change")]
pub struct TraceError(#[from] tokio_postgres::Error);

/// Relations by oid: (table it belongs to, relfilenode).
type Files = HashMap<u32, (String, u32)>;

async fn relation_files(client: &Client) -> Result<Files, TraceError> {
    let rows = client
        .query(
            "SELECT c.oid, COALESCE(t.relname, c.relname)::text, c.relfilenode \
             FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             LEFT JOIN pg_index i ON i.indexrelid = c.oid \
             LEFT JOIN pg_class t ON t.oid = i.indrelid \
             WHERE c.relkind IN ('r', 'p', 'm', 'i') \
               AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
               AND n.nspname NOT LIKE 'pg_toast%'",
            &[],
        )
        .await?;
    let mut out = HashMap::new();
    for r in rows {
        let oid: u32 = r.try_get(0)?;
        out.insert(oid, (r.try_get(1)?, r.try_get(2)?));
    }
    Ok(out)
}

/// This backend's sequential scan count per table, this transaction's pending ones included.
async fn seq_scans(client: &Client) -> Result<HashMap<u32, i64>, TraceError> {
    let rows = client
        .query("SELECT relid, seq_scan FROM pg_stat_xact_user_tables", &[])
        .await?;
    let mut out = HashMap::new();
    for r in rows {
        out.insert(r.try_get::<_, u32>(0)?, r.try_get::<_, i64>(1)?);
    }
    Ok(out)
}

/// Statements PostgreSQL refuses to run inside a transaction block.
fn needs_autocommit(node: &NodeEnum) -> bool {
    match node {
        NodeEnum::IndexStmt(s) => s.concurrent,
        NodeEnum::DropStmt(s) => s.concurrent,
        NodeEnum::ReindexStmt(s) => crate::ast::has_option(&s.params, "concurrently"),
        NodeEnum::VacuumStmt(_)
        | NodeEnum::CreatedbStmt(_)
        | NodeEnum::DropdbStmt(_)
        | NodeEnum::AlterSystemStmt(_) => true,
        NodeEnum::AlterTableStmt(_) => crate::locks::locks_of(node)
            .iter()
            .any(|t| t.action == crate::locks::Action::DetachPartitionConcurrently),
        _ => false,
    }
}

fn lock_mode(name: &str) -> Option<LockMode> {
    Some(match name {
        "AccessShareLock" => LockMode::AccessShare,
        "RowShareLock" => LockMode::RowShare,
        "RowExclusiveLock" => LockMode::RowExclusive,
        "ShareUpdateExclusiveLock" => LockMode::ShareUpdateExclusive,
        "ShareLock" => LockMode::Share,
        "ShareRowExclusiveLock" => LockMode::ShareRowExclusive,
        "ExclusiveLock" => LockMode::Exclusive,
        "AccessExclusiveLock" => LockMode::AccessExclusive,
        _ => return None,
    })
}

/// Runs one statement and observes it. `existing`: relations (by oid) that existed before
/// the file, the ones whose locks, rewrites and scans matter.
async fn run_one(
    client: &Client,
    sql: &str,
    node: &NodeEnum,
    existing: &Files,
) -> Result<Observed, TraceError> {
    let before = relation_files(client).await?;
    let mut observed = Observed::default();
    let in_tx = !needs_autocommit(node);
    // Scan counters of this backend not yet flushed to the statistics carry over from
    // earlier transactions: compare with the counts just before the statement.
    let mut scans_before = HashMap::new();
    if in_tx {
        client.execute("BEGIN", &[]).await?;
        scans_before = seq_scans(client).await?;
    }
    if let Err(e) = client.execute(sql, &[]).await {
        observed.error = Some(
            e.as_db_error()
                .map_or_else(|| e.to_string(), |d| d.message().to_string()),
        );
        if in_tx {
            client.execute("ROLLBACK", &[]).await?;
        }
        return Ok(observed);
    }
    if in_tx {
        let locks = client
            .query(
                "SELECT l.relation, l.mode FROM pg_locks l \
                 WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation' AND l.granted",
                &[],
            )
            .await?;
        for l in locks {
            let oid: u32 = l.try_get(0)?;
            let mode: String = l.try_get(1)?;
            if let (Some((table, _)), Some(mode)) = (existing.get(&oid), lock_mode(&mode)) {
                // Index locks count on their table; only the strongest lock per table.
                match observed.locks.iter_mut().find(|(t, _)| t == table) {
                    Some((_, m)) if *m < mode => *m = mode,
                    Some(_) => {}
                    None => observed.locks.push((table.clone(), mode)),
                }
            }
        }
        for (oid, count) in seq_scans(client).await? {
            let grew = count > scans_before.get(&oid).copied().unwrap_or(0);
            if let (true, Some((table, _))) = (grew, existing.get(&oid)) {
                observed.scanned.insert(table.clone());
            }
        }
        client.execute("COMMIT", &[]).await?;
    }
    let after = relation_files(client).await?;
    for (oid, (table, file)) in &before {
        if existing.contains_key(oid) && after.get(oid).is_some_and(|(_, f)| f != file) {
            observed.rewritten.insert(table.clone());
        }
    }
    Ok(observed)
}

/// Runs the files of one migration set in order (`(file name, SQL to run)`), observing every
/// statement. Transaction control in the files is skipped: each statement gets its own.
pub async fn trace_set(
    client: &Client,
    files: &[(String, String)],
) -> Result<Vec<Traced>, TraceError> {
    let mut out = Vec::new();
    for (name, sql) in files {
        let Ok(stmts) = parse::parse(sql) else {
            continue; // the static pass reports the syntax error
        };
        let existing = relation_files(client).await?;
        let index = LineIndex::new(sql, Placement::Whole);
        for stmt in stmts.iter().filter(|s| s.in_do_block.is_none()) {
            if matches!(stmt.node, NodeEnum::TransactionStmt(_)) {
                continue;
            }
            let text = stmt.text(sql);
            let observed = run_one(client, text, &stmt.node, &existing).await?;
            let (line, column) = index.position(sql, stmt.start);
            let (end_line, end_column) = index.position(sql, stmt.end);
            out.push(Traced {
                file: name.clone(),
                line,
                column,
                end_line,
                end_column,
                statement: text.to_string(),
                observed,
            });
        }
    }
    Ok(out)
}

/// What a static rule claims the server does, when the trace can check it.
fn claim(rule: &str) -> Option<&'static str> {
    match rule {
        "rewriting-type-change"
        | "volatile-default"
        | "set-logged-unlogged"
        | "stored-generated-column"
        | "serial-column-on-existing-table" => Some("rewrite"),
        "check-constraint-without-not-valid"
        | "foreign-key-without-not-valid"
        | "set-not-null-without-check" => Some("scan"),
        _ => None,
    }
}

/// The trace's findings: statements whose real behaviour is dangerous (a lock that blocks
/// writes or reads, a rewrite, a full scan, on a table that existed before the file), and
/// static findings the trace contradicts.
pub fn findings(traced: &[Traced], static_findings: &[Finding]) -> Vec<Finding> {
    let mut out = Vec::new();
    for t in traced {
        let make = |rule: &str, severity, message: String, help: &str| Finding {
            file: t.file.clone(),
            line: t.line,
            column: t.column,
            end_line: t.end_line,
            end_column: t.end_column,
            rule: rule.to_string(),
            severity,
            message,
            help: help.to_string(),
        };
        let o = &t.observed;
        if let Some(e) = &o.error {
            out.push(make(
                TRACE,
                Severity::Note,
                format!("the trace could not run this statement: {e}"),
                "The trace runs the set on a throwaway database holding only what the earlier files created; statements that need more are skipped.",
            ));
            continue;
        }
        let mut parts = Vec::new();
        let mut severity = None;
        for (table, mode) in &o.locks {
            if mode.blocks_writes() {
                let what = if mode.blocks_reads() {
                    "reads and writes"
                } else {
                    "writes"
                };
                parts.push(format!("held {mode} on `{table}` (blocks {what})"));
                severity = severity.max(Some(if mode.blocks_reads() {
                    Severity::Error
                } else {
                    Severity::Warning
                }));
            }
        }
        for table in &o.rewritten {
            parts.push(format!("rewrote `{table}`"));
            severity = Some(Severity::Error);
        }
        for table in &o.scanned {
            parts.push(format!("scanned all of `{table}`"));
            severity = severity.max(Some(Severity::Warning));
        }
        if let Some(severity) = severity {
            out.push(make(
                TRACE,
                severity,
                format!("traced on PostgreSQL: this statement {}", parts.join(", ")),
                "This is what the server did, not what the rules guessed: on a big table this blocks traffic for as long as it runs.",
            ));
        }
        for f in static_findings
            .iter()
            .filter(|f| f.file == t.file && f.line >= t.line && f.line <= t.end_line)
        {
            let Some(kind) = claim(&f.rule) else { continue };
            let seen = match kind {
                "rewrite" => !o.rewritten.is_empty(),
                _ => !o.scanned.is_empty() || !o.rewritten.is_empty(),
            };
            if !seen {
                out.push(make(
                    TRACE_CONTRADICTS,
                    Severity::Note,
                    format!(
                        "`{}` says this statement makes the server {kind} the table, but traced on PostgreSQL it did not",
                        f.rule
                    ),
                    "The static rule is conservative; on your PostgreSQL version this statement is cheaper than it claims.",
                ));
            }
        }
    }
    out
}
