//! Dropping a column breaks the application version that still reads it.

use crate::ast;
use crate::finding::Severity;
use crate::rule::{Hit, Rule};
use crate::state::StmtCx;
use pg_query::protobuf::AlterTableType;
use tandem_core::locks::LockMode;

pub const RULE: Rule = Rule {
    id: "drop-column",
    severity: Severity::Error,
    summary: "column dropped",
    lock: Some(LockMode::AccessExclusive),
    rationale: "The drop itself is instant, but the application still running during the \
deploy selects or inserts the column and fails (ORMs list every column they know). The data \
is gone, with no way back.",
    help: "First deploy code that no longer uses the column (Rails `ignored_columns`, Django \
`SeparateDatabaseAndState`), then drop it; tandem's `drop_column` operation keeps the column \
for the old version until the migration completes.",
    bad: "ALTER TABLE users DROP COLUMN legacy_token;",
    good: "COMMENT ON COLUMN users.legacy_token IS 'unused, to be dropped';",
    exempt_new_tables: true,
    check,
    finish: None,
};

fn check(cx: &StmtCx<'_>, out: &mut Vec<Hit>) {
    for (table, cmd) in ast::alter_cmds_of(cx.node, AlterTableType::AtDropColumn) {
        out.push(
            Hit::new(format!(
                "dropping `{table}.{}` breaks the application code still reading it, and loses its data",
                cmd.name
            ))
            .help(format!(
                "tandem operation:\n  - drop_column:\n      table: {table}\n      column: {}",
                cmd.name
            )),
        );
    }
}
