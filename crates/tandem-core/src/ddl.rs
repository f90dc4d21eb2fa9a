//! The one place where tandem-core writes the DDL of a zero-downtime change: indexes built
//! CONCURRENTLY (re-runnable), constraints added NOT VALID and validated later, indexes
//! attached as constraints, and the renames of constraints, indexes, columns and tables
//! (including the rename back of a copy to the name of what it replaces).
//!
//! Operations and the sync generator decide *what* to build and *when*; these functions only
//! say how it is written, so every statement of one kind reads the same in every plan.
//! Identifiers go through [`crate::quote`]; SQL fragments (expressions, keyword choices) come in
//! already checked.

use crate::integer_types::integer_type_rank;
use crate::locks::LockMode;
use crate::names::temp_name;
use crate::plan::{lock, Step};
use crate::quote::{ident, literal, qualified};
use crate::schema::{CarriedSequence, Partition};

/// A comma-separated list of quoted identifiers: `"a", "b"`.
pub(crate) fn ident_list(names: &[String]) -> String {
    names
        .iter()
        .map(|n| ident(n))
        .collect::<Vec<_>>()
        .join(", ")
}

/// An index to build without blocking writes.
#[derive(Debug, Default, Clone)]
pub(crate) struct IndexBuild<'a> {
    pub name: &'a str,
    pub unique: bool,
    /// The access method (quoted as an identifier); `None` leaves PostgreSQL's default.
    pub method: Option<&'a str>,
    /// The key elements as SQL: quoted columns, with their collation, opclass and order.
    pub elements: Vec<String>,
    pub nulls_not_distinct: bool,
    /// `WITH (...)` storage parameters, already checked.
    pub storage_parameters: Option<&'a str>,
    /// `WHERE` predicate over physical columns, already rewritten.
    pub predicate: Option<&'a str>,
    /// The table's partitions when it is partitioned: the index is made `ON ONLY` the parent
    /// and built on each partition concurrently (not allowed on a partitioned parent), then
    /// attached, which makes the parent's index valid.
    pub partitions: Option<&'a [Partition]>,
}

impl IndexBuild<'_> {
    /// Key elements from plain physical columns.
    pub(crate) fn columns(columns: &[String]) -> Vec<String> {
        columns.iter().map(|c| ident(c)).collect()
    }
}

/// `COMMENT ON COLUMN`.
pub(crate) fn comment_on_column(relation: &str, column: &str, comment: &str) -> String {
    format!(
        "COMMENT ON COLUMN {relation}.{} IS {}",
        ident(column),
        literal(comment)
    )
}

/// Rollback of a column start added: guarded twice, since it also undoes a start that stopped
/// half way (the table may be gone with a create_table's rollback, the column never added).
pub(crate) fn drop_new_column_step(
    description_table: &str,
    schema: &str,
    table: &str,
    column: &str,
) -> Step {
    Step::sql(
        format!("drop the new column {description_table}.{column}"),
        vec![format!(
            "ALTER TABLE IF EXISTS {} DROP COLUMN IF EXISTS {}",
            qualified(schema, table),
            ident(column)
        )],
        vec![lock(schema, table, LockMode::AccessExclusive)],
    )
}

/// `DROP INDEX CONCURRENTLY IF EXISTS`: also removes the invalid leftover of a failed build.
pub(crate) fn drop_index_concurrently(schema: &str, index: &str) -> String {
    format!(
        "DROP INDEX CONCURRENTLY IF EXISTS {}",
        qualified(schema, index)
    )
}

/// `CREATE INDEX CONCURRENTLY`, preceded by the drop that makes it re-runnable after a crash
/// (a failed concurrent build leaves an invalid index under the name). On a partitioned
/// table, what DBAs do: the parent's index `ON ONLY` (invalid until every partition's is
/// attached), each partition's built concurrently and attached.
pub(crate) fn create_index_concurrently(
    schema: &str,
    table: &str,
    index: &IndexBuild,
) -> Vec<String> {
    let Some(partitions) = index.partitions else {
        return vec![
            drop_index_concurrently(schema, index.name),
            index_definition(
                index,
                index.name,
                "CONCURRENTLY ",
                &qualified(schema, table),
            ),
        ];
    };
    let parent = qualified(schema, index.name);
    let mut out = vec![
        // A partitioned index cannot be dropped concurrently; this one is empty (ON ONLY).
        format!("DROP INDEX IF EXISTS {parent}"),
        index_definition(
            index,
            index.name,
            "",
            &format!("ONLY {}", qualified(schema, table)),
        ),
    ];
    for p in partitions {
        let name = partition_index_name(&p.name, index.name);
        out.push(drop_index_concurrently(&p.schema, &name));
        out.push(index_definition(
            index,
            &name,
            "CONCURRENTLY ",
            &qualified(&p.schema, &p.name),
        ));
        out.push(format!(
            "ALTER INDEX {parent} ATTACH PARTITION {}",
            qualified(&p.schema, &name)
        ));
    }
    out
}

/// Drops an index [`create_index_concurrently`] built (or began): on a partitioned table the
/// partitions' indexes first (concurrently; an unattached one would outlive the parent's),
/// then the parent's, which is empty itself.
pub(crate) fn drop_built_index(
    schema: &str,
    index: &str,
    partitions: Option<&[Partition]>,
) -> Vec<String> {
    let Some(partitions) = partitions else {
        return vec![drop_index_concurrently(schema, index)];
    };
    let mut out = vec![format!("DROP INDEX IF EXISTS {}", qualified(schema, index))];
    for p in partitions {
        out.push(drop_index_concurrently(
            &p.schema,
            &partition_index_name(&p.name, index),
        ));
    }
    out
}

/// The name of a partition's share of an index: the partition's name and a hash of the
/// index's, so that it never carries a helper name into the finished schema and stays within
/// PostgreSQL's 63 bytes.
pub(crate) fn partition_index_name(partition: &str, index: &str) -> String {
    let hash = index.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    let suffix = format!("_idx_{hash:08x}");
    let mut keep = String::new();
    for c in partition.chars() {
        if keep.len() + c.len_utf8() + suffix.len() > crate::versions::MAX_IDENTIFIER_BYTES {
            break;
        }
        keep.push(c);
    }
    format!("{keep}{suffix}")
}

/// `CREATE [UNIQUE] INDEX <concurrently><name> ON <on> [USING ..] (..) ...`.
fn index_definition(index: &IndexBuild, name: &str, concurrently: &str, on: &str) -> String {
    let mut create = format!(
        "CREATE {}INDEX {concurrently}{} ON {on}",
        if index.unique { "UNIQUE " } else { "" },
        ident(name),
    );
    if let Some(method) = index.method {
        create.push_str(&format!(" USING {}", ident(method)));
    }
    create.push_str(&format!(" ({})", index.elements.join(", ")));
    if index.nulls_not_distinct {
        create.push_str(" NULLS NOT DISTINCT");
    }
    if let Some(params) = index.storage_parameters {
        create.push_str(&format!(" WITH ({params})"));
    }
    if let Some(predicate) = index.predicate {
        create.push_str(&format!(" WHERE {predicate}"));
    }
    create
}

/// The step building `index` on `table`: outside a transaction, under SHARE UPDATE EXCLUSIVE
/// (reads and writes go on).
pub(crate) fn build_index_step(
    description: String,
    schema: &str,
    table: &str,
    index: &IndexBuild,
) -> Step {
    Step::sql(
        description,
        create_index_concurrently(schema, table, index),
        vec![lock(schema, table, LockMode::ShareUpdateExclusive)],
    )
    .non_transactional()
}

/// `ADD CONSTRAINT ... CHECK (...) NOT VALID`: new writes are checked at once, existing rows
/// at complete by [`validate_step`].
pub(crate) fn add_check_not_valid(
    relation: &str,
    name: &str,
    expression: &str,
    no_inherit: bool,
) -> String {
    format!(
        "ALTER TABLE {relation} ADD CONSTRAINT {} CHECK ({expression}){} NOT VALID",
        ident(name),
        if no_inherit { " NO INHERIT" } else { "" }
    )
}

/// `ADD CONSTRAINT ... FOREIGN KEY (...) <references> NOT VALID`; `references` comes from
/// [`references_clause`].
pub(crate) fn add_foreign_key_not_valid(
    relation: &str,
    name: &str,
    columns: &[String],
    references: &str,
) -> String {
    format!(
        "ALTER TABLE {relation} ADD CONSTRAINT {} FOREIGN KEY ({}) {references} NOT VALID",
        ident(name),
        ident_list(columns)
    )
}

/// What a foreign key references and its options, every keyword already checked.
#[derive(Debug, Default)]
pub(crate) struct References<'a> {
    pub schema: &'a str,
    pub table: &'a str,
    pub columns: &'a [String],
    pub match_type: Option<&'a str>,
    pub on_delete: Option<&'a str>,
    pub on_update: Option<&'a str>,
    pub deferrable: bool,
    pub initially_deferred: bool,
}

/// `REFERENCES "s"."t" ("c") [MATCH ..] [ON DELETE ..] [ON UPDATE ..] [DEFERRABLE ..]`.
pub(crate) fn references_clause(r: &References) -> String {
    let mut out = format!(
        "REFERENCES {} ({})",
        qualified(r.schema, r.table),
        ident_list(r.columns)
    );
    if let Some(m) = r.match_type {
        out.push_str(&format!(" MATCH {m}"));
    }
    if let Some(a) = r.on_delete {
        out.push_str(&format!(" ON DELETE {a}"));
    }
    if let Some(a) = r.on_update {
        out.push_str(&format!(" ON UPDATE {a}"));
    }
    out.push_str(deferrable_clause(r.deferrable, r.initially_deferred));
    out
}

/// ` DEFERRABLE [INITIALLY DEFERRED]`, or nothing.
pub(crate) fn deferrable_clause(deferrable: bool, initially_deferred: bool) -> &'static str {
    match (deferrable, initially_deferred) {
        (true, true) => " DEFERRABLE INITIALLY DEFERRED",
        (true, false) => " DEFERRABLE",
        _ => "",
    }
}

/// `VALIDATE CONSTRAINT` scans the table under SHARE UPDATE EXCLUSIVE, so reads and writes go
/// on; a foreign key also takes ROW SHARE on the table it references.
pub(crate) fn validate_step(
    schema: &str,
    table: &str,
    constraint: &str,
    referenced: Option<&str>,
) -> Step {
    let mut locks = vec![lock(schema, table, LockMode::ShareUpdateExclusive)];
    if let Some(r) = referenced {
        locks.push(lock(schema, r, LockMode::RowShare));
    }
    Step::sql(
        format!("validate constraint {constraint}"),
        vec![format!(
            "ALTER TABLE {} VALIDATE CONSTRAINT {}",
            qualified(schema, table),
            ident(constraint)
        )],
        locks,
    )
}

/// The constraint an index built CONCURRENTLY becomes at complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IndexConstraint {
    Unique,
    PrimaryKey,
}

impl IndexConstraint {
    fn sql(self) -> &'static str {
        match self {
            IndexConstraint::Unique => "UNIQUE",
            IndexConstraint::PrimaryKey => "PRIMARY KEY",
        }
    }
}

/// `ADD CONSTRAINT ... UNIQUE USING INDEX ...`: instant, the index is already built.
pub(crate) fn attach_index_step(
    description: String,
    schema: &str,
    table: &str,
    constraint: &str,
    kind: IndexConstraint,
    index: &str,
) -> Step {
    Step::sql(
        description,
        vec![format!(
            "ALTER TABLE {} ADD CONSTRAINT {} {} USING INDEX {}",
            qualified(schema, table),
            ident(constraint),
            kind.sql(),
            ident(index)
        )],
        vec![lock(schema, table, LockMode::AccessExclusive)],
    )
}

/// `ALTER TABLE ... RENAME CONSTRAINT`.
pub(crate) fn rename_constraint_step(
    description: String,
    schema: &str,
    table: &str,
    from: &str,
    to: &str,
) -> Step {
    Step::sql(
        description,
        vec![format!(
            "ALTER TABLE {} RENAME CONSTRAINT {} TO {}",
            qualified(schema, table),
            ident(from),
            ident(to)
        )],
        vec![lock(schema, table, LockMode::AccessExclusive)],
    )
}

/// A copy's constraint takes back the name of the constraint it replaces, at complete.
pub(crate) fn constraint_name_back(
    schema: &str,
    table: &str,
    name: &str,
    final_name: &str,
) -> Step {
    rename_constraint_step(
        format!("give constraint {final_name} its name back"),
        schema,
        table,
        name,
        final_name,
    )
}

/// A copy's index takes back the name of the index it replaces, at complete.
pub(crate) fn index_name_back(schema: &str, table: &str, name: &str, final_name: &str) -> Step {
    Step::sql(
        format!("give index {final_name} its name back"),
        vec![format!(
            "ALTER INDEX {} RENAME TO {}",
            qualified(schema, name),
            ident(final_name)
        )],
        vec![lock(schema, table, LockMode::ShareUpdateExclusive)],
    )
}

/// Renames the columns of an index (`ALTER TABLE <index> RENAME COLUMN`, which PostgreSQL
/// accepts for indexes), for each `(from, to)`.
pub(crate) fn index_column_names_back(
    schema: &str,
    table: &str,
    index: &str,
    renames: &[(&str, &str)],
) -> Step {
    Step::sql(
        format!("give the columns of index {index} their final names"),
        renames
            .iter()
            .map(|(from, to)| {
                format!(
                    "ALTER TABLE {} RENAME COLUMN {} TO {}",
                    qualified(schema, index),
                    ident(from),
                    ident(to)
                )
            })
            .collect(),
        vec![lock(schema, table, LockMode::ShareUpdateExclusive)],
    )
}

/// `ALTER TABLE ... RENAME COLUMN` for each `(from, to)`, in one step.
pub(crate) fn rename_columns_step(
    description: String,
    schema: &str,
    table: &str,
    renames: &[(&str, &str)],
) -> Step {
    Step::sql(
        description,
        renames
            .iter()
            .map(|(from, to)| {
                format!(
                    "ALTER TABLE {} RENAME COLUMN {} TO {}",
                    qualified(schema, table),
                    ident(from),
                    ident(to)
                )
            })
            .collect(),
        vec![lock(schema, table, LockMode::AccessExclusive)],
    )
}

/// `ALTER TABLE ... RENAME TO`.
pub(crate) fn rename_table_step(schema: &str, from: &str, to: &str) -> Step {
    Step::sql(
        format!("rename table {from} to {to}"),
        vec![format!(
            "ALTER TABLE {} RENAME TO {}",
            qualified(schema, from),
            ident(to)
        )],
        vec![lock(schema, from, LockMode::AccessExclusive)],
    )
}

/// The smallest and largest value of an integer type (by [`integer_type_rank`]'s rank).
fn integer_bounds(rank: u8) -> (i64, i64) {
    match rank {
        1 => (i64::from(i16::MIN), i64::from(i16::MAX)),
        2 => (i64::from(i32::MIN), i64::from(i32::MAX)),
        _ => (i64::MIN, i64::MAX),
    }
}

/// The statements complete runs to hand a column's sequence from the old column to its copy
/// `new_column` (of `new_type`), in the transaction that drops the old column: those that
/// must come before the drop and those that must come after.
///
/// A `serial`-style sequence changes owner (`OWNED BY`), so dropping the old column no longer
/// drops it, and widens with the column (`AS bigint`: PostgreSQL moves a default maximum
/// along). An identity column's sequence belongs to it for good, so the copy becomes an
/// identity column with a sequence of its own, made with the same options and brought to the
/// same position, and takes the old sequence's name once the old column is gone.
pub(crate) fn sequence_handoff(
    relation: &str,
    new_column: &str,
    new_type: &str,
    carried: &CarriedSequence,
) -> (Vec<String>, Vec<String>) {
    let seq = &carried.sequence;
    let old = qualified(&seq.schema, &seq.name);
    let new_rank = integer_type_rank(new_type);
    let old_rank = integer_type_rank(&seq.data_type);
    let Some(always) = carried.identity_always else {
        let mut before = Vec::new();
        if let (Some(n), Some(o)) = (new_rank, old_rank) {
            if n > o {
                before.push(format!("ALTER SEQUENCE {old} AS {}", new_type.trim()));
            }
        }
        before.push(format!(
            "ALTER SEQUENCE {old} OWNED BY {relation}.{}",
            ident(new_column)
        ));
        return (before, Vec::new());
    };
    let temp = qualified(&seq.schema, &temp_name("seq", &seq.name));
    let (type_min, type_max) = integer_bounds(old_rank.unwrap_or(3));
    let ascending = seq.increment > 0;
    let mut options = format!(
        "SEQUENCE NAME {temp} INCREMENT BY {} START WITH {}",
        seq.increment, seq.start
    );
    // Bounds that were the old type's defaults become the new type's.
    let default_min = if ascending { 1 } else { type_min };
    let default_max = if ascending { type_max } else { -1 };
    if seq.min_value != default_min {
        options.push_str(&format!(" MINVALUE {}", seq.min_value));
    }
    if seq.max_value != default_max {
        options.push_str(&format!(" MAXVALUE {}", seq.max_value));
    }
    options.push_str(&format!(
        " CACHE {} {}CYCLE",
        seq.cache,
        if seq.cycle { "" } else { "NO " }
    ));
    let column = ident(new_column);
    let before = vec![
        format!("ALTER TABLE {relation} ALTER COLUMN {column} DROP DEFAULT"),
        format!(
            "ALTER TABLE {relation} ALTER COLUMN {column} ADD GENERATED {} AS IDENTITY ({options})",
            if always { "ALWAYS" } else { "BY DEFAULT" }
        ),
        format!(
            "SELECT setval({}, last_value, is_called) FROM {old}",
            literal(&temp)
        ),
    ];
    let after = vec![format!(
        "ALTER SEQUENCE {temp} RENAME TO {}",
        ident(&seq.name)
    )];
    (before, after)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_concurrent_index_is_rerunnable_and_keeps_its_clauses_in_order() {
        let build = IndexBuild {
            name: "Ix",
            unique: true,
            method: Some("btree"),
            elements: IndexBuild::columns(&["a".into(), "B".into()]),
            nulls_not_distinct: true,
            storage_parameters: Some("fillfactor=70"),
            predicate: Some("\"a\" > 0"),
            partitions: None,
        };
        assert_eq!(
            create_index_concurrently("s", "T", &build),
            vec![
                r#"DROP INDEX CONCURRENTLY IF EXISTS "s"."Ix""#.to_string(),
                r#"CREATE UNIQUE INDEX CONCURRENTLY "Ix" ON "s"."T" USING "btree" ("a", "B") NULLS NOT DISTINCT WITH (fillfactor=70) WHERE "a" > 0"#.to_string(),
            ]
        );
        let step = build_index_step("b".into(), "s", "T", &build);
        assert!(
            !step.transactional,
            "CONCURRENTLY cannot run in a transaction"
        );
        assert_eq!(step.locks[0].mode, LockMode::ShareUpdateExclusive);
    }

    #[test]
    fn a_partitioned_index_is_made_on_only_the_parent_and_attached_per_partition() {
        let parts = vec![
            Partition {
                schema: "s".into(),
                name: "T_2025".into(),
                partitioned: false,
            },
            Partition {
                schema: "other".into(),
                name: "T_rest".into(),
                partitioned: false,
            },
        ];
        let build = IndexBuild {
            name: "_tandem_index_ix",
            elements: IndexBuild::columns(&["a".into()]),
            partitions: Some(&parts),
            ..IndexBuild::default()
        };
        let sql = create_index_concurrently("s", "T", &build);
        let p1 = partition_index_name("T_2025", "_tandem_index_ix");
        assert!(!p1.contains("_tandem"), "{p1}");
        assert_eq!(sql[0], r#"DROP INDEX IF EXISTS "s"."_tandem_index_ix""#);
        assert_eq!(
            sql[1],
            r#"CREATE INDEX "_tandem_index_ix" ON ONLY "s"."T" ("a")"#
        );
        assert_eq!(
            sql[3],
            format!(r#"CREATE INDEX CONCURRENTLY "{p1}" ON "s"."T_2025" ("a")"#)
        );
        assert_eq!(
            sql[4],
            format!(r#"ALTER INDEX "s"."_tandem_index_ix" ATTACH PARTITION "s"."{p1}""#)
        );
        assert_eq!(sql.len(), 8, "three statements per partition");
        assert!(sql[7].contains(r#""other"."T_rest_idx_"#), "{}", sql[7]);
        assert!(partition_index_name(&"p".repeat(80), "i").len() <= 63);
    }

    #[test]
    fn a_serial_sequence_changes_owner_and_widens_an_identity_is_remade() {
        let sequence = crate::schema::Sequence {
            schema: "s".into(),
            name: "t_id_seq".into(),
            data_type: "integer".into(),
            increment: 1,
            min_value: 1,
            max_value: i64::from(i32::MAX),
            start: 1,
            cache: 1,
            cycle: false,
        };
        let serial = CarriedSequence {
            sequence: sequence.clone(),
            identity_always: None,
        };
        let (before, after) = sequence_handoff(r#""s"."t""#, "_tandem_new_id", "bigint", &serial);
        assert_eq!(
            before,
            vec![
                r#"ALTER SEQUENCE "s"."t_id_seq" AS bigint"#.to_string(),
                r#"ALTER SEQUENCE "s"."t_id_seq" OWNED BY "s"."t"."_tandem_new_id""#.to_string(),
            ]
        );
        assert!(after.is_empty());
        let identity = CarriedSequence {
            sequence,
            identity_always: Some(true),
        };
        let (before, after) = sequence_handoff(r#""s"."t""#, "_tandem_new_id", "bigint", &identity);
        assert_eq!(
            before[1],
            r#"ALTER TABLE "s"."t" ALTER COLUMN "_tandem_new_id" ADD GENERATED ALWAYS AS IDENTITY (SEQUENCE NAME "s"."_tandem_seq_t_id_seq" INCREMENT BY 1 START WITH 1 CACHE 1 NO CYCLE)"#,
            "the old type's default maximum is left to the new type"
        );
        assert_eq!(
            after,
            vec![r#"ALTER SEQUENCE "s"."_tandem_seq_t_id_seq" RENAME TO "t_id_seq""#.to_string()]
        );
    }

    #[test]
    fn references_write_only_the_options_given() {
        let cols = vec!["id".to_string()];
        let r = References {
            schema: "s",
            table: "t",
            columns: &cols,
            on_delete: Some("CASCADE"),
            deferrable: true,
            ..References::default()
        };
        assert_eq!(
            references_clause(&r),
            r#"REFERENCES "s"."t" ("id") ON DELETE CASCADE DEFERRABLE"#
        );
        assert_eq!(
            add_foreign_key_not_valid(r#""s"."u""#, "fk", &["t_id".into()], &references_clause(&r)),
            r#"ALTER TABLE "s"."u" ADD CONSTRAINT "fk" FOREIGN KEY ("t_id") REFERENCES "s"."t" ("id") ON DELETE CASCADE DEFERRABLE NOT VALID"#
        );
    }

    #[test]
    fn validation_locks_the_referenced_table_lightly() {
        let step = validate_step("s", "t", "fk", Some("u"));
        assert_eq!(
            step.statements(),
            vec![r#"ALTER TABLE "s"."t" VALIDATE CONSTRAINT "fk""#]
        );
        assert_eq!(
            step.locks.iter().map(|l| l.mode).collect::<Vec<_>>(),
            vec![LockMode::ShareUpdateExclusive, LockMode::RowShare]
        );
    }

    #[test]
    fn renames_quote_both_names() {
        assert_eq!(
            constraint_name_back("s", "T", "_tandem_check_c", "C").statements(),
            vec![r#"ALTER TABLE "s"."T" RENAME CONSTRAINT "_tandem_check_c" TO "C""#]
        );
        assert_eq!(
            index_name_back("s", "T", "_tandem_index_i", "I").statements(),
            vec![r#"ALTER INDEX "s"."_tandem_index_i" RENAME TO "I""#]
        );
        assert_eq!(
            attach_index_step("a".into(), "s", "T", "k", IndexConstraint::PrimaryKey, "k")
                .statements(),
            vec![r#"ALTER TABLE "s"."T" ADD CONSTRAINT "k" PRIMARY KEY USING INDEX "k""#]
        );
    }
}
