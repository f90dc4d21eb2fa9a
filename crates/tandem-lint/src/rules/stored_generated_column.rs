//! A STORED generated column is computed for every row when added.

use crate::ast;
use crate::finding::Severity;
use crate::rule::{Hit, Rule};
use crate::state::StmtCx;
use pg_query::protobuf::ConstrType;
use tandem_core::locks::LockMode;

pub const RULE: Rule = Rule {
    id: "stored-generated-column",
    severity: Severity::Error,
    summary: "STORED generated column added to an existing table (table rewrite)",
    lock: Some(LockMode::AccessExclusive),
    rationale: "Adding a GENERATED ALWAYS AS (...) STORED column computes and writes it for \
every row: the table is rewritten under ACCESS EXCLUSIVE.",
    help: "On PostgreSQL 18, use a VIRTUAL generated column (computed on read, no rewrite). \
Otherwise add a plain column, fill it with a trigger for new rows and a batched backfill for \
old ones (tandem's `add_column` with `up:`), or compute it in a view.",
    bad:
        "ALTER TABLE orders ADD COLUMN total_cents bigint GENERATED ALWAYS AS (total * 100) STORED;",
    good: "ALTER TABLE orders ADD COLUMN total_cents bigint;",
    exempt_new_tables: true,
    check,
    finish: None,
};

fn check(cx: &StmtCx<'_>, out: &mut Vec<Hit>) {
    for (table, col) in ast::added_columns(cx.node) {
        let stored = ast::column_constraints(col)
            .any(|c| c.contype() == ConstrType::ConstrGenerated && c.generated_kind != "v");
        if stored {
            let mut hit = Hit::new(format!(
                "adding the STORED generated column `{table}.{}` rewrites the whole table under ACCESS EXCLUSIVE",
                col.colname
            ))
            .at(col.location);
            if cx.pg_version >= 18 {
                hit = hit.help("PostgreSQL 18: write VIRTUAL instead of STORED.");
            }
            out.push(hit);
        }
    }
}
