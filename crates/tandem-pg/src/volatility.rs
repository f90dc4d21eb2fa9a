//! Whether an expression calls something volatile, decided from the catalog alone.
//!
//! The parse tree names what the expression would call ([`tandem_sql::CalledObjects`]); the
//! raw tree resolves no overload, so a name counts as volatile when any function of that name
//! (in the schema written, else in the search path) is volatile. The same goes for operators
//! (their `oprcode`) and explicit casts (the type's input function and every cast function to
//! the type). Nothing is evaluated; the names travel as query parameters, never as SQL.

use crate::error::{Error, Result};
use crate::rows::column;
use tandem_sql::{CalledObjects, QualifiedName};
use tokio_postgres::GenericClient;

/// Functions whose volatility is `v` among `names`: `(schema or NULL, name)` pairs.
const VOLATILE_FUNCTIONS: &str = "\
SELECT coalesce(f.s || '.', '') || f.n FROM unnest($1::text[], $2::text[]) AS f(s, n) \
WHERE EXISTS (SELECT 1 FROM pg_proc p JOIN pg_namespace ns ON ns.oid = p.pronamespace \
  WHERE p.proname = f.n AND p.provolatile = 'v' \
  AND CASE WHEN f.s IS NULL THEN ns.nspname = ANY (current_schemas(true)) ELSE ns.nspname = f.s END)";

/// Operators whose function is volatile.
const VOLATILE_OPERATORS: &str = "\
SELECT 'operator ' || coalesce(f.s || '.', '') || f.n FROM unnest($1::text[], $2::text[]) AS f(s, n) \
WHERE EXISTS (SELECT 1 FROM pg_operator o JOIN pg_namespace ns ON ns.oid = o.oprnamespace \
  JOIN pg_proc p ON p.oid = o.oprcode \
  WHERE o.oprname = f.n AND p.provolatile = 'v' \
  AND CASE WHEN f.s IS NULL THEN ns.nspname = ANY (current_schemas(true)) ELSE ns.nspname = f.s END)";

/// Cast targets whose input function, or a cast function to them, is volatile.
const VOLATILE_CASTS: &str = "\
SELECT 'cast to ' || coalesce(f.s || '.', '') || f.n FROM unnest($1::text[], $2::text[]) AS f(s, n) \
WHERE EXISTS (SELECT 1 FROM pg_type t JOIN pg_namespace ns ON ns.oid = t.typnamespace \
  WHERE t.typname = f.n \
  AND CASE WHEN f.s IS NULL THEN ns.nspname = ANY (current_schemas(true)) ELSE ns.nspname = f.s END \
  AND (EXISTS (SELECT 1 FROM pg_proc p WHERE p.oid = t.typinput AND p.provolatile = 'v') \
    OR EXISTS (SELECT 1 FROM pg_cast c JOIN pg_proc p ON p.oid = c.castfunc \
               WHERE c.casttarget = t.oid AND p.provolatile = 'v')))";

/// What of `calls` is volatile, by name (`nextval`, `operator public.===`, `cast to t`);
/// empty when nothing is.
pub(crate) async fn volatile_calls(
    client: &impl GenericClient,
    calls: &CalledObjects,
    what: &str,
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let casts: Vec<QualifiedName> = calls.casts.iter().map(|c| c.name.clone()).collect();
    for (sql, names) in [
        (VOLATILE_FUNCTIONS, &calls.functions),
        (VOLATILE_OPERATORS, &calls.operators),
        (VOLATILE_CASTS, &casts),
    ] {
        if names.is_empty() {
            continue;
        }
        let schemas: Vec<Option<String>> = names.iter().map(|n| n.schema.clone()).collect();
        let bare: Vec<String> = names.iter().map(|n| n.name.clone()).collect();
        for row in client
            .query(sql, &[&schemas, &bare])
            .await
            .map_err(|e| Error::db(what, e))?
        {
            out.push(column::<String>(&row, 0, what)?);
        }
    }
    Ok(out)
}
