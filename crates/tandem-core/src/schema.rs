//! The logical schema: what a version of the application sees.
//!
//! Each table and column has a logical name (what the version's views call it) and a physical
//! name (what the table and column are called in the database). Between `start` and `complete`
//! the two differ, e.g. after a rename; operations read and change this model, and the version
//! schema's views are generated from it.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Schema {
    /// The physical schema holding the tables, e.g. `public`.
    pub name: String,
    pub tables: Vec<Table>,
    /// Names of the enum, domain and composite types of the schema (for messages only).
    #[serde(default)]
    pub types: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Table {
    pub name: String,
    pub physical: String,
    pub columns: Vec<Column>,
    /// Logical names of the primary key's columns, in key order.
    pub primary_key: Vec<String>,
    pub constraints: Vec<Constraint>,
    pub indexes: Vec<Index>,
    /// Estimated number of rows (from the planner statistics), for messages and plans.
    pub estimated_rows: i64,
    /// True when the table is created by the migration being planned: nothing else uses it yet,
    /// so it needs no lock care.
    #[serde(default)]
    pub created_here: bool,
    /// Columns kept in sync between the old and the new version by dual-write triggers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sync: Vec<SyncColumn>,
    /// Constraints over several new columns (create_constraint), built with the new columns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub new_constraints: Vec<NewTableConstraint>,
    /// For a partitioned table: how it is partitioned and its partitions, read at plan time
    /// (an index is built per partition; a partition added later gets its copy of the
    /// parent's indexes from PostgreSQL itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partitioning: Option<Partitioning>,
}

/// How a partitioned table is partitioned.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Partitioning {
    /// The partition key's plain columns (physical names); an expression key has none here.
    pub key_columns: Vec<String>,
    /// The key has expressions besides columns.
    #[serde(default)]
    pub key_has_expressions: bool,
    pub partitions: Vec<Partition>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Partition {
    /// Physical schema and name (a partition may live in another schema).
    pub schema: String,
    pub name: String,
    /// The partition is partitioned in turn.
    #[serde(default)]
    pub partitioned: bool,
}

/// A constraint create_constraint puts on the new version's columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewTableConstraint {
    pub name: String,
    /// The name it takes at complete, when it stands in for a constraint of the old columns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_name: Option<String>,
    pub kind: ConstraintKind,
    /// Physical (new) columns.
    pub columns: Vec<String>,
    /// CHECK: the expression over physical columns.
    pub expression: Option<String>,
    /// FOREIGN KEY: referenced physical table and columns, and the ON DELETE action.
    pub references: Option<(String, Vec<String>, Option<String>)>,
    /// FOREIGN KEY: the ON UPDATE action and MATCH type, already checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_update: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_type: Option<String>,
    pub nulls_not_distinct: bool,
    /// CHECK: `NO INHERIT` (the table's children do not get it).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_inherit: bool,
}

/// A pair of physical columns that the old and the new version see as one logical column
/// (or a column only one side has), and how each side's value is computed from the other's.
///
/// Expressions are SQL over the row's physical column names (quoted, unqualified): the
/// trigger qualifies them with `NEW.`, the backfill uses them as they are.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SyncColumn {
    /// The column the old version reads and writes; None for a column the migration adds.
    pub old_physical: Option<String>,
    /// The column the new version reads and writes; None for a column the migration drops.
    pub new_physical: Option<String>,
    /// Computes `new_physical` for rows the old version writes (and for existing rows).
    pub up: Option<String>,
    /// Computes `old_physical` for rows the new version writes.
    pub down: Option<String>,
    /// The column tandem adds for the new version, when it adds one.
    pub new_column: Option<NewColumn>,
}

/// A column tandem adds beside an old one (or for add_column with `up`), and everything that
/// must hold for it once complete.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NewColumn {
    pub data_type: String,
    pub default: Option<String>,
    pub not_null: bool,
    pub comment: Option<String>,
    /// CHECK constraints (expressions over physical columns), added NOT VALID at start.
    pub checks: Vec<NewCheck>,
    pub foreign_keys: Vec<NewForeignKey>,
    /// UNIQUE constraints to attach at complete (their indexes are built CONCURRENTLY).
    pub unique: Vec<String>,
    /// Indexes of the old column, rebuilt CONCURRENTLY on the new one.
    pub indexes: Vec<CarriedIndex>,
    /// The old column's sequence, handed to the new column at complete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence: Option<CarriedSequence>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewCheck {
    /// The name it has until complete.
    pub name: String,
    /// The name it takes at complete (a carried-over constraint gets its old name back).
    pub final_name: String,
    pub expression: String,
    /// `NO INHERIT`: the table's children do not get it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_inherit: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewForeignKey {
    pub name: String,
    pub table: String,
    pub column: String,
    pub on_delete: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_update: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_type: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deferrable: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub initially_deferred: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CarriedIndex {
    /// Built under this name, renamed to `final_name` at complete.
    pub name: String,
    pub final_name: String,
    pub unique: bool,
    pub method: String,
    /// Physical key columns, the new column in place of the old.
    pub columns: Vec<String>,
    /// The unique constraint the old index backed, re-created on the new index at complete.
    pub constraint: Option<String>,
}

/// A condition verification checks on every row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowCheck {
    pub description: String,
    /// SQL over the row's physical columns; a row fails when it is not true.
    pub condition: String,
    /// Recomputing an expression proves nothing unless it is immutable (`random()`, `now()`):
    /// when set, the check runs only if PostgreSQL accepts this expression in an index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub if_immutable: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    pub physical: String,
    /// The type as `format_type` prints it, e.g. `character varying(255)`.
    pub data_type: String,
    pub nullable: bool,
    pub default: Option<String>,
    /// An identity or generated column: the database fills it in, so writers need not.
    pub generated: bool,
    pub comment: Option<String>,
    /// A foreign key of some table references this column.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub referenced: bool,
    /// The sequence the column owns (`serial`, `OWNED BY`, or an identity column's own), whose
    /// values its default or identity hands out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence: Option<Sequence>,
    /// For an identity column: `GENERATED ALWAYS` (true) or `BY DEFAULT` (false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_always: Option<bool>,
}

/// A sequence a column owns, with the options an identity column is re-created with.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sequence {
    /// Physical schema and name of the sequence.
    pub schema: String,
    pub name: String,
    /// `bigint`, `integer` or `smallint`.
    #[serde(default)]
    pub data_type: String,
    pub increment: i64,
    pub min_value: i64,
    pub max_value: i64,
    pub start: i64,
    pub cache: i64,
    pub cycle: bool,
}

/// What happens at complete to the sequence of a column whose type changes: one sequence
/// serves both versions during the migration (the new column's default calls it), and at
/// complete it passes to the new column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CarriedSequence {
    pub sequence: Sequence,
    /// The old column was an identity column: the new one becomes one too (ALWAYS or BY
    /// DEFAULT), with the same options and the sequence's current value.
    pub identity_always: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConstraintKind {
    PrimaryKey,
    Unique,
    Check,
    ForeignKey,
    Exclude,
    NotNull,
    Trigger,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Constraint {
    pub name: String,
    pub kind: ConstraintKind,
    /// Logical names of the constrained columns.
    pub columns: Vec<String>,
    /// For CHECK constraints: the expression, as `pg_get_expr` prints it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
    /// For FOREIGN KEY constraints: what it references.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub references: Option<ForeignKeyTarget>,
    /// CHECK: `NO INHERIT`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_inherit: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForeignKeyTarget {
    /// Physical table and columns.
    pub table: String,
    pub columns: Vec<String>,
    /// The ON DELETE action as SQL (`CASCADE`, `SET NULL`, ...), None for NO ACTION.
    pub on_delete: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Index {
    pub name: String,
    pub columns: Vec<String>,
    pub unique: bool,
    /// The access method, e.g. `btree`.
    #[serde(default)]
    pub method: String,
    /// Only plain columns: no expression, no predicate, no INCLUDE.
    #[serde(default)]
    pub plain: bool,
    /// The constraint the index backs (primary key, unique, exclusion), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraint: Option<String>,
}

impl Schema {
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }

    pub fn table_mut(&mut self, name: &str) -> Option<&mut Table> {
        self.tables.iter_mut().find(|t| t.name == name)
    }

    /// Whether any relation name is taken, logically or physically.
    pub fn name_taken(&self, name: &str) -> bool {
        self.tables
            .iter()
            .any(|t| t.name == name || t.physical == name)
            || self
                .tables
                .iter()
                .any(|t| t.indexes.iter().any(|i| i.name == name))
    }

    /// Every index and constraint name in the schema (they share one namespace per schema for
    /// indexes; constraints are per table but tandem keeps them unique to avoid surprises).
    pub fn index_exists(&self, name: &str) -> bool {
        self.tables
            .iter()
            .any(|t| t.indexes.iter().any(|i| i.name == name))
    }
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub fn column_mut(&mut self, name: &str) -> Option<&mut Column> {
        self.columns.iter_mut().find(|c| c.name == name)
    }

    pub fn constraint(&self, name: &str) -> Option<&Constraint> {
        self.constraints.iter().find(|c| c.name == name)
    }

    /// Whether a physical column of that name exists (a logical rename does not free the name).
    pub fn physical_column_taken(&self, name: &str) -> bool {
        self.columns
            .iter()
            .any(|c| c.physical == name || c.name == name)
    }

    /// The logical names of all columns, for "did you mean" style messages.
    pub fn column_names(&self) -> Vec<&str> {
        self.columns.iter().map(|c| c.name.as_str()).collect()
    }
}
