//! User SQL fragments checked in their syntactic slot.
//!
//! A migration file carries SQL fragments that tandem places inside its own statements: a
//! column type, a default, storage parameters, sequence options, exclusion elements. Each
//! is parsed here by PostgreSQL's grammar *in the slot where it will be used*, must be
//! exactly one thing of that slot's kind, and comes back re-rendered from its tokens
//! (comments removed), ready to be spliced. Anything else (`int; COMMIT; DROP TABLE x; --`,
//! a closing parenthesis that adds a clause, a comment hiding a second statement, an
//! unterminated quote, an empty field) is refused with what was expected and what was found.

mod expression;
mod kinds;
mod skeleton;

pub use expression::parse_expression_in;
pub use kinds::{ExpressionSlot, Slot, SlotError};

use serde_json::Value;
use skeleton::{Fitted, Skeleton};

use crate::calls::{self, CalledObjects};

/// A fragment checked in its slot, and its re-rendered SQL.
#[derive(Debug, Clone)]
pub struct Fragment {
    slot: Slot,
    sql: String,
    /// The slot's parse subtree, as generic JSON.
    tree: Value,
}

impl Fragment {
    /// The fragment re-rendered from its tokens (comments removed, trimmed), to splice into
    /// the slot it was checked for, and only there.
    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// The slot it was checked for.
    pub fn slot(&self) -> Slot {
        self.slot
    }

    /// The functions, operators and casts the fragment uses (expressions inside exclusion
    /// elements, a type's modifiers), for deciding volatility from the catalog.
    pub fn called_objects(&self) -> CalledObjects {
        calls::collect(&self.tree)
    }

    /// The `name = value` items of a parameter list slot (storage, opclass parameters), or
    /// the option names of sequence options: `(namespace, name)`, lower-cased as the parser
    /// folds them. Empty for other slots.
    pub fn option_names(&self) -> Vec<(Option<String>, String)> {
        let Some(items) = self.tree.as_array() else {
            return Vec::new();
        };
        items
            .iter()
            .filter_map(|i| i.pointer("/node/DefElem"))
            .map(|d| {
                let ns = d
                    .get("defnamespace")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned);
                let name = d
                    .get("defname")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                (ns, name)
            })
            .collect()
    }

    fn new(slot: Slot, fitted: Fitted) -> Fragment {
        Fragment {
            slot,
            sql: fitted.sql,
            tree: fitted.tree,
        }
    }
}

/// Parses one type name, as in `CAST(x AS <type>)` or a column definition: arrays
/// (`int[]`, `int ARRAY`), modifiers (`numeric(10,2)`, `varchar(10)`), schema-qualified
/// and quoted names (`public."MixedCase"`), multi-word names (`double precision`,
/// `timestamp(3) with time zone`, `character varying(10)`), interval fields
/// (`interval day to second(3)`). Refuses `SETOF`, `%TYPE`, a collation or a constraint
/// after the type, and anything else that is not exactly one type name.
pub fn parse_type_name(text: &str) -> Result<Fragment, SlotError> {
    const SKELETON: Skeleton = Skeleton {
        before: "SELECT CAST(NULL AS ",
        after: "\n)",
        sample: "integer",
        pointer: "/node/SelectStmt/target_list/0/node/ResTarget/val/node/TypeCast/type_name",
    };
    let fitted = SKELETON.fit(Slot::TypeName, text)?;
    if fitted.tree.get("setof").and_then(Value::as_bool) == Some(true) {
        return Err(SlotError::at(
            Slot::TypeName,
            text,
            0,
            "`SETOF`, which a column cannot have",
        ));
    }
    if fitted.tree.get("pct_type").and_then(Value::as_bool) == Some(true) {
        return Err(SlotError::at(
            Slot::TypeName,
            text,
            0,
            "a `%TYPE` reference, which a column cannot have",
        ));
    }
    Ok(Fragment::new(Slot::TypeName, fitted))
}

/// Parses storage parameters, the inside of `WITH (...)` of an index or an index-backed
/// constraint: `fillfactor = 70, deduplicate_items = off`, `toast.autovacuum_enabled =
/// false`, a bare `fastupdate` (meaning true). Nothing else: no `)`, no second clause.
pub fn parse_storage_parameters(text: &str) -> Result<Fragment, SlotError> {
    const SKELETON: Skeleton = Skeleton {
        before: "CREATE INDEX i ON t (c) WITH (",
        after: "\n)",
        sample: "fillfactor = 70",
        pointer: "/node/IndexStmt/options",
    };
    let fitted = SKELETON.fit(Slot::StorageParameters, text)?;
    plain_values(Slot::StorageParameters, text, &fitted)?;
    Ok(Fragment::new(Slot::StorageParameters, fitted))
}

/// Parses operator class parameters, the inside of `opclass (...)` of an index column:
/// `siglen = 32`, or several separated by commas (tandem's `opclass.params` items can be
/// joined with `, ` and checked at once, or checked one by one).
pub fn parse_opclass_parameters(text: &str) -> Result<Fragment, SlotError> {
    const SKELETON: Skeleton = Skeleton {
        before: "CREATE INDEX i ON t USING gist (c gist_trgm_ops (",
        after: "\n))",
        sample: "siglen = 32",
        pointer: "/node/IndexStmt/index_params/0/node/IndexElem/opclassopts",
    };
    let fitted = SKELETON.fit(Slot::OpclassParameters, text)?;
    plain_values(Slot::OpclassParameters, text, &fitted)?;
    Ok(Fragment::new(Slot::OpclassParameters, fitted))
}

/// Parses an identity column's sequence options, the inside of `GENERATED ... AS IDENTITY
/// (...)`: `START WITH 10 INCREMENT BY 2`, `MINVALUE 1 MAXVALUE 100 CYCLE CACHE 5`,
/// `AS bigint`, `NO MAXVALUE`, `SEQUENCE NAME s`. `OWNED BY` is refused (PostgreSQL ties an
/// identity's sequence to its column itself).
pub fn parse_sequence_options(text: &str) -> Result<Fragment, SlotError> {
    const SKELETON: Skeleton = Skeleton {
        before: "CREATE TABLE t (c bigint GENERATED BY DEFAULT AS IDENTITY (",
        after: "\n))",
        sample: "START WITH 1",
        pointer:
            "/node/CreateStmt/table_elts/0/node/ColumnDef/constraints/0/node/Constraint/options",
    };
    let fitted = SKELETON.fit(Slot::SequenceOptions, text)?;
    let fragment = Fragment::new(Slot::SequenceOptions, fitted);
    if fragment.option_names().iter().any(|(_, n)| n == "owned_by") {
        return Err(SlotError::at(
            Slot::SequenceOptions,
            text,
            text.to_ascii_uppercase().find("OWNED").unwrap_or(0),
            "`OWNED BY`, which an identity column's sequence cannot have",
        ));
    }
    Ok(fragment)
}

/// Parses the elements of an exclusion constraint, the inside of `EXCLUDE USING method
/// (...)`: `room WITH =, during WITH &&`, `(lower(name)) WITH =`, `c gist_int4_ops WITH &&`,
/// `c COLLATE "C" DESC NULLS LAST WITH =`, `OPERATOR(public.&&)`. The expressions inside
/// follow the index expression rules: no subquery. The method is the constraint's own field
/// and not part of this slot.
pub fn parse_exclusion_elements(text: &str) -> Result<Fragment, SlotError> {
    const SKELETON: Skeleton = Skeleton {
        before: "CREATE TABLE t (EXCLUDE USING gist (",
        after: "\n))",
        sample: "c WITH &&",
        pointer: "/node/CreateStmt/table_elts/0/node/Constraint/exclusions",
    };
    let fitted = SKELETON.fit(Slot::ExclusionElements, text)?;
    let fragment = Fragment::new(Slot::ExclusionElements, fitted);
    if fragment.called_objects().subqueries {
        return Err(SlotError::at(
            Slot::ExclusionElements,
            text,
            text.to_ascii_uppercase().find("SELECT").unwrap_or(0),
            "a subquery, which PostgreSQL does not allow in an index expression",
        ));
    }
    Ok(fragment)
}

/// Parameter values are a number, a string, or a single word (`on`, `auto`): the grammar
/// also reads `f(1)` or `a.b` there as a type name, which no parameter means.
fn plain_values(slot: Slot, text: &str, fitted: &Fitted) -> Result<(), SlotError> {
    let items = fitted
        .tree
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    for item in items {
        let Some(def) = item.pointer("/node/DefElem") else {
            continue;
        };
        let plain = match def.pointer("/arg/node") {
            None | Some(Value::Null) => true,
            Some(Value::Object(map)) => match map.iter().next().map(|(k, v)| (k.as_str(), v)) {
                Some(("Integer" | "Float" | "String" | "Boolean", _)) => true,
                Some(("TypeName", t)) => {
                    let single = t.get("names").and_then(Value::as_array).map(Vec::len) == Some(1);
                    let bare = ["typmods", "array_bounds"].iter().all(|k| {
                        t.get(*k)
                            .and_then(Value::as_array)
                            .is_none_or(|v| v.is_empty())
                    });
                    single && bare
                }
                _ => false,
            },
            Some(_) => false,
        };
        if !plain {
            let name = def.get("defname").and_then(Value::as_str).unwrap_or("?");
            let pos = text.to_ascii_lowercase().find(name).unwrap_or(0);
            return Err(SlotError::at(
                slot,
                text,
                pos,
                &format!("a value for `{name}` that is not a number, a string or a single word"),
            ));
        }
    }
    Ok(())
}

/// Parses one read-only query, as a migration's `verify` entry: a `SELECT` (with `WITH`,
/// joins, `UNION`, `ORDER BY`, `LIMIT`, subqueries) or `VALUES`, checked as the subquery of
/// `SELECT EXISTS (...)`, so it can be run as one statement or wrapped. Refuses several
/// statements, `SELECT ... INTO`, row locks (`FOR UPDATE`/`FOR SHARE`) and data-modifying
/// `WITH` (`WITH d AS (DELETE ...)`). Functions it calls are listed by
/// [`Fragment::called_objects`], for the caller to refuse volatile ones.
pub fn parse_query(text: &str) -> Result<Fragment, SlotError> {
    const SKELETON: Skeleton = Skeleton {
        before: "SELECT EXISTS (",
        after: "\n)",
        sample: "SELECT 1",
        pointer: "/node/SelectStmt/target_list/0/node/ResTarget/val/node/SubLink/subselect",
    };
    let fitted = SKELETON.fit(Slot::Query, text)?;
    let refuse = |what: &str, keyword: &str| {
        let pos = text.to_ascii_uppercase().find(keyword).unwrap_or(0);
        Err(SlotError::at(Slot::Query, text, pos, what))
    };
    if has_nonempty(&fitted.tree, "into_clause") {
        return refuse("`SELECT ... INTO`, which creates a table", "INTO");
    }
    if has_nonempty(&fitted.tree, "locking_clause") {
        return refuse("a row lock (`FOR UPDATE`/`FOR SHARE`)", "FOR");
    }
    if let Some(kind) = modifying_statement(&fitted.tree) {
        return refuse(
            &format!("a data-modifying statement ({kind}) in `WITH`"),
            "WITH",
        );
    }
    Ok(Fragment::new(Slot::Query, fitted))
}

/// Whether any object in `tree` has `key` with a non-empty value.
fn has_nonempty(tree: &Value, key: &str) -> bool {
    match tree {
        Value::Object(map) => map.iter().any(|(k, v)| {
            (k == key && !matches!(v, Value::Null) && v.as_array().is_none_or(|a| !a.is_empty()))
                || has_nonempty(v, key)
        }),
        Value::Array(items) => items.iter().any(|v| has_nonempty(v, key)),
        _ => false,
    }
}

/// The first INSERT/UPDATE/DELETE/MERGE anywhere in `tree`.
fn modifying_statement(tree: &Value) -> Option<&'static str> {
    match tree {
        Value::Object(map) => {
            for (kind, name) in [
                ("InsertStmt", "INSERT"),
                ("UpdateStmt", "UPDATE"),
                ("DeleteStmt", "DELETE"),
                ("MergeStmt", "MERGE"),
            ] {
                if map.contains_key(kind) {
                    return Some(name);
                }
            }
            map.values().find_map(modifying_statement)
        }
        Value::Array(items) => items.iter().find_map(modifying_statement),
        _ => None,
    }
}
