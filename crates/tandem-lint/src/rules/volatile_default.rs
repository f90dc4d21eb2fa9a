//! A volatile default makes `ADD COLUMN` rewrite the table.

use crate::ast;
use crate::finding::Severity;
use crate::rule::{Hit, Rule};
use crate::state::StmtCx;
use pg_query::protobuf::Node;
use pg_query::{NodeEnum, NodeRef};
use tandem_core::locks::LockMode;

pub const RULE: Rule = Rule {
    id: "volatile-default",
    severity: Severity::Error,
    summary: "column added with a volatile DEFAULT (table rewrite)",
    lock: Some(LockMode::AccessExclusive),
    rationale: "Since PostgreSQL 11 a constant or stable default (`0`, `'x'`, `now()`) is stored \
once in the catalog. A volatile one (`random()`, `gen_random_uuid()`, `clock_timestamp()`, a \
sequence) must be computed per row: the whole table is rewritten under ACCESS EXCLUSIVE.",
    help: "Add the column without the default (or with a constant one), set the volatile \
default afterwards with ALTER COLUMN ... SET DEFAULT (affects new rows only), and backfill \
existing rows in batches. tandem's `add_column` with `up:` does this.",
    bad: "ALTER TABLE orders ADD COLUMN public_id uuid DEFAULT gen_random_uuid();",
    good: "ALTER TABLE orders ADD COLUMN public_id uuid;\nALTER TABLE orders ALTER COLUMN public_id SET DEFAULT gen_random_uuid();",
    exempt_new_tables: true,
    check,
    finish: None,
};

/// Functions known to be volatile.
const VOLATILE: &[&str] = &[
    "random",
    "random_normal",
    "gen_random_uuid",
    "uuidv4",
    "uuidv7",
    "uuid_generate_v1",
    "uuid_generate_v1mc",
    "uuid_generate_v4",
    "clock_timestamp",
    "timeofday",
    "nextval",
    "setval",
    "txid_current",
    "pg_current_xact_id",
];

/// Functions known to be immutable or stable, so a default using them is evaluated once.
const NOT_VOLATILE: &[&str] = &[
    "now",
    "transaction_timestamp",
    "statement_timestamp",
    "lower",
    "upper",
    "concat",
    "jsonb_build_object",
    "json_build_object",
    "jsonb_build_array",
    "json_build_array",
    "to_jsonb",
    "array_fill",
    "make_interval",
    "date_trunc",
    "timezone",
    "current_setting",
];

/// The first function call that makes `expr` volatile (or that tandem does not know).
pub fn volatile_call(expr: &Node) -> Option<String> {
    let node = expr.node.as_ref()?;
    for (r, _, _, _) in node.nodes() {
        if let NodeRef::FuncCall(f) = r {
            let name = ast::strings(&f.funcname).last().map(|s| s.to_string())?;
            if VOLATILE.contains(&name.as_str()) || !NOT_VOLATILE.contains(&name.as_str()) {
                return Some(name);
            }
        }
    }
    None
}

fn check(cx: &StmtCx<'_>, out: &mut Vec<Hit>) {
    if !matches!(cx.node, NodeEnum::AlterTableStmt(_)) {
        return;
    }
    for (table, col) in ast::added_columns(cx.node) {
        let Some(default) = ast::column_default(col) else {
            continue;
        };
        if let Some(func) = volatile_call(default) {
            out.push(
                Hit::new(format!(
                    "the default of `{table}.{}` calls {func}(), which is volatile (or not known to be stable): adding the column rewrites the whole table under ACCESS EXCLUSIVE",
                    col.colname
                ))
                .at(col.location),
            );
        }
    }
}
