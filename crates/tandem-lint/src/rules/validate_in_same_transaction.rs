//! Validating a constraint in the transaction that added it keeps the ACCESS EXCLUSIVE lock.

use crate::ast;
use crate::finding::Severity;
use crate::rule::{Hit, Rule};
use crate::state::StmtCx;
use pg_query::protobuf::AlterTableType;
use tandem_core::locks::LockMode;

pub const RULE: Rule = Rule {
    id: "validate-in-same-transaction",
    severity: Severity::Error,
    summary: "VALIDATE CONSTRAINT in the same transaction as its NOT VALID add",
    lock: Some(LockMode::AccessExclusive),
    rationale: "NOT VALID only helps if the validation runs later: in the same transaction, the \
ACCESS EXCLUSIVE lock of the ADD is still held during the VALIDATE scan, exactly as if NOT \
VALID had not been written.",
    help: "COMMIT after adding the constraint NOT VALID and VALIDATE it in a new transaction (or \
a later migration).",
    bad: "BEGIN;\nALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total >= 0) NOT VALID;\nALTER TABLE orders VALIDATE CONSTRAINT orders_total_positive;\nCOMMIT;",
    good: "BEGIN;\nALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total >= 0) NOT VALID;\nCOMMIT;\nBEGIN;\nALTER TABLE orders VALIDATE CONSTRAINT orders_total_positive;\nCOMMIT;",
    exempt_new_tables: true,
    check,
    finish: None,
};

fn check(cx: &StmtCx<'_>, out: &mut Vec<Hit>) {
    for (table, cmd) in ast::alter_cmds_of(cx.node, AlterTableType::AtValidateConstraint) {
        if cx
            .file
            .not_valid_in_tx
            .contains(&(table.clone(), cmd.name.clone()))
        {
            out.push(Hit::new(format!(
                "`{}` was added NOT VALID in this same transaction: validating it now holds ACCESS EXCLUSIVE on `{table}` during the scan",
                cmd.name
            )));
        }
    }
}
