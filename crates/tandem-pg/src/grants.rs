//! Privileges on version schemas: every role that may use a table may do the same through
//! every version schema's view of it, and nothing more.
//!
//! Read from the catalog when the version schema step runs (not when the migration was
//! planned), so the grants are those true at that moment:
//!
//! - **USAGE on the version schema** goes to exactly the roles with USAGE on the physical
//!   schema (`nspacl`, or the owner's default when it is NULL); copied again when the next
//!   migration starts (onto the old version's schema) and at complete (onto the new one's).
//! - **A column tandem adds to replace one** (an altered column) takes the column-level
//!   privileges of the column it replaces, on the table itself: a role with only
//!   `UPDATE (email)` can then write either version, and keeps its grant after complete
//!   renames the new column into place.
//! - **PostgreSQL 15+**: the views are `security_invoker`, so the table and its columns (and
//!   its row security) are checked as the querying role. SELECT, INSERT, UPDATE and DELETE on
//!   the views go to PUBLIC: what a role can do through a view is then exactly what it can do
//!   on the table, and later `GRANT`/`REVOKE ... ON ALL TABLES IN SCHEMA` on the table's schema
//!   take effect at once. Except for a table with column-level grants and no row security:
//!   through a `security_invoker` view an UPDATE or DELETE with a WHERE needs SELECT on every
//!   column of the view (the view's own column list is checked), which such roles lack; that
//!   table's view is made to check as its owner and gets a copy, as on 14.
//! - **PostgreSQL 14**: a view reads its table as the view's owner, so each view gets a copy of
//!   its table's ACL (`relacl`) and of each column's (`attacl`, under the column's name in that
//!   version); whatever default privileges put on the new view is revoked first.
//! - The copies (and the schema's USAGE) are made again when the next migration starts (onto
//!   the old version's schema) and at the end of complete (onto the new one's), so grants made
//!   on the tables since reach them.
//!
//! The dual-write trigger needs nothing: a BEFORE trigger's changes to `NEW` are not checked
//! against the writer's column privileges (only the statement's own target columns are).

use crate::catalog;
use crate::error::{Error, Result};
use crate::rows::column;
use std::collections::BTreeMap;
use tandem_core::quote::{ident, qualified};
use tandem_core::versions::{views_of, VersionSchema, View};
use tokio_postgres::GenericClient;

/// The privileges tandem copies, as `aclexplode` names them; anything else is left out.
const COPIED: [&str; 5] = ["SELECT", "INSERT", "UPDATE", "DELETE", "REFERENCES"];

/// A role in an ACL: `None` is PUBLIC.
type Grantee = Option<String>;

fn grantee_sql(g: &Grantee) -> String {
    match g {
        Some(role) => ident(role),
        None => "PUBLIC".into(),
    }
}

/// One privilege of one grantee, as read from an ACL.
struct Entry {
    grantee: Grantee,
    privilege: &'static str,
    grantable: bool,
}

fn entry(row: &tokio_postgres::Row, first: usize, what: &str) -> Result<Option<Entry>> {
    let grantee: Grantee = column(row, first, what)?;
    let privilege: String = column(row, first + 1, what)?;
    let grantable: bool = column(row, first + 2, what)?;
    Ok(COPIED
        .iter()
        .find(|p| **p == privilege)
        .map(|privilege| Entry {
            grantee,
            privilege,
            grantable,
        }))
}

/// `GRANT a, b (cols) ON rel TO g`, one statement per grantee and grant option.
fn grant_statements(entries: &[Entry], columns: Option<&str>, relation: &str) -> Vec<String> {
    let mut by_grantee: BTreeMap<(Grantee, bool), Vec<&str>> = BTreeMap::new();
    for e in entries {
        let privileges = by_grantee
            .entry((e.grantee.clone(), e.grantable))
            .or_default();
        if !privileges.contains(&e.privilege) {
            privileges.push(e.privilege);
        }
    }
    by_grantee
        .into_iter()
        .map(|((grantee, grantable), privileges)| {
            let privileges = privileges
                .iter()
                .map(|p| match columns {
                    Some(c) => format!("{p} ({c})"),
                    None => p.to_string(),
                })
                .collect::<Vec<_>>()
                .join(", ");
            format!(
                "GRANT {privileges} ON {relation} TO {}{}",
                grantee_sql(&grantee),
                if grantable { " WITH GRANT OPTION" } else { "" }
            )
        })
        .collect()
}

/// ACL entries of a relation's column, or of the relation itself (`column` = `None`), with the
/// owner's implicit privileges spelled out.
async fn acl(
    client: &impl GenericClient,
    relation: &str,
    column_name: Option<&str>,
) -> Result<Vec<Entry>> {
    const WHAT: &str = "reading the privileges of a table to copy them";
    let rows = match column_name {
        None => {
            client
                .query(
                    "SELECT r.rolname::text, a.privilege_type::text, a.is_grantable \
                     FROM pg_class c \
                     CROSS JOIN LATERAL aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a \
                     LEFT JOIN pg_roles r ON r.oid = a.grantee \
                     WHERE c.oid = to_regclass($1)",
                    &[&relation],
                )
                .await
        }
        Some(col) => {
            client
                .query(
                    "SELECT r.rolname::text, a.privilege_type::text, a.is_grantable \
                     FROM pg_attribute att \
                     CROSS JOIN LATERAL aclexplode(att.attacl) a \
                     LEFT JOIN pg_roles r ON r.oid = a.grantee \
                     WHERE att.attrelid = to_regclass($1) AND att.attname = $2 \
                       AND att.attacl IS NOT NULL AND NOT att.attisdropped",
                    &[&relation, &col],
                )
                .await
        }
    }
    .map_err(|e| Error::db(format!("reading the privileges on {relation}"), e))?;
    let mut out = Vec::new();
    for row in &rows {
        if let Some(e) = entry(row, 0, WHAT)? {
            out.push(e);
        }
    }
    Ok(out)
}

/// Grants to run before the views exist: column privileges copied onto the columns tandem
/// added to replace others.
pub(crate) async fn replacement_columns(
    client: &impl GenericClient,
    v: &VersionSchema,
    views: &[View],
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for view in views {
        let table = qualified(&v.physical_schema, &view.table);
        for c in &view.columns {
            if let Some(from) = &c.privileges_from {
                let entries = acl(client, &table, Some(from)).await?;
                out.extend(grant_statements(
                    &entries,
                    Some(&ident(&c.physical)),
                    &table,
                ));
            }
        }
    }
    Ok(out)
}

/// Grants to run once the version schema and its views exist (same transaction).
pub(crate) async fn version_schema(
    client: &impl GenericClient,
    v: &VersionSchema,
    views: &[View],
) -> Result<Vec<String>> {
    let mut out = schema_usage(client, v).await?;
    out.extend(view_privileges(client, v, views).await?);
    Ok(out)
}

/// One part of a refresh of a version schema's privileges: applied in a transaction of its own,
/// so tandem never holds one view's lock while it waits for another's (an application writing
/// through several views in one transaction could otherwise deadlock with it).
pub(crate) enum RefreshPart {
    SchemaUsage,
    View(View),
}

/// The parts of a refresh of the copies, for a version schema whose views use the tables' own
/// names (a completed migration's: at the end of its complete, and as the previous version when
/// the next migration starts), so grants made since reach it. None when the schema is gone.
pub(crate) async fn refresh_parts(
    client: &impl GenericClient,
    v: &VersionSchema,
) -> Result<Vec<RefreshPart>> {
    if !catalog::schema_exists(client, &v.name).await? {
        return Ok(Vec::new());
    }
    let views = views_of(&catalog::introspect(client, &v.physical_schema).await?);
    let mut out = vec![RefreshPart::SchemaUsage];
    out.extend(views.into_iter().map(RefreshPart::View));
    Ok(out)
}

/// The statements of one part of a refresh, read from the catalog as it is now.
pub(crate) async fn refresh_statements(
    client: &impl GenericClient,
    v: &VersionSchema,
    part: &RefreshPart,
) -> Result<Vec<String>> {
    match part {
        RefreshPart::SchemaUsage => schema_usage(client, v).await,
        RefreshPart::View(view) => view_privileges(client, v, std::slice::from_ref(view)).await,
    }
}

/// USAGE on the version schema for exactly the roles with USAGE on the physical schema: what
/// the version schema's ACL holds now is revoked first (a no-op on a new schema).
async fn schema_usage(client: &impl GenericClient, v: &VersionSchema) -> Result<Vec<String>> {
    let current = client
        .query(
            "SELECT DISTINCT r.rolname::text FROM pg_namespace n \
             CROSS JOIN LATERAL aclexplode(n.nspacl) a \
             LEFT JOIN pg_roles r ON r.oid = a.grantee \
             WHERE n.nspname = $1 AND a.grantee <> n.nspowner",
            &[&v.name],
        )
        .await
        .map_err(|e| Error::db(format!("reading who may use schema {}", v.name), e))?;
    let mut out = Vec::new();
    for row in &current {
        let grantee: Grantee = column(row, 0, "reading who may use a version schema")?;
        out.push(format!(
            "REVOKE ALL ON SCHEMA {} FROM {}",
            ident(&v.name),
            grantee_sql(&grantee)
        ));
    }
    let rows = client
        .query(
            "SELECT DISTINCT r.rolname::text FROM pg_namespace n \
             CROSS JOIN LATERAL aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a \
             LEFT JOIN pg_roles r ON r.oid = a.grantee \
             WHERE n.nspname = $1 AND a.privilege_type = 'USAGE'",
            &[&v.physical_schema],
        )
        .await
        .map_err(|e| {
            Error::db(
                format!("reading who may use schema {}", v.physical_schema),
                e,
            )
        })?;
    for row in &rows {
        let grantee: Grantee = column(row, 0, "reading who may use a schema")?;
        out.push(format!(
            "GRANT USAGE ON SCHEMA {} TO {}",
            ident(&v.name),
            grantee_sql(&grantee)
        ));
    }
    Ok(out)
}

/// Each view's privileges: on PostgreSQL 15+ a `security_invoker` view open to PUBLIC (the
/// table decides, as the querying role); a copy of the table's ACL on 14, and also on 15+ for
/// a table with column-level grants and no row security. (Through a `security_invoker` view an
/// UPDATE or DELETE with a WHERE needs SELECT on every column of the view, which a role with
/// column grants may lack; a view that checks as its owner asks only what the table would.)
async fn view_privileges(
    client: &impl GenericClient,
    v: &VersionSchema,
    views: &[View],
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for view in views {
        let relation = qualified(&v.name, &view.name);
        let table = qualified(&v.physical_schema, &view.table);
        let found = client
            .query_opt(
                "SELECT c.relrowsecurity, EXISTS (SELECT 1 FROM pg_attribute att \
                   WHERE att.attrelid = c.oid AND att.attnum > 0 AND NOT att.attisdropped \
                     AND att.attacl IS NOT NULL), \
                   coalesce((SELECT o.option_value::bool FROM pg_options_to_table(v.reloptions) o \
                     WHERE o.option_name = 'security_invoker'), false) \
                 FROM pg_class c, pg_class v \
                 WHERE c.oid = to_regclass($2) AND v.oid = to_regclass($1) \
                   AND pg_has_role(v.relowner, 'USAGE')",
                &[&relation, &table],
            )
            .await
            .map_err(|e| Error::db(format!("looking up view {relation}"), e))?;
        // A view tandem cannot change (gone, or made by a role tandem no longer acts as) is
        // left as it is rather than failing the step.
        let Some(found) = found else {
            continue;
        };
        let row_security: bool = column(&found, 0, "looking up a view's table")?;
        let column_grants: bool = column(&found, 1, "looking up a view's table")?;
        let invoker_now: bool = column(&found, 2, "looking up a view's options")?;
        // Whatever is on the view now (default privileges, an earlier copy) goes first;
        // revoking a table privilege revokes the column privileges too.
        let current = client
            .query(
                "SELECT DISTINCT r.rolname::text FROM pg_class c \
                 CROSS JOIN LATERAL aclexplode(c.relacl) a \
                 LEFT JOIN pg_roles r ON r.oid = a.grantee \
                 WHERE c.oid = to_regclass($1) AND a.grantee <> c.relowner \
                 UNION \
                 SELECT r.rolname::text FROM pg_attribute att \
                 CROSS JOIN LATERAL aclexplode(att.attacl) a \
                 LEFT JOIN pg_roles r ON r.oid = a.grantee \
                 WHERE att.attrelid = to_regclass($1) AND att.attacl IS NOT NULL",
                &[&relation],
            )
            .await
            .map_err(|e| Error::db(format!("reading the privileges on {relation}"), e))?;
        for row in &current {
            let grantee: Grantee = column(row, 0, "reading the privileges on a view")?;
            out.push(format!(
                "REVOKE ALL ON {relation} FROM {}",
                grantee_sql(&grantee)
            ));
        }
        if v.security_invoker {
            let invoker = row_security || !column_grants;
            // ALTER VIEW takes ACCESS EXCLUSIVE on the view, which every write through it
            // waits for: only when the option changes.
            if invoker != invoker_now {
                out.push(format!(
                    "ALTER VIEW {relation} SET (security_invoker = {invoker})"
                ));
            }
            if invoker {
                out.push(format!(
                    "GRANT SELECT, INSERT, UPDATE, DELETE ON {relation} TO PUBLIC"
                ));
                continue;
            }
        }
        let owner = view_owner(client, &relation).await?;
        let view_columns = columns_of(client, &relation).await?;
        let not_owner = |e: &Entry| e.grantee.as_deref() != Some(owner.as_str());
        // REFERENCES means nothing on a view.
        let on_view = |e: &Entry| e.privilege != "REFERENCES";
        let table_level: Vec<Entry> = acl(client, &table, None)
            .await?
            .into_iter()
            .filter(|e| not_owner(e) && on_view(e))
            .collect();
        out.extend(grant_statements(&table_level, None, &relation));
        let mut by_column = column_acls(client, &table).await?;
        for c in view
            .columns
            .iter()
            .filter(|c| view_columns.contains(&c.name))
        {
            let entries: Vec<Entry> = by_column
                .remove(&c.physical)
                .unwrap_or_default()
                .into_iter()
                .filter(|e| not_owner(e) && on_view(e))
                .collect();
            out.extend(grant_statements(&entries, Some(&ident(&c.name)), &relation));
        }
    }
    Ok(out)
}

/// Every column-level ACL entry of a table, by column, in one query.
async fn column_acls(
    client: &impl GenericClient,
    table: &str,
) -> Result<BTreeMap<String, Vec<Entry>>> {
    const WHAT: &str = "reading the column privileges of a table to copy them";
    let rows = client
        .query(
            "SELECT att.attname::text, r.rolname::text, a.privilege_type::text, a.is_grantable \
             FROM pg_attribute att \
             CROSS JOIN LATERAL aclexplode(att.attacl) a \
             LEFT JOIN pg_roles r ON r.oid = a.grantee \
             WHERE att.attrelid = to_regclass($1) AND att.attnum > 0 \
               AND att.attacl IS NOT NULL AND NOT att.attisdropped",
            &[&table],
        )
        .await
        .map_err(|e| Error::db(format!("reading the column privileges on {table}"), e))?;
    let mut out: BTreeMap<String, Vec<Entry>> = BTreeMap::new();
    for row in &rows {
        let name: String = column(row, 0, WHAT)?;
        if let Some(e) = entry(row, 1, WHAT)? {
            out.entry(name).or_default().push(e);
        }
    }
    Ok(out)
}

/// The tables of `schema` with row security on, for the warning on PostgreSQL 14 (whose views
/// read their tables as the view's owner, so the policies of the querying role do not apply).
pub(crate) async fn row_security_tables(
    client: &impl GenericClient,
    schema: &str,
) -> Result<Vec<String>> {
    let rows = client
        .query(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relrowsecurity ORDER BY 1",
            &[&schema],
        )
        .await
        .map_err(|e| {
            Error::db(
                format!("listing the tables of {schema} with row security"),
                e,
            )
        })?;
    rows.iter()
        .map(|r| column(r, 0, "listing tables with row security"))
        .collect()
}

async fn columns_of(client: &impl GenericClient, relation: &str) -> Result<Vec<String>> {
    let rows = client
        .query(
            "SELECT attname::text FROM pg_attribute \
             WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped",
            &[&relation],
        )
        .await
        .map_err(|e| Error::db(format!("reading the columns of {relation}"), e))?;
    rows.iter()
        .map(|r| column(r, 0, "reading a view's columns"))
        .collect()
}

async fn view_owner(client: &impl GenericClient, relation: &str) -> Result<String> {
    let row = client
        .query_one(
            "SELECT pg_get_userbyid(relowner)::text FROM pg_class WHERE oid = to_regclass($1)",
            &[&relation],
        )
        .await
        .map_err(|e| Error::db(format!("reading the owner of {relation}"), e))?;
    column(&row, 0, "reading a view's owner")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_are_grouped_per_grantee_and_grant_option() {
        let entries = [
            Entry {
                grantee: Some("app".into()),
                privilege: "SELECT",
                grantable: false,
            },
            Entry {
                grantee: Some("app".into()),
                privilege: "UPDATE",
                grantable: false,
            },
            Entry {
                grantee: None,
                privilege: "SELECT",
                grantable: false,
            },
            Entry {
                grantee: Some("Admin".into()),
                privilege: "SELECT",
                grantable: true,
            },
        ];
        assert_eq!(
            grant_statements(&entries, Some("\"e\""), "\"s\".\"t\""),
            [
                "GRANT SELECT (\"e\") ON \"s\".\"t\" TO PUBLIC",
                "GRANT SELECT (\"e\") ON \"s\".\"t\" TO \"Admin\" WITH GRANT OPTION",
                "GRANT SELECT (\"e\"), UPDATE (\"e\") ON \"s\".\"t\" TO \"app\"",
            ]
        );
    }
}
