//! Copies blue's schema to green from blue's catalogs (no pg_dump): extensions, enum and
//! domain types, sequences, functions, tables with their defaults, identity and generated
//! columns, constraints, indexes, replica identity, views and triggers, in dependency order.
//! Blue's session has an empty search_path, so every name the catalog functions print is
//! schema-qualified and means the same thing on green.

use crate::catalog::{get, strings};
use crate::sides::{exec, Conn};
use crate::{Error, Result};
use tandem_core::quote::{ident, literal, qualified};

/// Every statement, in order; `copy` runs them on green.
pub async fn statements(blue: &Conn, schema: &str) -> Result<Vec<String>> {
    let c = blue.client();
    let mut out = Vec::new();
    if schema != "public" {
        out.push(format!("CREATE SCHEMA IF NOT EXISTS {}", ident(schema)));
    }
    for row in query(
        blue,
        "SELECT e.extname::text, n.nspname::text FROM pg_catalog.pg_extension e \
         JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace WHERE e.extname <> 'plpgsql' ORDER BY e.oid",
        &[],
    )
    .await?
    {
        let (name, ns): (String, String) = (get(&row, 0)?, get(&row, 1)?);
        out.push(format!("CREATE SCHEMA IF NOT EXISTS {}", ident(&ns)));
        out.push(format!(
            "CREATE EXTENSION IF NOT EXISTS {} WITH SCHEMA {}",
            ident(&name),
            ident(&ns)
        ));
    }
    // Types that are not part of an extension: enums, then domains.
    const NOT_EXTENSION: &str = "NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.objid = t.oid AND d.deptype = 'e')";
    for row in query(
        blue,
        &format!(
            "SELECT t.typname::text, (SELECT json_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid)::text \
             FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace \
             WHERE n.nspname = $1 AND t.typtype = 'e' AND {NOT_EXTENSION} ORDER BY t.oid"
        ),
        &[&schema],
    )
    .await?
    {
        let name: String = get(&row, 0)?;
        let labels: String = get(&row, 1)?;
        let labels: Vec<String> = serde_json::from_str(&labels).unwrap_or_default();
        let labels: Vec<String> = labels.iter().map(|l| literal(l)).collect();
        out.push(format!(
            "CREATE TYPE {} AS ENUM ({})",
            qualified(schema, &name),
            labels.join(", ")
        ));
    }
    for row in query(
        blue,
        &format!(
            "SELECT t.typname::text, pg_catalog.format_type(t.typbasetype, t.typtypmod), t.typnotnull, t.typdefault, \
             COALESCE((SELECT string_agg(pg_catalog.pg_get_constraintdef(c.oid), ' ' ORDER BY c.oid) FROM pg_catalog.pg_constraint c WHERE c.contypid = t.oid), '') \
             FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace \
             WHERE n.nspname = $1 AND t.typtype = 'd' AND {NOT_EXTENSION} ORDER BY t.oid"
        ),
        &[&schema],
    )
    .await?
    {
        let name: String = get(&row, 0)?;
        let base: String = get(&row, 1)?;
        let not_null: bool = get(&row, 2)?;
        let default: Option<String> = get(&row, 3)?;
        let checks: String = get(&row, 4)?;
        let mut sql = format!("CREATE DOMAIN {} AS {base}", qualified(schema, &name));
        if let Some(d) = default {
            sql.push_str(&format!(" DEFAULT {d}"));
        }
        if not_null {
            sql.push_str(" NOT NULL");
        }
        if !checks.is_empty() {
            sql.push(' ');
            sql.push_str(&checks);
        }
        out.push(sql);
    }
    // Sequences, except those of identity columns (the column creates its own).
    for row in query(
        blue,
        "SELECT s.sequencename::text, s.data_type::text, s.start_value, s.min_value, s.max_value, s.increment_by, s.cycle, s.cache_size \
         FROM pg_catalog.pg_sequences s \
         JOIN pg_catalog.pg_class c ON c.relname = s.sequencename \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace AND n.nspname = s.schemaname \
         WHERE s.schemaname = $1 AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.objid = c.oid AND d.deptype = 'i') \
         ORDER BY c.oid",
        &[&schema],
    )
    .await?
    {
        let name: String = get(&row, 0)?;
        let data_type: String = get(&row, 1)?;
        let (start, min, max, inc): (i64, i64, i64, i64) =
            (get(&row, 2)?, get(&row, 3)?, get(&row, 4)?, get(&row, 5)?);
        let cycle: bool = get(&row, 6)?;
        let cache: i64 = get(&row, 7)?;
        out.push(format!(
            "CREATE SEQUENCE {} AS {data_type} INCREMENT BY {inc} MINVALUE {min} MAXVALUE {max} START WITH {start} CACHE {cache} {}",
            qualified(schema, &name),
            if cycle { "CYCLE" } else { "NO CYCLE" }
        ));
    }
    // Functions (bodies are not checked now: they may name tables created below).
    for def in strings(
        c,
        "SELECT pg_catalog.pg_get_functiondef(p.oid) FROM pg_catalog.pg_proc p \
         JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
         WHERE n.nspname = $1 AND p.prokind IN ('f', 'p') \
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e') \
         ORDER BY p.oid",
        schema,
    )
    .await?
    {
        out.push(def);
    }
    // Tables with their columns.
    for row in query(
        blue,
        "SELECT c.relname::text, c.relpersistence = 'u', \
           COALESCE((SELECT json_agg(json_build_array(a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull, \
                    pg_catalog.pg_get_expr(d.adbin, d.adrelid), a.attidentity::text, a.attgenerated::text, \
                    CASE WHEN a.attcollation <> t.typcollation THEN (SELECT json_build_array(cn.nspname::text, co.collname::text) FROM pg_catalog.pg_collation co JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = a.attcollation) END) ORDER BY a.attnum) \
             FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
             LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
             WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '[]'::json)::text \
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = $1 AND c.relkind = 'r' AND NOT c.relispartition ORDER BY c.oid",
        &[&schema],
    )
    .await?
    {
        let name: String = get(&row, 0)?;
        let unlogged: bool = get(&row, 1)?;
        let cols: String = get(&row, 2)?;
        type Col = (
            String,
            String,
            bool,
            Option<String>,
            String,
            String,
            Option<(String, String)>,
        );
        let cols: Vec<Col> = serde_json::from_str(&cols).map_err(|e| {
            Error::usage(
                format!("unexpected catalog contents for table {name}: {e}"),
                "this is a bug in tandem; please report it with your PostgreSQL version",
            )
        })?;
        let mut defs = Vec::new();
        for (col, ty, not_null, default, identity, generated, collation) in cols {
            let mut d = format!("{} {ty}", ident(&col));
            if let Some((schema, name)) = collation {
                d.push_str(&format!(" COLLATE {}", qualified(&schema, &name)));
            }
            match (identity.as_str(), generated.as_str(), default) {
                ("a", _, _) => d.push_str(" GENERATED ALWAYS AS IDENTITY"),
                ("d", _, _) => d.push_str(" GENERATED BY DEFAULT AS IDENTITY"),
                (_, "s", Some(expr)) => d.push_str(&format!(" GENERATED ALWAYS AS ({expr}) STORED")),
                (_, _, Some(expr)) => d.push_str(&format!(" DEFAULT {expr}")),
                _ => {}
            }
            if not_null {
                d.push_str(" NOT NULL");
            }
            defs.push(d);
        }
        out.push(format!(
            "CREATE {}TABLE {} ({})",
            if unlogged { "UNLOGGED " } else { "" },
            qualified(schema, &name),
            defs.join(", ")
        ));
    }
    // Constraints: keys and checks first, foreign keys once every key exists.
    for kinds in ["'p', 'u', 'c', 'x'", "'f'"] {
        for row in query(
            blue,
            &format!(
                "SELECT cl.relname::text, co.conname::text, pg_catalog.pg_get_constraintdef(co.oid) \
                 FROM pg_catalog.pg_constraint co JOIN pg_catalog.pg_class cl ON cl.oid = co.conrelid \
                 JOIN pg_catalog.pg_namespace n ON n.oid = cl.relnamespace \
                 WHERE n.nspname = $1 AND cl.relkind = 'r' AND co.contype IN ({kinds}) AND co.conislocal ORDER BY co.oid"
            ),
            &[&schema],
        )
        .await?
        {
            let (table, name, def): (String, String, String) =
                (get(&row, 0)?, get(&row, 1)?, get(&row, 2)?);
            out.push(format!(
                "ALTER TABLE {} ADD CONSTRAINT {} {def}",
                qualified(schema, &table),
                ident(&name)
            ));
        }
    }
    // Indexes that back no constraint.
    for def in strings(
        c,
        "SELECT pg_catalog.pg_get_indexdef(i.indexrelid) FROM pg_catalog.pg_index i \
         JOIN pg_catalog.pg_class t ON t.oid = i.indrelid JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace \
         WHERE n.nspname = $1 AND t.relkind = 'r' \
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint co WHERE co.conindid = i.indexrelid AND co.conrelid = i.indrelid) \
         ORDER BY i.indexrelid",
        schema,
    )
    .await?
    {
        out.push(def);
    }
    // Replica identity other than the default.
    for row in query(
        blue,
        "SELECT t.relname::text, t.relreplident::text, (SELECT ic.relname::text FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = t.oid AND i.indisreplident) \
         FROM pg_catalog.pg_class t JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace \
         WHERE n.nspname = $1 AND t.relkind = 'r' AND t.relreplident <> 'd' ORDER BY t.oid",
        &[&schema],
    )
    .await?
    {
        let (table, kind, index): (String, String, Option<String>) =
            (get(&row, 0)?, get(&row, 1)?, get(&row, 2)?);
        let what = match (kind.as_str(), index) {
            ("f", _) => "FULL".to_string(),
            ("n", _) => "NOTHING".to_string(),
            ("i", Some(index)) => format!("USING INDEX {}", ident(&index)),
            _ => continue,
        };
        out.push(format!(
            "ALTER TABLE {} REPLICA IDENTITY {what}",
            qualified(schema, &table)
        ));
    }
    // Sequences owned by columns.
    for row in query(
        blue,
        "SELECT s.relname::text, t.relname::text, a.attname::text FROM pg_catalog.pg_depend d \
         JOIN pg_catalog.pg_class s ON s.oid = d.objid AND s.relkind = 'S' \
         JOIN pg_catalog.pg_class t ON t.oid = d.refobjid \
         JOIN pg_catalog.pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid \
         JOIN pg_catalog.pg_namespace n ON n.oid = s.relnamespace \
         WHERE n.nspname = $1 AND d.deptype = 'a' ORDER BY s.oid",
        &[&schema],
    )
    .await?
    {
        let (seq, table, col): (String, String, String) =
            (get(&row, 0)?, get(&row, 1)?, get(&row, 2)?);
        out.push(format!(
            "ALTER SEQUENCE {} OWNED BY {}.{}",
            qualified(schema, &seq),
            qualified(schema, &table),
            ident(&col)
        ));
    }
    // Views, oldest first (a view can only use older ones).
    for row in query(
        blue,
        "SELECT c.relname::text, pg_catalog.pg_get_viewdef(c.oid) FROM pg_catalog.pg_class c \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'v' ORDER BY c.oid",
        &[&schema],
    )
    .await?
    {
        let (name, def): (String, String) = (get(&row, 0)?, get(&row, 1)?);
        out.push(format!(
            "CREATE VIEW {} AS {}",
            qualified(schema, &name),
            def.trim_end().trim_end_matches(';')
        ));
    }
    for def in strings(
        c,
        "SELECT pg_catalog.pg_get_triggerdef(tg.oid) FROM pg_catalog.pg_trigger tg \
         JOIN pg_catalog.pg_class c ON c.oid = tg.tgrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = $1 AND NOT tg.tgisinternal ORDER BY tg.oid",
        schema,
    )
    .await?
    {
        out.push(def);
    }
    Ok(out)
}

/// Runs the statements on green, in one transaction: a failure leaves green as it was.
pub async fn copy(blue: &Conn, green: &Conn, schema: &str) -> Result<usize> {
    let all = statements(blue, schema).await?;
    exec(green, "starting the schema copy", "BEGIN").await?;
    exec(
        green,
        "deferring function body checks",
        "SET LOCAL check_function_bodies = off",
    )
    .await?;
    for sql in &all {
        if let Err(e) = green.client().execute(sql.as_str(), &[]).await {
            let _ = green.client().execute("ROLLBACK", &[]).await;
            return Err(Error::Database {
                context: format!("copying blue's schema to {}: `{sql}`", green.target),
                help: "green must be an empty database on a server that has the same extensions, collations and roles as blue; nothing was copied".into(),
                source: e,
            });
        }
    }
    exec(green, "committing the schema copy", "COMMIT").await?;
    Ok(all.len())
}

async fn query(
    conn: &Conn,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Vec<tokio_postgres::Row>> {
    conn.client()
        .query(sql, params)
        .await
        .map_err(|e| Error::db(format!("reading blue's catalog on {}", conn.target), e))
}
