//! tandem destroys only what it created: a migration whose helper objects (`_tandem_new_price`
//! columns, `_tandem_sync` triggers and functions, temporary indexes and constraints) would
//! take the name of an object that already exists is refused before anything runs. Rollback
//! drops helpers by name (`DROP ... IF EXISTS`), so a same-named user object present at start
//! would otherwise be dropped with its data.

use crate::error::{Error, Result};
use crate::rows::column;
use tandem_core::names::{helper_names, HELPER_PREFIX};
use tandem_core::Plan;
use tokio_postgres::GenericClient;

/// Objects of the schema with one of the names `$2`: (kind, table or NULL, name).
const EXISTING: &str = "\
SELECT kind, owner, name FROM ( \
  SELECT 'column' AS kind, c.relname::text AS owner, a.attname::text AS name \
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
    JOIN pg_namespace n ON n.oid = c.relnamespace \
    WHERE n.nspname = $1 AND a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p') \
  UNION ALL SELECT 'trigger', c.relname::text, t.tgname::text \
    FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid \
    JOIN pg_namespace n ON n.oid = c.relnamespace \
    WHERE n.nspname = $1 AND NOT t.tgisinternal \
  UNION ALL SELECT 'constraint', c.relname::text, con.conname::text \
    FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid \
    JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 \
  UNION ALL SELECT 'function', NULL, p.proname::text \
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1 \
  UNION ALL SELECT CASE c.relkind WHEN 'i' THEN 'index' WHEN 'I' THEN 'index' \
      WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view' ELSE 'table' END, NULL, c.relname::text \
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 \
) o WHERE name = ANY ($2::text[]) ORDER BY name, kind, owner";

/// Refuses `plan` if a helper it would create has the name of an existing object.
pub(crate) async fn refuse_collisions(
    client: &impl GenericClient,
    file: &str,
    plan: &Plan,
) -> Result<()> {
    let names = helper_names(plan);
    if names.is_empty() {
        return Ok(());
    }
    let what = "looking for objects named like tandem's helpers";
    let rows = client
        .query(EXISTING, &[&plan.schema, &names])
        .await
        .map_err(|e| Error::db(what, e))?;
    let mut found = Vec::new();
    for row in &rows {
        let kind: String = column(row, 0, what)?;
        let owner: Option<String> = column(row, 1, what)?;
        let name: String = column(row, 2, what)?;
        found.push(match owner {
            Some(table) => format!("{kind} `{name}` of table `{}.{table}`", plan.schema),
            None => format!("{kind} `{}.{name}`", plan.schema),
        });
    }
    if found.is_empty() {
        return Ok(());
    }
    Err(Error::usage(
        format!(
            "{file}: this migration would create helper objects whose names are already taken: {}",
            found.join(", ")
        ),
        format!(
            "tandem names its helpers `{HELPER_PREFIX}...` and drops them on rollback, so it will not start beside an object of the same name: rename that object (or drop it if it is a leftover of an earlier tandem), then run the same command again; nothing was changed"
        ),
    ))
}
