//! The search path every per-row expression of a synced table runs under: shared by the
//! dual-write trigger and the backfill and verification steps of the parent module.

/// The search path under which `up`, `down` and check expressions are validated and evaluated:
/// `pg_catalog, "<table's schema>", pg_temp`.
///
/// - The table's schema, because that is where the migration's author names things from: a
///   function or type of the application's schema, called unqualified, must resolve the same
///   whether the writing client set `search_path` to a version schema (as tandem advises), to
///   something else, or not at all.
/// - `pg_catalog` first, explicitly: it is where PostgreSQL puts it anyway when it is not
///   listed, so built-ins (`lower`, `=`, casts) cannot be shadowed by an object of the
///   application's schema in one place and not another.
/// - `pg_temp` last, explicitly: unlisted it would be searched first for tables and types, and
///   a session's temporary object could then change what a trigger computes for every row.
///
/// The trigger function sets it for its own work (after reading the writer's path, which tells
/// the versions apart: see `trigger::body`), the backfill and the verification set it for their
/// transactions, and validation plans the expressions under it.
pub fn expression_search_path(schema: &str) -> String {
    format!("pg_catalog, {}, pg_temp", crate::quote::ident(schema))
}
