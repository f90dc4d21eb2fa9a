//! Adding serial/bigserial or an identity column fills every row: a rewrite.

use crate::ast;
use crate::finding::Severity;
use crate::rule::{Hit, Rule};
use crate::state::StmtCx;
use pg_query::protobuf::ConstrType;
use tandem_core::locks::LockMode;

pub const RULE: Rule = Rule {
    id: "serial-column-on-existing-table",
    severity: Severity::Error,
    summary: "serial/bigserial or identity column added to an existing table (table rewrite)",
    lock: Some(LockMode::AccessExclusive),
    rationale: "A serial or identity column gets a value from a sequence for every existing row: \
PostgreSQL rewrites the table under ACCESS EXCLUSIVE.",
    help: "Add a plain bigint column, create the sequence and set it as the column's default \
(new rows only), backfill old rows in batches, then add the constraints. Or create a new \
table and copy.",
    bad: "ALTER TABLE events ADD COLUMN seq bigserial;",
    good: "ALTER TABLE events ADD COLUMN seq bigint;",
    exempt_new_tables: true,
    check,
    finish: None,
};

fn check(cx: &StmtCx<'_>, out: &mut Vec<Hit>) {
    for (table, col) in ast::added_columns(cx.node) {
        let ty = col.type_name.as_ref().map(ast::TypeInfo::of);
        let serial = ty.as_ref().is_some_and(|t| t.name.ends_with("serial"));
        let identity = ast::has_column_constraint(col, ConstrType::ConstrIdentity);
        if serial || identity {
            let what = if serial { "a serial" } else { "an identity" };
            out.push(
                Hit::new(format!(
                    "adding {what} column `{table}.{}` fills every row from a sequence: the table is rewritten under ACCESS EXCLUSIVE",
                    col.colname
                ))
                .at(col.location),
            );
        }
    }
}
