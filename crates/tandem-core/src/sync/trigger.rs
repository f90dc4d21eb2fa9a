//! The dual-write trigger: a PL/pgSQL function that, on every INSERT and UPDATE, fills the
//! other version's columns of the row from the version that wrote it (see the parent module
//! for how the writer is recognised).

use super::parts::Versions;
use crate::error::OpError;
use crate::expressions::{physical_references, rewrite_physical};
use crate::quote::{ident, literal, qualified};
use crate::schema::{Schema, Table};

/// The trigger's name on every synced table. PostgreSQL fires the triggers of one event in the
/// byte order of their names, and `~` (0x7E) sorts after every ASCII letter, digit and `_`: so
/// the application's own BEFORE triggers (which may trim, lower or stamp the row) run first,
/// and the dual-write computes the other version's columns from the row as it will be stored.
/// A user trigger whose name still sorts after this one (it begins with `~` or a non-ASCII
/// character) is refused at validate (`tandem-pg`'s catalog check).
pub const TRIGGER: &str = "~tandem_sync";

/// The trigger function's body. Named parts:
/// - `fixed_path`: the search path `up` and `down` are evaluated under, as a literal;
/// - `new_schema`: the new version schema, as a literal;
/// - `old_position`: where the old version (its schema, or the table's own) first comes in
///   the search path;
/// - `old_changed` / `new_changed`: whether an UPDATE changed the old or the new version's
///   columns;
/// - `from_new` / `from_old`: the assignments when the new / the old version wrote the row.
///
/// Why the search path is set in the body and not with `CREATE FUNCTION ... SET search_path`:
/// the writer's own search path is what tells the versions apart, and a `SET` clause replaces
/// it before the first line runs. So the body reads it first (with schema-qualified built-ins
/// only), then sets the fixed path for the rest of its work, and gives the writer's back before
/// returning. `set_config(..., true)` is transaction-local: if an expression fails, the
/// statement's (sub)transaction is undone and the writer's path with it.
fn body(
    fixed_path: &str,
    new_schema: &str,
    old_position: &str,
    old_changed: &str,
    new_changed: &str,
    from_new: &str,
    from_old: &str,
) -> String {
    format!(
        r#"
DECLARE
  _tandem_path name[] := pg_catalog.current_schemas(false);
  _tandem_writer_path text := pg_catalog.current_setting('search_path');
  _tandem_new integer;
  _tandem_old integer;
  _tandem_old_changed boolean;
  _tandem_new_changed boolean;
  _tandem_is_new boolean;
BEGIN
  -- from here on names resolve as they did when the migration was validated
  PERFORM pg_catalog.set_config('search_path', {fixed_path}, true);
  _tandem_new := array_position(_tandem_path, {new_schema}::name);
  _tandem_old := {old_position};
  _tandem_old_changed := TG_OP = 'UPDATE' AND ({old_changed});
  _tandem_new_changed := TG_OP = 'UPDATE' AND ({new_changed});
  IF _tandem_old_changed AND NOT _tandem_new_changed THEN
    _tandem_is_new := false;
  ELSIF _tandem_new_changed AND NOT _tandem_old_changed THEN
    _tandem_is_new := true;
  ELSE
    -- the new version wrote the row when its schema comes first in the search path
    _tandem_is_new := _tandem_new IS NOT NULL AND (_tandem_old IS NULL OR _tandem_new < _tandem_old);
  END IF;
  IF _tandem_is_new THEN
{from_new}  ELSE
{from_old}  END IF;
  PERFORM pg_catalog.set_config('search_path', _tandem_writer_path, true);
  RETURN NEW;
END
"#
    )
}

/// One assignment of the body: `target := expression` when the columns the expression reads
/// changed (or on INSERT), and, with `or_while_null`, also while the target is still NULL.
fn assignment(condition: &str, target: &str, value: &str, or_while_null: bool) -> String {
    let target = ident(target);
    let null = if or_while_null {
        format!(" OR NEW.{target} IS NULL")
    } else {
        String::new()
    };
    format!("    IF {condition}{null} THEN\n      NEW.{target} := {value};\n    END IF;\n")
}

/// Whether any of `columns` changed: `ROW(NEW.a, ...)::record *<> ROW(OLD.a, ...)::record`, or
/// `false` for no columns.
///
/// `*<>` compares the stored binary images (`record_image_ne`), so it needs no equality operator
/// of the column's type: `IS DISTINCT FROM` fails on json, xml, point and every other type
/// without `=` (and on arrays, domains and composites of them). Two NULLs are equal. It may see
/// a change where `=` would not (`1.0` and `1.00`, or a jsonb built differently): then the
/// expression is recomputed, which is harmless; it never misses a real change.
fn row_changed(columns: &[String]) -> String {
    if columns.is_empty() {
        return "false".into();
    }
    let side = |record: &str| {
        columns
            .iter()
            .map(|c| format!("{record}.{}", ident(c)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "ROW({})::record *<> ROW({})::record",
        side("NEW"),
        side("OLD")
    )
}

/// The statements creating the table's trigger function and trigger.
pub(super) fn create(
    schema: &Schema,
    table: &Table,
    v: &Versions,
    function: &str,
) -> Result<Vec<String>, OpError> {
    // `watch_target`: recompute also when the write changed the target itself.
    let assign =
        |target: Option<&str>, expr: Option<&str>, or_while_null: bool, watch_target: bool| {
            let (Some(target), Some(expr)) = (target, expr) else {
                return Ok(None);
            };
            let mut reads = physical_references(expr, schema, table)?;
            if watch_target && !reads.iter().any(|r| r == target) {
                reads.push(target.to_string());
            }
            let condition = if reads.is_empty() {
                "TG_OP = 'INSERT'".to_string()
            } else {
                format!("TG_OP = 'INSERT' OR {}", row_changed(&reads))
            };
            let value =
                rewrite_physical(expr, schema, table, |p| Some(format!("NEW.{}", ident(p))))?;
            Ok::<_, OpError>(Some(assignment(&condition, target, &value, or_while_null)))
        };
    let mut from_new = String::new();
    let mut from_old = String::new();
    for sync in &table.sync {
        // The new version's views do not show the old columns, so when one changes in a write of
        // the new version, an application trigger (which fired before this one) changed it:
        // the old column is put back to `down` of the new, or the versions would disagree.
        if let Some(a) = assign(
            sync.old_physical.as_deref(),
            sync.down.as_deref(),
            false,
            true,
        )? {
            from_new.push_str(&a);
        }
        if sync.new_column.is_some() {
            // Also while the new column is still NULL: an old-version update may reach a row
            // the backfill has not, without changing what `up` reads.
            if let Some(a) = assign(
                sync.new_physical.as_deref(),
                sync.up.as_deref(),
                true,
                false,
            )? {
                from_old.push_str(&a);
            }
        }
    }
    let or_nothing = |s: String| {
        if s.is_empty() {
            "    NULL;\n".to_string()
        } else {
            s
        }
    };
    let old_position = match v.previous {
        Some(p) => format!(
            "least(array_position(_tandem_path, {}::name), array_position(_tandem_path, {}::name))",
            literal(p),
            literal(v.schema)
        ),
        None => format!("array_position(_tandem_path, {}::name)", literal(v.schema)),
    };
    let old_side: Vec<String> = table
        .sync
        .iter()
        .filter_map(|s| s.old_physical.clone())
        .collect();
    let new_side: Vec<String> = table
        .sync
        .iter()
        .filter(|s| s.new_column.is_some())
        .filter_map(|s| s.new_physical.clone())
        .collect();
    let body = body(
        &literal(&super::search_path::expression_search_path(v.schema)),
        &literal(v.new),
        &old_position,
        &row_changed(&old_side),
        &row_changed(&new_side),
        &or_nothing(from_new),
        &or_nothing(from_old),
    );
    let tag = dollar_quote_tag(&body);
    Ok(vec![
        format!("CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS {tag}{body}{tag}"),
        format!(
            "CREATE TRIGGER {} BEFORE INSERT OR UPDATE ON {} FOR EACH ROW WHEN (current_setting('tandem.backfill', true) IS DISTINCT FROM 'on') EXECUTE FUNCTION {function}()",
            ident(TRIGGER),
            qualified(v.schema, &table.physical)
        ),
    ])
}

/// A `$tandem$` dollar-quote tag that does not occur in `body`.
fn dollar_quote_tag(body: &str) -> String {
    let mut tag = "$tandem$".to_string();
    let mut n = 0;
    while body.contains(&tag) {
        n += 1;
        tag = format!("$tandem{n}$");
    }
    tag
}

/// The statements dropping the table's trigger and its function.
pub(super) fn drop(relation: &str, function: &str) -> Vec<String> {
    vec![
        format!("DROP TRIGGER IF EXISTS {} ON {relation}", ident(TRIGGER)),
        format!("DROP FUNCTION IF EXISTS {function}()"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dollar_quote_tag_never_occurs_in_the_body() {
        assert_eq!(dollar_quote_tag("x"), "$tandem$");
        assert_eq!(dollar_quote_tag("a $tandem$ b $tandem1$"), "$tandem2$");
    }

    #[test]
    fn an_assignment_reads_as_plpgsql() {
        assert_eq!(
            assignment("TG_OP = 'INSERT'", "B", "NEW.\"a\"", true),
            "    IF TG_OP = 'INSERT' OR NEW.\"B\" IS NULL THEN\n      NEW.\"B\" := NEW.\"a\";\n    END IF;\n"
        );
        assert_eq!(row_changed(&[]), "false");
    }
}
