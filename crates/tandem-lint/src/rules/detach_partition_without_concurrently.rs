//! `DETACH PARTITION` without `CONCURRENTLY` takes ACCESS EXCLUSIVE on the parent.

use crate::ast;
use crate::finding::Severity;
use crate::rule::{Hit, Rule};
use crate::state::StmtCx;
use pg_query::protobuf::AlterTableType;
use pg_query::NodeEnum;
use tandem_core::locks::LockMode;

pub const RULE: Rule = Rule {
    id: "detach-partition-without-concurrently",
    severity: Severity::Error,
    summary: "DETACH PARTITION without CONCURRENTLY",
    lock: Some(LockMode::AccessExclusive),
    rationale: "A plain DETACH PARTITION takes ACCESS EXCLUSIVE on the partitioned table: \
queries on every partition wait.",
    help: "Use ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY (PostgreSQL 14+), outside a \
transaction block; it only takes SHARE UPDATE EXCLUSIVE.",
    bad: "ALTER TABLE measurements DETACH PARTITION measurements_2023;",
    good: "ALTER TABLE measurements DETACH PARTITION measurements_2023 CONCURRENTLY;",
    exempt_new_tables: true,
    check,
    finish: None,
};

fn check(cx: &StmtCx<'_>, out: &mut Vec<Hit>) {
    for (table, cmd) in ast::alter_cmds_of(cx.node, AlterTableType::AtDetachPartition) {
        let Some(NodeEnum::PartitionCmd(p)) = cmd.def.as_ref().and_then(|d| d.node.as_ref()) else {
            continue;
        };
        if p.concurrent {
            continue;
        }
        let part = ast::rv_name(p.name.as_ref());
        out.push(
            Hit::new(format!(
                "detaching `{part}` takes ACCESS EXCLUSIVE on `{table}`, blocking queries on all its partitions"
            ))
            .help(format!(
                "Run instead (outside a transaction):\n  ALTER TABLE {table} DETACH PARTITION {part} CONCURRENTLY;"
            )),
        );
    }
}
