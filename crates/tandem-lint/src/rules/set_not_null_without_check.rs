//! `SET NOT NULL` scans the table under ACCESS EXCLUSIVE unless a validated CHECK proves it.

use crate::ast;
use crate::finding::Severity;
use crate::rule::{Hit, Rule};
use crate::state::StmtCx;
use pg_query::protobuf::{AlterTableType, ConstrType};
use tandem_core::locks::LockMode;

pub const RULE: Rule = Rule {
    id: "set-not-null-without-check",
    severity: Severity::Error,
    summary: "SET NOT NULL without a validated CHECK (col IS NOT NULL) first",
    lock: Some(LockMode::AccessExclusive),
    rationale: "SET NOT NULL scans the whole table under ACCESS EXCLUSIVE to prove there is no \
NULL, unless a validated CHECK (col IS NOT NULL) constraint already proves it (PostgreSQL 12 \
and later skip the scan then).",
    help: "Add CHECK (col IS NOT NULL) NOT VALID, VALIDATE it in another transaction, then SET \
NOT NULL (instant) and drop the CHECK. On PostgreSQL 18, ADD CONSTRAINT ... NOT NULL col NOT \
VALID followed by VALIDATE does it directly. tandem's `alter_column` with `nullable: false` \
does all of this.",
    bad: "ALTER TABLE users ALTER COLUMN email SET NOT NULL;",
    good: "ALTER TABLE users ADD CONSTRAINT users_email_not_null CHECK (email IS NOT NULL) NOT VALID;\nALTER TABLE users VALIDATE CONSTRAINT users_email_not_null;\nALTER TABLE users ALTER COLUMN email SET NOT NULL;\nALTER TABLE users DROP CONSTRAINT users_email_not_null;",
    exempt_new_tables: true,
    check,
    finish: None,
};

fn check(cx: &StmtCx<'_>, out: &mut Vec<Hit>) {
    // PostgreSQL 18's `ADD CONSTRAINT name NOT NULL col` (without NOT VALID) is the same scan.
    for (table, c) in ast::added_constraints(cx.node) {
        if c.contype() == ConstrType::ConstrNotnull && !c.skip_validation {
            let col = ast::strings(&c.keys).join(", ");
            out.push(
                Hit::new(format!(
                    "adding NOT NULL on `{table}.{col}` scans the whole table under ACCESS EXCLUSIVE: add it NOT VALID and VALIDATE it in another transaction"
                ))
                .at(c.location),
            );
        }
    }
    for (table, cmd) in ast::alter_cmds_of(cx.node, AlterTableType::AtSetNotNull) {
        if cx
            .run
            .validated_not_null
            .contains(&(table.clone(), cmd.name.clone()))
        {
            continue;
        }
        let col = &cmd.name;
        let steps = if cx.pg_version >= 18 {
            format!(
                "  ALTER TABLE {table} ADD CONSTRAINT {table}_{col}_not_null NOT NULL {col} NOT VALID;\n  -- then, in another transaction:\n  ALTER TABLE {table} VALIDATE CONSTRAINT {table}_{col}_not_null;"
            )
        } else {
            format!(
                "  ALTER TABLE {table} ADD CONSTRAINT {table}_{col}_not_null CHECK ({col} IS NOT NULL) NOT VALID;\n  -- then, in another transaction:\n  ALTER TABLE {table} VALIDATE CONSTRAINT {table}_{col}_not_null;\n  ALTER TABLE {table} ALTER COLUMN {col} SET NOT NULL;\n  ALTER TABLE {table} DROP CONSTRAINT {table}_{col}_not_null;"
            )
        };
        out.push(
            Hit::new(format!(
                "SET NOT NULL on `{table}.{col}` scans the whole table under ACCESS EXCLUSIVE: no validated CHECK ({col} IS NOT NULL) was found before it"
            ))
            .help(format!("Run instead:\n{steps}")),
        );
    }
}
