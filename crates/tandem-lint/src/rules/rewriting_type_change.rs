//! Most column type changes rewrite the table; a few are catalog-only.

use crate::ast::{self, TypeInfo};
use crate::finding::Severity;
use crate::rule::{Hit, Rule};
use crate::state::StmtCx;
use pg_query::protobuf::AlterTableType;
use tandem_core::locks::LockMode;

pub const RULE: Rule = Rule {
    id: "rewriting-type-change",
    severity: Severity::Error,
    summary: "column type change that rewrites or scans the table",
    lock: Some(LockMode::AccessExclusive),
    rationale: "ALTER COLUMN ... TYPE rewrites the table and all its indexes under ACCESS \
EXCLUSIVE, except for the binary-compatible changes PostgreSQL does in the catalog only: \
varchar(n) to a longer varchar or to text, text to varchar, numeric(p,s) to a larger \
precision with the same scale or to unconstrained numeric, varbit(n) to a longer varbit, cidr \
to inet. tandem knows the column's current type when the linted migrations created it.",
    help: "Add a new column of the new type, keep both in sync and backfill, then switch: \
tandem's `alter_column` with `type:`, `up:` and `down:` does exactly this with no lock held \
beyond an instant.",
    bad: "ALTER TABLE orders ALTER COLUMN total TYPE numeric(12,2);",
    good: "CREATE TABLE notes (id bigint PRIMARY KEY, body varchar(200));\nALTER TABLE notes ALTER COLUMN body TYPE varchar(500);\nALTER TABLE notes ALTER COLUMN body TYPE text;",
    exempt_new_tables: true,
    check,
    finish: None,
};

/// Whether changing `old` to `new` is binary compatible (no rewrite, no scan). `utc`: the
/// session time zone is UTC, where PostgreSQL 12+ changes timestamp to timestamptz (and
/// back) in the catalog only, as the stored values do not change.
pub fn is_catalog_only(old: &TypeInfo, new: &TypeInfo, utc: bool) -> bool {
    if old.array != new.array {
        return false;
    }
    let widens = |o: &[i64], n: &[i64]| match (o.first(), n.first()) {
        (_, None) => true,
        (Some(o), Some(n)) => n >= o,
        (None, Some(_)) => false,
    };
    match (old.name.as_str(), new.name.as_str()) {
        ("varchar", "varchar") | ("varbit", "varbit") => widens(&old.mods, &new.mods),
        ("varchar", "text") | ("text", "text") => true,
        ("text", "varchar") => new.mods.is_empty(),
        ("numeric", "numeric") => {
            new.mods.is_empty()
                || (widens(&old.mods, &new.mods)
                    && old.mods.get(1) == new.mods.get(1)
                    && !old.mods.is_empty())
        }
        ("cidr", "inet") => true,
        ("timestamp", "timestamptz") | ("timestamptz", "timestamp") => {
            utc && (new.mods.is_empty() || widens(&old.mods, &new.mods))
        }
        (o, n) => o == n && old.mods == new.mods,
    }
}

fn check(cx: &StmtCx<'_>, out: &mut Vec<Hit>) {
    for (table, cmd) in ast::alter_cmds_of(cx.node, AlterTableType::AtAlterColumnType) {
        let Some(def) = ast::cmd_column(cmd) else {
            continue;
        };
        let Some(new) = def.type_name.as_ref().map(TypeInfo::of) else {
            continue;
        };
        let col = &cmd.name;
        // USING means PostgreSQL must compute every value again.
        let using = def.raw_default.is_some();
        let message = match cx.run.schema.column_type(&table, col) {
            Some(old) if !using && is_catalog_only(old, &new, cx.file.utc_session()) => continue,
            Some(old)
                if matches!(
                    (old.name.as_str(), new.name.as_str()),
                    ("timestamp", "timestamptz") | ("timestamptz", "timestamp")
                ) && !using =>
            {
                format!(
                    "changing `{table}.{col}` from {} to {} rewrites the table under ACCESS EXCLUSIVE unless the session time zone is UTC (then it is catalog-only); set `SET TIME ZONE 'UTC';` before it, or `time_zone = \"UTC\"` in tandem.toml's [lint] if your migrations run in UTC",
                    old.display(),
                    new.display()
                )
            }
            Some(old) => format!(
                "changing `{table}.{col}` from {} to {} rewrites the table and its indexes under ACCESS EXCLUSIVE",
                old.display(),
                new.display()
            ),
            None => format!(
                "changing `{table}.{col}` to {} rewrites the table under ACCESS EXCLUSIVE unless the current type is binary-compatible (for example varchar to text); tandem did not see the column's current type in the linted files",
                new.display()
            ),
        };
        out.push(Hit::new(message).at(def.location).help(format!(
            "Use tandem's operation instead:\n  - alter_column:\n      table: {table}\n      column: {col}\n      type: {}\n      up: <SQL converting {col} to the new type>\n      down: <SQL converting back>",
            new.display()
        )));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(name: &str, mods: &[i64]) -> TypeInfo {
        TypeInfo {
            name: name.into(),
            mods: mods.to_vec(),
            array: false,
        }
    }

    #[test]
    fn knows_the_catalog_only_changes() {
        assert!(is_catalog_only(
            &t("timestamp", &[]),
            &t("timestamptz", &[]),
            true
        ));
        assert!(is_catalog_only(
            &t("varchar", &[10]),
            &t("varchar", &[20]),
            false
        ));
        assert!(is_catalog_only(
            &t("varchar", &[10]),
            &t("text", &[]),
            false
        ));
        assert!(is_catalog_only(
            &t("numeric", &[10, 2]),
            &t("numeric", &[12, 2]),
            false
        ));
        assert!(is_catalog_only(
            &t("numeric", &[10, 2]),
            &t("numeric", &[]),
            false
        ));
        assert!(!is_catalog_only(
            &t("numeric", &[10, 2]),
            &t("numeric", &[12, 3]),
            false
        ));
        assert!(!is_catalog_only(
            &t("varchar", &[20]),
            &t("varchar", &[10]),
            false
        ));
        assert!(!is_catalog_only(&t("int4", &[]), &t("int8", &[]), false));
        assert!(!is_catalog_only(
            &t("timestamp", &[]),
            &t("timestamptz", &[]),
            false
        ));
    }
}
