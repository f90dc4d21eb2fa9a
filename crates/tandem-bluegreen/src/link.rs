//! The replication from the active side to the passive side: which tables replicate as they
//! are (*direct*), which arrive in staging tables shaped like the active side's and are mapped
//! by triggers (*staged*), and which of the passive side's own tables must be moved out of
//! their names' way meanwhile (*parked*); publication, slot and subscription.

use crate::catalog::{self, Table};
use crate::mapping::{substitute, TableMap};
use crate::names::{
    self, APPLY_FUNCTION_PREFIX, APPLY_TRIGGER, APPLY_TRUNCATE_TRIGGER, MARKER_TABLE,
    REFUSE_TRIGGER, SCHEMA,
};
use crate::refusal::{refuse_function, refuse_trigger};
use crate::sides::{exec, Conn};
use crate::state::State;
use crate::{Error, Result, Side};
use std::collections::BTreeMap;
use tandem_core::quote::{ident, literal, qualified};

pub struct Staged {
    /// The active side's table, whose shape the staging table copies.
    pub source: Table,
    pub map: TableMap,
}

pub struct LinkPlan {
    pub direct: Vec<String>,
    pub staged: Vec<Staged>,
    /// Passive tables whose names the staging tables take.
    pub park: Vec<String>,
}

/// Decides, for each of the active side's tables, how it reaches the passive side.
pub fn plan(maps: &[TableMap], active: &[Table], passive: &[Table]) -> LinkPlan {
    let mut direct = Vec::new();
    let mut staged = Vec::new();
    for a in active {
        let map = maps.iter().find(|m| m.source == a.name);
        let same = passive.iter().any(|p| p.name == a.name && p.same_shape(a));
        match map {
            Some(m) if !(m.is_identity() && same) => staged.push(Staged {
                source: a.clone(),
                map: m.clone(),
            }),
            None if !same => staged.push(Staged {
                source: a.clone(),
                map: TableMap {
                    source: a.name.clone(),
                    target: None,
                    columns: Vec::new(),
                },
            }),
            _ => direct.push(a.name.clone()),
        }
    }
    let park = passive
        .iter()
        .filter(|p| staged.iter().any(|s| s.source.name == p.name))
        .map(|p| p.name.clone())
        .collect();
    LinkPlan {
        direct,
        staged,
        park,
    }
}

/// Turns a side into the passive one: parks its tables, creates the staging tables (filled
/// from the parked tables through `fill` when given: the passive side's map to the active
/// shape), their replica-only triggers, and triggers refusing application writes on every
/// table of the schema. One transaction.
pub async fn make_passive(
    conn: &Conn,
    schema: &str,
    link: &LinkPlan,
    passive_tables: &[Table],
    fill: Option<&[TableMap]>,
) -> Result<()> {
    let mut sql = Vec::new();
    sql.push(refuse_function());
    for name in &link.park {
        sql.push(format!(
            "ALTER TABLE {} SET SCHEMA {}",
            qualified(schema, name),
            ident(SCHEMA)
        ));
    }
    let located = |name: &str| {
        if link.park.iter().any(|p| p == name) {
            qualified(SCHEMA, name)
        } else {
            qualified(schema, name)
        }
    };
    for (i, s) in link.staged.iter().enumerate() {
        let staging = qualified(schema, &s.source.name);
        sql.extend(staging_table(&staging, &s.source));
        if let (Some(fill), Some(_)) = (fill, &s.map.target) {
            // The staging table must hold the active side's rows, or replicated updates and
            // deletes find nothing to change: computed here from the passive side's own rows.
            if let Some(back) = fill
                .iter()
                .find(|m| m.target.as_deref() == Some(&s.source.name))
            {
                let cols: Vec<&crate::mapping::ColumnMap> = back
                    .columns
                    .iter()
                    .filter(|c| s.source.column(&c.target).is_some_and(|c| !c.generated))
                    .collect();
                if !cols.is_empty() {
                    sql.push(format!(
                        "INSERT INTO {staging} ({}) SELECT {} FROM {}",
                        cols.iter()
                            .map(|c| ident(&c.target))
                            .collect::<Vec<_>>()
                            .join(", "),
                        cols.iter()
                            .map(|c| match s.source.column(&c.target) {
                                Some(t) => format!("CAST(({}) AS {})", c.expression, t.data_type),
                                None => c.expression.clone(),
                            })
                            .collect::<Vec<_>>()
                            .join(", "),
                        located(&back.source)
                    ));
                }
            }
        }
        let Some(target_name) = &s.map.target else {
            continue;
        };
        let Some(target) = passive_tables.iter().find(|t| &t.name == target_name) else {
            return Err(Error::usage(
                format!("table {target_name} is missing on {}", conn.target),
                "the mapping names a table the database does not have; run `tandem bluegreen cleanup` and create again",
            ));
        };
        let function = qualified(SCHEMA, &format!("{APPLY_FUNCTION_PREFIX}{i}"));
        sql.push(format!(
            "CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS {}",
            literal(&apply_body(
                &s.map,
                &s.source,
                target,
                &located(target_name)
            )?)
        ));
        sql.push(format!(
            "CREATE TRIGGER {} AFTER INSERT OR UPDATE OR DELETE ON {staging} FOR EACH ROW EXECUTE FUNCTION {function}()",
            ident(APPLY_TRIGGER)
        ));
        sql.push(format!(
            "ALTER TABLE {staging} ENABLE REPLICA TRIGGER {}",
            ident(APPLY_TRIGGER)
        ));
        let truncate = qualified(SCHEMA, &format!("{APPLY_FUNCTION_PREFIX}{i}_truncate"));
        sql.push(format!(
            "CREATE FUNCTION {truncate}() RETURNS trigger LANGUAGE plpgsql AS {}",
            literal(&format!(
                "BEGIN DELETE FROM {}; RETURN NULL; END",
                located(target_name)
            ))
        ));
        sql.push(format!(
            "CREATE TRIGGER {} AFTER TRUNCATE ON {staging} FOR EACH STATEMENT EXECUTE FUNCTION {truncate}()",
            ident(APPLY_TRUNCATE_TRIGGER)
        ));
        sql.push(format!(
            "ALTER TABLE {staging} ENABLE REPLICA TRIGGER {}",
            ident(APPLY_TRUNCATE_TRIGGER)
        ));
    }
    exec(conn, "making the database passive", "BEGIN").await?;
    let result = async {
        for s in &sql {
            exec(conn, "making the database passive", s).await?;
        }
        // Every table under the schema's names now refuses application writes (replicated
        // writes run with session_replication_role = replica, where these triggers sleep).
        for table in catalog::tables(conn.client(), schema).await? {
            exec(
                conn,
                "refusing application writes",
                &refuse_trigger(schema, &table.name),
            )
            .await?;
        }
        exec(conn, "making the database passive", "COMMIT").await
    }
    .await;
    if result.is_err() {
        let _ = conn.client().execute("ROLLBACK", &[]).await;
    }
    result.map(|_| ())
}

/// A blue- or green-shaped table to receive replication: the replicated columns and the key
/// replication identifies rows with.
fn staging_table(name: &str, source: &Table) -> Vec<String> {
    let cols: Vec<String> = source
        .replicated_columns()
        .map(|c| format!("{} {}", ident(&c.name), c.data_type))
        .collect();
    let key = source
        .key
        .iter()
        .map(|k| ident(k))
        .collect::<Vec<_>>()
        .join(", ");
    let mut out = vec![format!("CREATE TABLE {name} ({})", cols.join(", "))];
    // A replica identity index has NOT NULL columns, so a primary key on them (the key the
    // subscriber looks rows up with) fits both `d` and `i`.
    match source.replica_identity.as_str() {
        "d" | "i" if !source.key.is_empty() => {
            out.push(format!("ALTER TABLE {name} ADD PRIMARY KEY ({key})"))
        }
        _ => out.push(format!("ALTER TABLE {name} REPLICA IDENTITY FULL")),
    }
    out
}

/// The PL/pgSQL body applying one staging row to the real table.
fn apply_body(map: &TableMap, source: &Table, target: &Table, located: &str) -> Result<String> {
    let row = |record: &str| -> BTreeMap<String, String> {
        source
            .replicated_columns()
            .map(|c| (c.name.clone(), format!("{record}.{}", ident(&c.name))))
            .collect()
    };
    let (new, old) = (row("NEW"), row("OLD"));
    let writable: Vec<&crate::mapping::ColumnMap> = map
        .columns
        .iter()
        .filter(|c| target.column(&c.target).is_some_and(|t| !t.generated))
        .collect();
    let mut insert_cols = Vec::new();
    let mut insert_vals = Vec::new();
    let mut sets = Vec::new();
    // Values are cast to the target's types: a text `up` into a numeric column has no
    // assignment cast, and the migration's `alter_column` would have cast it too.
    let cast = |c: &crate::mapping::ColumnMap, value: String| match target.column(&c.target) {
        Some(t) => format!("CAST(({value}) AS {})", t.data_type),
        None => value,
    };
    for c in &writable {
        let value = cast(c, substitute(&c.expression, &source.name, &new)?);
        insert_cols.push(ident(&c.target));
        insert_vals.push(value.clone());
        let always_identity = target.column(&c.target).is_some_and(|t| t.identity == "a");
        if !always_identity {
            sets.push(format!("{} = {value}", ident(&c.target)));
        }
    }
    // Find the target row by its key when every key column is mapped (index lookups); else
    // by every mapped column.
    let key_mapped = !target.key.is_empty()
        && target
            .key
            .iter()
            .all(|k| writable.iter().any(|c| &c.target == k));
    let mut conditions = Vec::new();
    for c in &writable {
        let is_key = target.key.contains(&c.target);
        if key_mapped && !is_key {
            continue;
        }
        let value = cast(c, substitute(&c.expression, &source.name, &old)?);
        conditions.push(if key_mapped {
            format!("{} = {value}", ident(&c.target))
        } else {
            format!("{} IS NOT DISTINCT FROM {value}", ident(&c.target))
        });
    }
    let condition = if conditions.is_empty() {
        "false".to_string()
    } else {
        conditions.join(" AND ")
    };
    let insert = if insert_cols.is_empty() {
        format!("INSERT INTO {located} DEFAULT VALUES;")
    } else {
        format!(
            "INSERT INTO {located} ({}) OVERRIDING SYSTEM VALUE VALUES ({});",
            insert_cols.join(", "),
            insert_vals.join(", ")
        )
    };
    let update = if sets.is_empty() {
        String::new()
    } else {
        format!(
            "UPDATE {located} SET {} WHERE {condition};",
            sets.join(", ")
        )
    };
    Ok(format!(
        "BEGIN IF TG_OP = 'INSERT' THEN {insert} ELSIF TG_OP = 'UPDATE' THEN {update} ELSE DELETE FROM {located} WHERE {condition}; END IF; RETURN NULL; END"
    ))
}

/// Makes a passive side active again: staging tables dropped, parked tables back under their
/// names, application writes allowed. One transaction; the moment it commits, the side takes
/// writes.
pub async fn make_active(
    conn: &Conn,
    state: &State,
    sequences: &[(String, Option<i64>)],
) -> Result<usize> {
    let schema = &state.schema;
    let mut copied = 0;
    exec(conn, "making the database active", "BEGIN").await?;
    let result = async {
        for s in &state.staging {
            exec(conn, "dropping a staging table", &format!("DROP TABLE IF EXISTS {}", qualified(schema, s))).await?;
        }
        for p in &state.parked {
            exec(conn, "moving a table back", &format!("ALTER TABLE {} SET SCHEMA {}", qualified(SCHEMA, p), ident(schema))).await?;
        }
        for t in catalog::tables(conn.client(), schema).await? {
            exec(conn, "allowing writes", &format!("DROP TRIGGER IF EXISTS {} ON {}", ident(REFUSE_TRIGGER), qualified(schema, &t.name))).await?;
        }
        drop_apply_functions(conn).await?;
        // Sequences are not replicated: they continue from the old side's values.
        for (name, value) in sequences {
            let Some(value) = value else { continue };
            let n = conn
                .client()
                .execute(
                    "SELECT pg_catalog.setval(c.oid::regclass, $2, true) FROM pg_catalog.pg_class c \
                     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                     WHERE n.nspname = $3 AND c.relname = $1 AND c.relkind = 'S'",
                    &[name, value, schema],
                )
                .await
                .map_err(|e| Error::db(format!("setting sequence {name} on {}", conn.target), e))?;
            copied += n as usize;
        }
        exec(conn, "making the database active", "COMMIT").await
    }
    .await;
    if result.is_err() {
        let _ = conn.client().execute("ROLLBACK", &[]).await;
    }
    result.map(|_| copied)
}

async fn drop_apply_functions(conn: &Conn) -> Result<()> {
    let functions = catalog::strings(
        conn.client(),
        "SELECT p.proname::text FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
         WHERE n.nspname = $1 ORDER BY 1",
        SCHEMA,
    )
    .await?;
    for f in functions
        .iter()
        .filter(|f| f.starts_with(APPLY_FUNCTION_PREFIX))
    {
        exec(
            conn,
            "dropping an apply function",
            &format!("DROP FUNCTION IF EXISTS {}() CASCADE", qualified(SCHEMA, f)),
        )
        .await?;
    }
    Ok(())
}

/// The publication on the active side: every table of the schema, and the marker.
pub async fn publish(active: &Conn, from: Side, schema: &str) -> Result<()> {
    let mut tables: Vec<String> = catalog::tables(active.client(), schema)
        .await?
        .iter()
        .map(|t| qualified(schema, &t.name))
        .collect();
    tables.push(qualified(SCHEMA, MARKER_TABLE));
    exec(
        active,
        "creating the publication",
        &format!(
            "CREATE PUBLICATION {} FOR TABLE {}",
            ident(names::replication_name(from)),
            tables.join(", ")
        ),
    )
    .await?;
    Ok(())
}

/// The replication slot on the active side. Created by tandem rather than by CREATE
/// SUBSCRIPTION so that it exists from a moment tandem chooses (before the passive side is
/// written to), and so that both sides may live on one server.
pub async fn create_slot(active: &Conn, from: Side) -> Result<()> {
    active
        .client()
        .execute(
            "SELECT pg_catalog.pg_create_logical_replication_slot($1, 'pgoutput')",
            &[&names::replication_name(from)],
        )
        .await
        .map_err(|e| Error::Database {
            context: format!("creating the replication slot on {}", active.target),
            help: "check max_replication_slots on that server (each direction needs one free slot)"
                .into(),
            source: e,
        })?;
    Ok(())
}

/// The subscription on the passive side, to the active side's slot.
pub async fn subscribe(passive: &Conn, active: &Conn, from: Side, copy_data: bool) -> Result<()> {
    let name = names::replication_name(from);
    exec(
        passive,
        "creating the subscription",
        &format!(
            "CREATE SUBSCRIPTION {} CONNECTION {} PUBLICATION {} WITH (create_slot = false, slot_name = {}, copy_data = {copy_data})",
            ident(name),
            literal(&active.url),
            ident(name),
            literal(name),
        ),
    )
    .await
    .map_err(|e| match e {
        Error::Database { context, source, .. } => Error::Database {
            context,
            help: format!(
                "the subscription on {} connects to {} with the URL given for it: it must work from that server too",
                passive.target, active.target
            ),
            source,
        },
        other => other,
    })?;
    Ok(())
}

/// Drops the subscription out of `from` on `passive` and the slot on `active` (when reachable).
pub async fn unsubscribe(passive: &Conn, active: Option<&Conn>, from: Side) -> Result<()> {
    let name = names::replication_name(from);
    let exists = !catalog::strings(
        passive.client(),
        "SELECT subname::text FROM pg_catalog.pg_subscription WHERE subname = $1",
        name,
    )
    .await?
    .is_empty();
    if exists {
        // Detached from its slot first, so dropping it never waits for the other server.
        for sql in [
            format!("ALTER SUBSCRIPTION {} DISABLE", ident(name)),
            format!("ALTER SUBSCRIPTION {} SET (slot_name = NONE)", ident(name)),
            format!("DROP SUBSCRIPTION {}", ident(name)),
        ] {
            exec(passive, "dropping the subscription", &sql).await?;
        }
    }
    if let Some(active) = active {
        drop_slot(active, name).await?;
        exec(
            active,
            "dropping the publication",
            &format!("DROP PUBLICATION IF EXISTS {}", ident(name)),
        )
        .await?;
    }
    Ok(())
}

/// Drops a slot, ending the walsender that may still hold it.
pub async fn drop_slot(conn: &Conn, name: &str) -> Result<()> {
    for _ in 0..50 {
        let r = conn
            .client()
            .execute(
                "SELECT pg_catalog.pg_terminate_backend(active_pid) FROM pg_catalog.pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL",
                &[&name],
            )
            .await;
        r.map_err(|e| {
            Error::db(
                format!("ending the sender of slot {name} on {}", conn.target),
                e,
            )
        })?;
        let dropped = conn
            .client()
            .execute(
                "SELECT pg_catalog.pg_drop_replication_slot(slot_name) FROM pg_catalog.pg_replication_slots WHERE slot_name = $1",
                &[&name],
            )
            .await;
        match dropped {
            Ok(_) => return Ok(()),
            // Still active for a moment after its sender was told to end.
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::OBJECT_IN_USE) => {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await
            }
            Err(e) => {
                return Err(Error::db(
                    format!("dropping slot {name} on {}", conn.target),
                    e,
                ))
            }
        }
    }
    Err(Error::usage(
        format!(
            "the replication slot {name} on {} stays in use",
            conn.target
        ),
        "find its user in pg_replication_slots.active_pid and end it, then run the command again",
    ))
}
