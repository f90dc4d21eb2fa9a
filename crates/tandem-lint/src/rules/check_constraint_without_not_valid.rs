//! `ADD CONSTRAINT ... CHECK` validates every row under ACCESS EXCLUSIVE.

use crate::ast;
use crate::finding::Severity;
use crate::rule::{Hit, Rule};
use crate::state::StmtCx;
use pg_query::protobuf::ConstrType;
use tandem_core::locks::LockMode;

pub const RULE: Rule = Rule {
    id: "check-constraint-without-not-valid",
    severity: Severity::Error,
    summary: "CHECK constraint added without NOT VALID",
    lock: Some(LockMode::AccessExclusive),
    rationale: "Adding a CHECK constraint scans the whole table to validate it while holding \
ACCESS EXCLUSIVE: no reads, no writes until the scan ends.",
    help: "Add it NOT VALID (instant; new rows are checked), then VALIDATE CONSTRAINT in a \
separate transaction, which only takes SHARE UPDATE EXCLUSIVE. tandem's `create_constraint` \
operation does both.",
    bad: "ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total >= 0);",
    good: "ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total >= 0) NOT VALID;",
    exempt_new_tables: true,
    check,
    finish: None,
};

fn check(cx: &StmtCx<'_>, out: &mut Vec<Hit>) {
    for (table, c) in ast::added_constraints(cx.node) {
        if c.contype() != ConstrType::ConstrCheck || c.skip_validation || !c.is_enforced {
            continue;
        }
        let expr = c
            .raw_expr
            .as_deref()
            .and_then(ast::expr_sql)
            .unwrap_or_else(|| "...".into());
        let name = if c.conname.is_empty() {
            format!("CHECK ({expr})")
        } else {
            format!("CHECK constraint `{}`", c.conname)
        };
        out.push(
            Hit::new(format!(
                "adding {name} scans all of `{table}` under ACCESS EXCLUSIVE to validate it"
            ))
            .at(c.location)
            .help(format!(
                "Run instead:\n  ALTER TABLE {table} ADD CONSTRAINT {n} CHECK ({expr}) NOT VALID;\n  -- then, in another transaction:\n  ALTER TABLE {table} VALIDATE CONSTRAINT {n};",
                n = if c.conname.is_empty() { "<name>" } else { &c.conname }
            )),
        );
    }
}
