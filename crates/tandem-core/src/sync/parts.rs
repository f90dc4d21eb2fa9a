//! What the parts of the sync generator pass each other: the table's names, what goes into the
//! start step, and the steps by the place they take in the plan.

use crate::plan::{Step, TableLock};
use crate::schema::RowCheck;

/// The steps of one table's synced columns, by the place they take in the plan.
#[derive(Default)]
pub(crate) struct TableSteps {
    pub start: Vec<Step>,
    pub backfill: Vec<Step>,
    pub verify: Vec<Step>,
    pub after_backfill: Vec<Step>,
    pub complete: Vec<Step>,
    pub teardown: Vec<Step>,
    pub contract: Vec<Step>,
    pub finalize: Vec<Step>,
    pub rollback_first: Vec<Step>,
    pub rollback: Vec<Step>,
}

/// The version schemas the dual-write trigger tells apart.
pub(crate) struct Versions<'a> {
    /// The physical schema.
    pub schema: &'a str,
    /// The new version schema.
    pub new: &'a str,
    /// The old version schema, when the old version has one.
    pub previous: Option<&'a str>,
}

/// The names of the table being synced, in the forms the statements need.
pub(super) struct SyncedTable<'a> {
    /// The physical schema.
    pub schema: &'a str,
    /// The logical name, which is also the physical name after complete's rename pass.
    pub name: &'a str,
    /// The physical name until complete.
    pub physical: &'a str,
    /// `"schema"."physical"`.
    pub relation: String,
    /// Physical column name until complete → its name after complete, for the columns
    /// complete renames (an index keeps the names its columns had when it was built).
    pub final_names: std::collections::BTreeMap<String, String>,
    /// The partitions, for a partitioned table (its indexes are built per partition).
    pub partitions: Option<&'a [crate::schema::Partition]>,
}

/// What the columns and constraints contribute to the start step, which adds every new column
/// and constraint and the trigger in one transaction, and to the backfill and verification.
#[derive(Default)]
pub(super) struct StartParts {
    /// `ADD COLUMN`s, first: a constraint may span several new columns.
    pub add_columns: Vec<String>,
    /// Defaults, comments and NOT VALID constraints.
    pub statements: Vec<String>,
    pub locks: Vec<TableLock>,
    /// Backfill: (new physical column, `up` over physical columns).
    pub assignments: Vec<(String, String)>,
    /// Verification after the backfill: what every row must satisfy.
    pub checks: Vec<RowCheck>,
    /// Verification again at complete, before anything makes the new columns permanent: the
    /// constraints, and that each row is consistent with the version that wrote it.
    pub complete_checks: Vec<RowCheck>,
}

impl StartParts {
    /// A check that holds at both verifications (a constraint of the new shape).
    pub fn check_always(&mut self, check: RowCheck) {
        self.complete_checks.push(check.clone());
        self.checks.push(check);
    }
}
