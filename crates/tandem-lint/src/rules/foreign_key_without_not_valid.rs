//! A foreign key added without `NOT VALID` scans the table while blocking writes to both.

use crate::ast;
use crate::finding::Severity;
use crate::rule::{Hit, Rule};
use crate::state::StmtCx;
use pg_query::protobuf::ConstrType;
use tandem_core::locks::LockMode;

pub const RULE: Rule = Rule {
    id: "foreign-key-without-not-valid",
    severity: Severity::Error,
    summary: "FOREIGN KEY added without NOT VALID",
    lock: Some(LockMode::ShareRowExclusive),
    rationale: "Adding a foreign key validates every existing row while holding SHARE ROW \
EXCLUSIVE on both the table and the referenced table: writes to both wait for the scan.",
    help: "Add the foreign key NOT VALID, then VALIDATE CONSTRAINT in a separate transaction \
(tandem's `create_constraint` with `type: foreign_key` does both).",
    bad: "ALTER TABLE orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id);",
    good: "ALTER TABLE orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id) NOT VALID;",
    exempt_new_tables: true,
    check,
    finish: None,
};

fn check(cx: &StmtCx<'_>, out: &mut Vec<Hit>) {
    // The scan is over the referencing table: a table created in this file is empty, even
    // though the referenced table (also locked) is not new.
    if ast::alter_table(cx.node).is_some_and(|(_, t)| cx.is_new_table(&t)) {
        return;
    }
    for (table, c) in ast::added_constraints(cx.node) {
        if c.contype() == ConstrType::ConstrForeign && !c.skip_validation {
            out.push(fk_hit(
                &table,
                &c.conname,
                &ast::rv_name(c.pktable.as_ref()),
                c.location,
            ));
        }
    }
    // `ADD COLUMN ... REFERENCES` creates the same constraint, validated; but a new column
    // with no default is NULL in every row, so there is nothing to check and PostgreSQL
    // skips the scan.
    for (table, col) in ast::added_columns(cx.node) {
        if !has_non_null_default(col) {
            continue;
        }
        for c in ast::column_constraints(col) {
            if c.contype() == ConstrType::ConstrForeign && !c.skip_validation {
                out.push(fk_hit(
                    &table,
                    &c.conname,
                    &ast::rv_name(c.pktable.as_ref()),
                    c.location,
                ));
            }
        }
    }
}

fn fk_hit(table: &str, name: &str, referenced: &str, location: i32) -> Hit {
    let name = if name.is_empty() { "<name>" } else { name };
    Hit::new(format!(
        "adding a foreign key validates all of `{table}` while blocking writes to `{table}` and `{referenced}`"
    ))
    .at(location)
    .help(format!(
        "Add it with NOT VALID, then in another transaction:\n  ALTER TABLE {table} VALIDATE CONSTRAINT {name};"
    ))
}

/// A default other than `NULL`: existing rows get a value the foreign key must check.
fn has_non_null_default(col: &pg_query::protobuf::ColumnDef) -> bool {
    ast::column_default(col)
        .is_some_and(|d| !matches!(&d.node, Some(pg_query::NodeEnum::AConst(c)) if c.isnull))
}
