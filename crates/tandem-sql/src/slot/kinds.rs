//! The slots a fragment is checked for and the error it fails with: shared by the slot
//! checker (`slot`) and its expression and skeleton helpers, so they all depend on this leaf
//! and never on each other's parent.

/// The syntactic slots a fragment can be checked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Slot {
    /// One type name: `integer`, `varchar(10)[]`, `timestamp(3) with time zone`, `"MyType"`.
    TypeName,
    /// One expression, with the rules of the place it is used in.
    Expression(ExpressionSlot),
    /// Storage parameters of an index or constraint (`WITH (...)`): `name = value, ...`.
    StorageParameters,
    /// Parameters of an index column's operator class: `name = value, ...`.
    OpclassParameters,
    /// Options of an identity column's sequence: `START WITH 10 INCREMENT BY 2 ...`.
    SequenceOptions,
    /// The elements of an exclusion constraint: `col WITH &&, (expr) WITH =, ...`.
    ExclusionElements,
    /// One read-only query (a migration's `verify` entries): `SELECT ...`, `WITH ... SELECT`,
    /// `VALUES`, set operations.
    Query,
}

impl Slot {
    /// What the slot holds, with examples, for "expected ..." in messages.
    pub fn expected(self) -> String {
        match self {
            Slot::TypeName => {
                "one type name (such as `integer`, `varchar(10)`, `numeric(10,2)[]`, \
                 `timestamp with time zone`)"
                    .into()
            }
            Slot::Expression(e) => e.expected(),
            Slot::StorageParameters => {
                "a list of storage parameters `name = value` (such as `fillfactor = 70, \
                 deduplicate_items = off`)"
                    .into()
            }
            Slot::OpclassParameters => {
                "a list of operator class parameters `name = value` (such as `siglen = 32`)".into()
            }
            Slot::SequenceOptions => {
                "sequence options (such as `START WITH 1000 INCREMENT BY 10 CACHE 20`)".into()
            }
            Slot::ExclusionElements => "exclusion elements `element WITH operator, ...` (such as \
                 `room WITH =, during WITH &&`)"
                .into(),
            Slot::Query => {
                "one read-only query (such as `SELECT id FROM users WHERE email IS NULL`)".into()
            }
        }
    }

    /// The slot in a sentence, with its article ("... reaches outside the type name").
    pub fn noun(self) -> &'static str {
        match self {
            Slot::TypeName => "the type name",
            Slot::Expression(e) => e.noun(),
            Slot::StorageParameters => "the storage parameter list",
            Slot::OpclassParameters => "the operator class parameter list",
            Slot::SequenceOptions => "the sequence option list",
            Slot::ExclusionElements => "the exclusion element list",
            Slot::Query => "the query",
        }
    }
}

/// A fragment that is not one thing of its slot's kind. `line` and `column` are 1-based
/// (columns count characters) within the fragment as written; `offset` is the same position
/// in bytes. Shown as `line L, column C: expected X, found Y`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: expected {}, found {found}", slot.expected())]
pub struct SlotError {
    /// The slot the fragment was checked for.
    pub slot: Slot,
    /// 1-based line within the fragment.
    pub line: usize,
    /// 1-based column (in characters) within that line.
    pub column: usize,
    /// Byte offset of the same position within the fragment.
    pub offset: usize,
    /// What the fragment holds instead, in words.
    pub found: String,
}

impl SlotError {
    pub(crate) fn at(slot: Slot, text: &str, offset: usize, found: &str) -> SlotError {
        let e = crate::ExprError::at(text, offset, found);
        SlotError {
            slot,
            line: e.line,
            column: e.column,
            offset: e.offset,
            found: e.message,
        }
    }
}

/// Where an expression is used. The slots differ in what PostgreSQL allows in them, and
/// tandem checks that before anything reaches the server:
///
/// | slot | subquery | column reference |
/// | --- | --- | --- |
/// | `Up`, `Down` (backfill and trigger) | allowed | allowed |
/// | `Check`, `Generated`, `IndexPredicate`, `ExclusionPredicate` | refused | allowed |
/// | `Default` | refused | refused |
///
/// No slot allows a parameter (`$1`), several statements, or a top-level query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExpressionSlot {
    /// A column default (`default:`).
    Default,
    /// A CHECK constraint (`check.constraint`, a table constraint's `check`).
    Check,
    /// A stored generated column (`generated.expression`).
    Generated,
    /// `up`: the new column's value computed from the old columns (backfill, trigger).
    Up,
    /// `down`: the old column's value computed from the new columns.
    Down,
    /// A partial index's `predicate`.
    IndexPredicate,
    /// An exclusion constraint's `predicate` (`EXCLUDE ... WHERE (...)`).
    ExclusionPredicate,
}

impl ExpressionSlot {
    /// Whether PostgreSQL accepts a subquery (`(SELECT ...)`, `EXISTS (...)`, `IN (SELECT
    /// ...)`) in this slot.
    pub fn allows_subqueries(self) -> bool {
        matches!(self, ExpressionSlot::Up | ExpressionSlot::Down)
    }

    /// Whether the expression may read columns of the row.
    pub fn allows_column_references(self) -> bool {
        !matches!(self, ExpressionSlot::Default)
    }

    pub(crate) fn expected(self) -> String {
        let example = match self {
            ExpressionSlot::Default => "`0`, `now()`, `'draft'`",
            ExpressionSlot::Check => "`price > 0`",
            ExpressionSlot::Generated => "`price * quantity`",
            ExpressionSlot::Up | ExpressionSlot::Down => "`CAST(price AS numeric(10,2))`",
            ExpressionSlot::IndexPredicate | ExpressionSlot::ExclusionPredicate => {
                "`deleted_at IS NULL`"
            }
        };
        format!("one SQL expression for {} (such as {example})", self.noun())
    }

    pub(crate) fn noun(self) -> &'static str {
        match self {
            ExpressionSlot::Default => "a column default",
            ExpressionSlot::Check => "a CHECK constraint",
            ExpressionSlot::Generated => "a generated column",
            ExpressionSlot::Up => "`up`",
            ExpressionSlot::Down => "`down`",
            ExpressionSlot::IndexPredicate => "an index predicate",
            ExpressionSlot::ExclusionPredicate => "an exclusion constraint predicate",
        }
    }
}
