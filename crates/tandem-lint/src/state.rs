//! What a statement's rules need to know about the statements before it, kept in one place
//! and updated after every statement.

use crate::ast;
use crate::locks::Taken;
use crate::parse::Statement;
use crate::schema::Schema;
use pg_query::protobuf::{AlterTableType, ConstrType, TransactionStmtKind, VariableSetKind};
use pg_query::NodeEnum;
use std::collections::{HashMap, HashSet};
use tandem_core::locks::LockMode;

/// Knowledge that outlives one file: files are linted in path order, which is the order
/// migration tools apply them, so a CHECK validated in migration 41 covers a SET NOT NULL
/// in migration 42.
#[derive(Debug, Default, Clone)]
pub struct RunState {
    pub schema: Schema,
    /// `CHECK (col IS NOT NULL)` constraints added, by (table, constraint) → column.
    pub not_null_checks: HashMap<(String, String), String>,
    /// (table, column) pairs with a validated `CHECK (col IS NOT NULL)`.
    pub validated_not_null: HashSet<(String, String)>,
    /// Live facts about tables (size, rows), from `--url`; empty without it.
    pub facts: crate::facts::Facts,
}

/// An ACCESS EXCLUSIVE lock held by the open transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldLock {
    pub table: String,
    pub line: usize,
    pub statements_since: usize,
}

/// Knowledge about the current file, as of the statement being checked.
#[derive(Debug, Default, Clone)]
pub struct FileState {
    /// Tables (and indexes on them) created earlier in this file.
    pub created: HashSet<String>,
    /// Tables emptied earlier in this file (`TRUNCATE`, `DELETE` with no `WHERE`): nothing to
    /// scan or rewrite, so they are exempt like new tables.
    pub emptied: HashSet<String>,
    /// The session time zone set by the file (`SET TIME ZONE`, `SET timezone`), or the
    /// configured one.
    pub time_zone: Option<String>,
    /// `require-lock-timeout` already warned in this transaction (or, outside one, this file):
    /// one warning at the first statement that needs the timeout says it all.
    pub lock_timeout_warned: bool,
    /// Inside an explicit `BEGIN` (or the whole file, with `assume_in_transaction`).
    pub in_transaction: bool,
    /// Inside an explicit `BEGIN` of this file.
    pub explicit_transaction: bool,
    pub lock_timeout_set: bool,
    /// Constraints added `NOT VALID` in the open transaction: (table, name).
    pub not_valid_in_tx: HashSet<(String, String)>,
    pub access_exclusive: Option<HeldLock>,
    /// Byte offset of the last `BEGIN` not yet committed.
    pub open_begin: Option<usize>,
}

/// Everything a rule sees when checking one statement.
pub struct StmtCx<'a> {
    pub node: &'a NodeEnum,
    pub stmt: &'a Statement,
    pub sql: &'a str,
    pub locks: &'a [Taken],
    pub file: &'a FileState,
    pub run: &'a RunState,
    pub pg_version: u32,
}

impl StmtCx<'_> {
    /// The strongest lock this statement takes on a table that existed before the file.
    pub fn blocking_lock(&self) -> Option<&Taken> {
        blocking_lock(self.locks, self.file)
    }

    /// Created or emptied earlier in the file, or absent from the live database (`--url`):
    /// nothing in it to scan or rewrite.
    pub fn is_new_table(&self, table: &str) -> bool {
        self.file.is_fresh(table) || self.run.facts.is_absent(table)
    }
}

/// The strongest lock of `taken` on a table that existed before the file.
pub fn blocking_lock<'a>(taken: &'a [Taken], file: &FileState) -> Option<&'a Taken> {
    taken
        .iter()
        .filter(|t| !file.created.contains(&t.table))
        .max_by_key(|t| t.mode)
}

/// Whether a statement taking `taken` needs a `lock_timeout` that is not set: a lock that
/// blocks reads or writes on a table that existed before the file.
pub fn needs_lock_timeout(taken: &[Taken], file: &FileState) -> bool {
    !file.lock_timeout_set
        && blocking_lock(taken, file)
            .is_some_and(|t| t.mode.blocks_reads() || t.mode.blocks_writes())
}

/// Whether a time zone name is UTC (where timestamp and timestamptz hold the same bits).
pub fn is_utc(zone: &str) -> bool {
    matches!(
        zone.trim_matches('\'').to_ascii_lowercase().as_str(),
        "utc"
            | "etc/utc"
            | "gmt"
            | "etc/gmt"
            | "z"
            | "zulu"
            | "universal"
            | "etc/universal"
            | "+00:00"
            | "0"
    )
}

impl FileState {
    pub fn new(assume_in_transaction: bool, time_zone: Option<String>) -> Self {
        FileState {
            in_transaction: assume_in_transaction,
            time_zone,
            ..Default::default()
        }
    }

    /// Created or emptied earlier in this file.
    pub fn is_fresh(&self, table: &str) -> bool {
        self.created.contains(table) || self.emptied.contains(table)
    }

    /// Whether the session time zone is known to be UTC.
    pub fn utc_session(&self) -> bool {
        self.time_zone.as_deref().is_some_and(is_utc)
    }

    /// Updates file and run knowledge after a statement starting at byte `offset` on `line`.
    pub fn apply(
        &mut self,
        run: &mut RunState,
        node: &NodeEnum,
        taken: &[Taken],
        offset: usize,
        line: usize,
    ) {
        if needs_lock_timeout(taken, self) {
            self.lock_timeout_warned = true;
        }
        match node {
            NodeEnum::TransactionStmt(t) => match t.kind() {
                TransactionStmtKind::TransStmtBegin | TransactionStmtKind::TransStmtStart => {
                    self.in_transaction = true;
                    self.explicit_transaction = true;
                    self.open_begin = Some(offset);
                    self.lock_timeout_warned = false;
                }
                TransactionStmtKind::TransStmtCommit
                | TransactionStmtKind::TransStmtRollback
                | TransactionStmtKind::TransStmtPrepare => {
                    self.in_transaction = false;
                    self.explicit_transaction = false;
                    self.open_begin = None;
                    self.not_valid_in_tx.clear();
                    self.access_exclusive = None;
                    self.lock_timeout_warned = false;
                }
                _ => {}
            },
            NodeEnum::VariableSetStmt(v) if v.name.eq_ignore_ascii_case("lock_timeout") => {
                // `SET lock_timeout = 0` (or RESET) turns the protection off again.
                let zero = v.args.iter().any(|a| {
                    ast::expr_sql(a)
                        .is_some_and(|s| matches!(s.trim_matches('\''), "0" | "0s" | "0ms"))
                });
                self.lock_timeout_set = !(zero || v.kind() != VariableSetKind::VarSetValue);
            }
            NodeEnum::VariableSetStmt(v) if v.name.eq_ignore_ascii_case("timezone") => {
                self.time_zone = match v.kind() {
                    VariableSetKind::VarSetValue => v
                        .args
                        .first()
                        .and_then(ast::expr_sql)
                        .map(|s| s.trim_matches('\'').to_string()),
                    _ => None,
                };
            }
            NodeEnum::TruncateStmt(s) => {
                for r in &s.relations {
                    if let Some(NodeEnum::RangeVar(rv)) = &r.node {
                        self.emptied.insert(ast::rv_name(Some(rv)));
                    }
                }
            }
            NodeEnum::DeleteStmt(s) if s.where_clause.is_none() && s.using_clause.is_empty() => {
                self.emptied.insert(ast::rv_name(s.relation.as_ref()));
            }
            NodeEnum::SelectStmt(s) => {
                // `SELECT ... INTO new_table` creates a table like CREATE TABLE AS.
                if let Some(into) = &s.into_clause {
                    self.created.insert(ast::rv_name(into.rel.as_ref()));
                }
            }
            NodeEnum::CreateStmt(s) => {
                self.created.insert(ast::rv_name(s.relation.as_ref()));
            }
            NodeEnum::CreateTableAsStmt(s) => {
                if let Some(into) = &s.into {
                    self.created.insert(ast::rv_name(into.rel.as_ref()));
                }
            }
            NodeEnum::IndexStmt(s) if self.is_fresh(&ast::rv_name(s.relation.as_ref())) => {
                self.created.insert(s.idxname.clone());
            }
            NodeEnum::AlterTableStmt(_) => self.apply_alter(run, node),
            _ => {}
        }
        if self.in_transaction {
            if let Some(held) = &mut self.access_exclusive {
                held.statements_since += 1;
            } else if let Some(t) = taken
                .iter()
                .find(|t| t.mode == LockMode::AccessExclusive && !self.is_fresh(&t.table))
            {
                self.access_exclusive = Some(HeldLock {
                    table: t.table.clone(),
                    line,
                    statements_since: 0,
                });
            }
        }
        run.schema.apply(node);
    }

    fn apply_alter(&mut self, run: &mut RunState, node: &NodeEnum) {
        let Some((s, table)) = ast::alter_table(node) else {
            return;
        };
        for cmd in ast::alter_cmds(s) {
            match cmd.subtype() {
                AlterTableType::AtAddConstraint => {
                    let Some(c) = ast::cmd_constraint(cmd) else {
                        continue;
                    };
                    if c.skip_validation && self.in_transaction {
                        self.not_valid_in_tx
                            .insert((table.clone(), c.conname.clone()));
                    }
                    if c.contype() == ConstrType::ConstrCheck {
                        if let Some(col) = c.raw_expr.as_deref().and_then(ast::is_not_null_check) {
                            if !c.skip_validation {
                                run.validated_not_null.insert((table.clone(), col.clone()));
                            }
                            run.not_null_checks
                                .insert((table.clone(), c.conname.clone()), col);
                        }
                    }
                }
                AlterTableType::AtValidateConstraint => {
                    if let Some(col) = run.not_null_checks.get(&(table.clone(), cmd.name.clone())) {
                        run.validated_not_null.insert((table.clone(), col.clone()));
                    }
                }
                _ => {}
            }
        }
    }
}
