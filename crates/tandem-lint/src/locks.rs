//! Which statement takes which table lock: one table, shared by every rule, the docs and
//! `convert`. Sources: PostgreSQL's documentation of each command ("Table-Level Locks" and
//! the Notes of `ALTER TABLE`, `CREATE INDEX`, `REINDEX`, ...).

use crate::ast;
use pg_query::protobuf::{AlterTableType as At, ConstrType, ObjectType};
use pg_query::NodeEnum;
use tandem_core::locks::LockMode;

/// A kind of statement (or `ALTER TABLE` sub-command) as far as locking is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    CreateIndex,
    CreateIndexConcurrently,
    DropIndex,
    DropIndexConcurrently,
    Reindex,
    ReindexConcurrently,
    AddColumn,
    DropColumn,
    AlterColumnType,
    SetNotNull,
    DropNotNull,
    SetDefault,
    AddConstraint,
    AddForeignKey,
    ValidateConstraint,
    DropConstraint,
    AttachPartition,
    DetachPartition,
    DetachPartitionConcurrently,
    SetStatistics,
    ChangeTrigger,
    OtherAlterTable,
    RenameColumn,
    RenameTable,
    DropTable,
    Truncate,
    VacuumFull,
    Vacuum,
    Cluster,
    CreateTrigger,
    DropTrigger,
    Policy,
    SetLogged,
    RefreshMatview,
    RefreshMatviewConcurrently,
    Update,
    Delete,
    Insert,
}

/// The shared data: the lock each action takes on its table, and a phrase for messages.
pub const LOCK_TABLE: &[(Action, LockMode, &str)] = &[
    (Action::CreateIndex, LockMode::Share, "CREATE INDEX"),
    (
        Action::CreateIndexConcurrently,
        LockMode::ShareUpdateExclusive,
        "CREATE INDEX CONCURRENTLY",
    ),
    (Action::DropIndex, LockMode::AccessExclusive, "DROP INDEX"),
    (
        Action::DropIndexConcurrently,
        LockMode::ShareUpdateExclusive,
        "DROP INDEX CONCURRENTLY",
    ),
    // REINDEX also takes ACCESS EXCLUSIVE on the index itself, blocking reads that use it.
    (Action::Reindex, LockMode::Share, "REINDEX"),
    (
        Action::ReindexConcurrently,
        LockMode::ShareUpdateExclusive,
        "REINDEX CONCURRENTLY",
    ),
    (Action::AddColumn, LockMode::AccessExclusive, "ADD COLUMN"),
    (Action::DropColumn, LockMode::AccessExclusive, "DROP COLUMN"),
    (
        Action::AlterColumnType,
        LockMode::AccessExclusive,
        "ALTER COLUMN TYPE",
    ),
    (
        Action::SetNotNull,
        LockMode::AccessExclusive,
        "SET NOT NULL",
    ),
    (
        Action::DropNotNull,
        LockMode::AccessExclusive,
        "DROP NOT NULL",
    ),
    (
        Action::SetDefault,
        LockMode::AccessExclusive,
        "SET/DROP DEFAULT",
    ),
    (
        Action::AddConstraint,
        LockMode::AccessExclusive,
        "ADD CONSTRAINT",
    ),
    // Taken on both the referencing and the referenced table.
    (
        Action::AddForeignKey,
        LockMode::ShareRowExclusive,
        "ADD FOREIGN KEY",
    ),
    (
        Action::ValidateConstraint,
        LockMode::ShareUpdateExclusive,
        "VALIDATE CONSTRAINT",
    ),
    (
        Action::DropConstraint,
        LockMode::AccessExclusive,
        "DROP CONSTRAINT",
    ),
    (
        Action::AttachPartition,
        LockMode::ShareUpdateExclusive,
        "ATTACH PARTITION",
    ),
    (
        Action::DetachPartition,
        LockMode::AccessExclusive,
        "DETACH PARTITION",
    ),
    (
        Action::DetachPartitionConcurrently,
        LockMode::ShareUpdateExclusive,
        "DETACH PARTITION CONCURRENTLY",
    ),
    (
        Action::SetStatistics,
        LockMode::ShareUpdateExclusive,
        "SET STATISTICS",
    ),
    (
        Action::ChangeTrigger,
        LockMode::ShareRowExclusive,
        "ENABLE/DISABLE TRIGGER",
    ),
    (
        Action::OtherAlterTable,
        LockMode::AccessExclusive,
        "ALTER TABLE",
    ),
    (
        Action::RenameColumn,
        LockMode::AccessExclusive,
        "RENAME COLUMN",
    ),
    (
        Action::RenameTable,
        LockMode::AccessExclusive,
        "RENAME TABLE",
    ),
    (Action::DropTable, LockMode::AccessExclusive, "DROP TABLE"),
    (Action::Truncate, LockMode::AccessExclusive, "TRUNCATE"),
    (Action::VacuumFull, LockMode::AccessExclusive, "VACUUM FULL"),
    (
        Action::Vacuum,
        LockMode::ShareUpdateExclusive,
        "VACUUM/ANALYZE",
    ),
    (Action::Cluster, LockMode::AccessExclusive, "CLUSTER"),
    (
        Action::CreateTrigger,
        LockMode::ShareRowExclusive,
        "CREATE TRIGGER",
    ),
    (
        Action::DropTrigger,
        LockMode::AccessExclusive,
        "DROP TRIGGER",
    ),
    // CREATE/ALTER/DROP POLICY: PostgreSQL's policy.c opens the table AccessExclusiveLock.
    (
        Action::Policy,
        LockMode::AccessExclusive,
        "CREATE/ALTER/DROP POLICY",
    ),
    (
        Action::SetLogged,
        LockMode::AccessExclusive,
        "SET LOGGED/UNLOGGED",
    ),
    (
        Action::RefreshMatview,
        LockMode::AccessExclusive,
        "REFRESH MATERIALIZED VIEW",
    ),
    (
        Action::RefreshMatviewConcurrently,
        LockMode::Exclusive,
        "REFRESH MATERIALIZED VIEW CONCURRENTLY",
    ),
    (Action::Update, LockMode::RowExclusive, "UPDATE"),
    (Action::Delete, LockMode::RowExclusive, "DELETE"),
    (Action::Insert, LockMode::RowExclusive, "INSERT"),
];

impl Action {
    pub fn lock(self) -> LockMode {
        LOCK_TABLE
            .iter()
            .find(|(a, _, _)| *a == self)
            .map_or(LockMode::AccessExclusive, |(_, m, _)| *m)
    }

    pub fn label(self) -> &'static str {
        LOCK_TABLE
            .iter()
            .find(|(a, _, _)| *a == self)
            .map_or("statement", |(_, _, l)| l)
    }
}

/// A lock a statement takes on one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taken {
    pub action: Action,
    pub mode: LockMode,
    /// The table (for `DROP INDEX`, the index name, as the table is not in the statement).
    pub table: String,
}

/// Every table lock a statement takes. `LOCK TABLE` is classified here too, with its mode.
pub fn locks_of(node: &NodeEnum) -> Vec<Taken> {
    let mut out = Vec::new();
    let mut push = |action: Action, table: String| {
        out.push(Taken {
            action,
            mode: action.lock(),
            table,
        })
    };
    match node {
        NodeEnum::IndexStmt(s) => {
            let a = if s.concurrent {
                Action::CreateIndexConcurrently
            } else {
                Action::CreateIndex
            };
            push(a, ast::rv_name(s.relation.as_ref()));
        }
        NodeEnum::DropStmt(s) => {
            let objects = ast::drop_objects(s);
            match s.remove_type() {
                ObjectType::ObjectIndex => {
                    let a = if s.concurrent {
                        Action::DropIndexConcurrently
                    } else {
                        Action::DropIndex
                    };
                    objects.into_iter().for_each(|o| push(a, o));
                }
                ObjectType::ObjectTable | ObjectType::ObjectMatview => {
                    objects.into_iter().for_each(|o| push(Action::DropTable, o))
                }
                // `DROP TRIGGER t ON tab` / `DROP POLICY p ON tab`: the object is
                // [schema.]table.name; the table is the part before the last.
                ObjectType::ObjectTrigger | ObjectType::ObjectPolicy => {
                    let a = if s.remove_type() == ObjectType::ObjectTrigger {
                        Action::DropTrigger
                    } else {
                        Action::Policy
                    };
                    for o in &s.objects {
                        if let Some(NodeEnum::List(l)) = &o.node {
                            let parts = ast::strings(&l.items);
                            if parts.len() >= 2 {
                                push(a, parts[parts.len() - 2].to_string());
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        NodeEnum::ReindexStmt(s) => {
            let a = if ast::has_option(&s.params, "concurrently") {
                Action::ReindexConcurrently
            } else {
                Action::Reindex
            };
            let name = if s.relation.is_some() {
                ast::rv_name(s.relation.as_ref())
            } else {
                s.name.clone()
            };
            push(a, name);
        }
        NodeEnum::AlterTableStmt(s) if s.objtype() == ObjectType::ObjectTable => {
            let table = ast::rv_name(s.relation.as_ref());
            for cmd in ast::alter_cmds(s) {
                let a = alter_action(cmd);
                push(a, table.clone());
                if a == Action::AddForeignKey {
                    if let Some(c) = ast::cmd_constraint(cmd) {
                        push(a, ast::rv_name(c.pktable.as_ref()));
                    }
                }
            }
        }
        NodeEnum::RenameStmt(s) => match s.rename_type() {
            ObjectType::ObjectColumn => {
                push(Action::RenameColumn, ast::rv_name(s.relation.as_ref()))
            }
            ObjectType::ObjectTable => push(Action::RenameTable, ast::rv_name(s.relation.as_ref())),
            _ => {}
        },
        NodeEnum::TruncateStmt(s) => {
            for r in &s.relations {
                if let Some(NodeEnum::RangeVar(rv)) = &r.node {
                    push(Action::Truncate, ast::rv_name(Some(rv)));
                }
            }
        }
        NodeEnum::VacuumStmt(s) => {
            let a = if ast::has_option(&s.options, "full") {
                Action::VacuumFull
            } else {
                Action::Vacuum
            };
            for r in &s.rels {
                if let Some(NodeEnum::VacuumRelation(v)) = &r.node {
                    push(a, ast::rv_name(v.relation.as_ref()));
                }
            }
        }
        NodeEnum::ClusterStmt(s) => push(Action::Cluster, ast::rv_name(s.relation.as_ref())),
        NodeEnum::CreateTrigStmt(s) => {
            push(Action::CreateTrigger, ast::rv_name(s.relation.as_ref()))
        }
        NodeEnum::CreatePolicyStmt(s) => push(Action::Policy, ast::rv_name(s.table.as_ref())),
        NodeEnum::AlterPolicyStmt(s) => push(Action::Policy, ast::rv_name(s.table.as_ref())),
        NodeEnum::RefreshMatViewStmt(s) => {
            let a = if s.concurrent {
                Action::RefreshMatviewConcurrently
            } else {
                Action::RefreshMatview
            };
            push(a, ast::rv_name(s.relation.as_ref()));
        }
        NodeEnum::UpdateStmt(s) => push(Action::Update, ast::rv_name(s.relation.as_ref())),
        NodeEnum::DeleteStmt(s) => push(Action::Delete, ast::rv_name(s.relation.as_ref())),
        NodeEnum::InsertStmt(s) => push(Action::Insert, ast::rv_name(s.relation.as_ref())),
        NodeEnum::LockStmt(s) => {
            let mode = lock_stmt_mode(s.mode);
            for r in &s.relations {
                if let Some(NodeEnum::RangeVar(rv)) = &r.node {
                    out.push(Taken {
                        action: Action::OtherAlterTable,
                        mode,
                        table: ast::rv_name(Some(rv)),
                    });
                }
            }
        }
        _ => {}
    }
    out
}

/// The strongest lock among those a statement takes.
pub fn strongest(taken: &[Taken]) -> Option<&Taken> {
    taken.iter().max_by_key(|t| t.mode)
}

fn alter_action(cmd: &pg_query::protobuf::AlterTableCmd) -> Action {
    match cmd.subtype() {
        At::AtAddColumn => Action::AddColumn,
        At::AtDropColumn => Action::DropColumn,
        At::AtAlterColumnType => Action::AlterColumnType,
        At::AtSetNotNull => Action::SetNotNull,
        At::AtDropNotNull => Action::DropNotNull,
        At::AtColumnDefault => Action::SetDefault,
        At::AtAddConstraint => match ast::cmd_constraint(cmd).map(|c| c.contype()) {
            Some(ConstrType::ConstrForeign) => Action::AddForeignKey,
            _ => Action::AddConstraint,
        },
        At::AtAddIndexConstraint | At::AtAddIndex => Action::AddConstraint,
        At::AtValidateConstraint => Action::ValidateConstraint,
        At::AtDropConstraint => Action::DropConstraint,
        At::AtAttachPartition => Action::AttachPartition,
        At::AtDetachPartition => match &cmd.def.as_ref().and_then(|d| d.node.as_ref()) {
            Some(NodeEnum::PartitionCmd(p)) if p.concurrent => Action::DetachPartitionConcurrently,
            _ => Action::DetachPartition,
        },
        At::AtDetachPartitionFinalize => Action::DetachPartitionConcurrently,
        At::AtSetStatistics | At::AtClusterOn | At::AtDropCluster => Action::SetStatistics,
        At::AtSetLogged | At::AtSetUnLogged => Action::SetLogged,
        At::AtEnableTrig
        | At::AtEnableAlwaysTrig
        | At::AtEnableReplicaTrig
        | At::AtDisableTrig
        | At::AtEnableTrigAll
        | At::AtDisableTrigAll
        | At::AtEnableTrigUser
        | At::AtDisableTrigUser => Action::ChangeTrigger,
        _ => Action::OtherAlterTable,
    }
}

/// `LOCK TABLE ... IN <mode> MODE`; the parser stores PostgreSQL's numeric lock mode.
fn lock_stmt_mode(mode: i32) -> LockMode {
    match mode {
        1 => LockMode::AccessShare,
        2 => LockMode::RowShare,
        3 => LockMode::RowExclusive,
        4 => LockMode::ShareUpdateExclusive,
        5 => LockMode::Share,
        6 => LockMode::ShareRowExclusive,
        7 => LockMode::Exclusive,
        _ => LockMode::AccessExclusive,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first(sql: &str) -> Vec<Taken> {
        let stmts = crate::parse::parse(sql).unwrap();
        locks_of(&stmts[0].node)
    }

    #[test]
    fn every_action_is_in_the_table_once() {
        for (a, _, _) in LOCK_TABLE {
            assert_eq!(
                LOCK_TABLE.iter().filter(|(b, _, _)| b == a).count(),
                1,
                "{a:?}"
            );
        }
    }

    #[test]
    fn classifies_common_statements() {
        assert_eq!(first("CREATE INDEX i ON t (c)")[0].mode, LockMode::Share);
        let fk = first("ALTER TABLE a ADD FOREIGN KEY (b_id) REFERENCES b (id)");
        assert_eq!(fk.len(), 2);
        assert_eq!(fk[1].table, "b");
        assert_eq!(fk[0].mode, LockMode::ShareRowExclusive);
        assert_eq!(first("LOCK TABLE t IN SHARE MODE")[0].mode, LockMode::Share);
        assert_eq!(first("VACUUM (FULL) t")[0].action, Action::VacuumFull);
        assert_eq!(first("VACUUM FULL t")[0].action, Action::VacuumFull);
        assert_eq!(first("DROP TRIGGER trg ON s.orders")[0].table, "orders");
        assert_eq!(
            first("DROP POLICY p ON orders")[0].mode,
            LockMode::AccessExclusive
        );
        assert_eq!(
            first("CREATE POLICY p ON orders USING (true)")[0].mode,
            LockMode::AccessExclusive
        );
        assert_eq!(
            first("ALTER TABLE t SET UNLOGGED")[0].action,
            Action::SetLogged
        );
    }
}
