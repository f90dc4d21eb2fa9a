//! What must hold before `create` changes anything, each failure named with its fix.

use crate::catalog::{self, get};
use crate::names::SCHEMA;
use crate::sides::{Conn, Pair};
use crate::{Error, Result, Side};
use serde::Serialize;

/// One unmet precondition.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    pub side: Side,
    pub what: String,
    pub fix: String,
}

/// Every unmet precondition of both sides (empty when `create` can go ahead).
pub async fn check_preconditions(pair: &Pair) -> Result<Vec<Problem>> {
    let mut problems = Vec::new();
    for side in [Side::Blue, Side::Green] {
        server(pair.side(side), side, &mut problems).await?;
    }
    let blue = pair.side(Side::Blue);
    for table in catalog::tables(blue.client(), &pair.schema).await? {
        let identified = match table.replica_identity.as_str() {
            "d" => table.has_primary_key,
            "i" | "f" => true,
            _ => false,
        };
        if !identified {
            problems.push(Problem {
                side: Side::Blue,
                what: format!("table {}.{} has no primary key or replica identity: its updates and deletes cannot be replicated", pair.schema, table.name),
                fix: format!("add a primary key, or `ALTER TABLE {}.{} REPLICA IDENTITY USING INDEX <unique index on NOT NULL columns>` (or REPLICA IDENTITY FULL, slow on large tables)", pair.schema, table.name),
            });
        }
    }
    for table in catalog::partitioned_tables(blue.client(), &pair.schema).await? {
        problems.push(Problem {
            side: Side::Blue,
            what: format!("table {}.{} is partitioned (or a partition); tandem bluegreen does not handle partitioned tables yet", pair.schema, table),
            fix: "use expand/contract (`tandem start`) for this schema".into(),
        });
    }
    let green = pair.side(Side::Green);
    if crate::catalog::schema_exists(green.client(), SCHEMA).await? {
        problems.push(Problem {
            side: Side::Green,
            what: format!(
                "green already has a `{SCHEMA}` schema: a blue-green procedure was created before"
            ),
            fix: "run `tandem bluegreen cleanup`, then drop and re-create the green database"
                .into(),
        });
    }
    let green_tables = catalog::tables(green.client(), &pair.schema).await?;
    if !green_tables.is_empty() {
        problems.push(Problem {
            side: Side::Green,
            what: format!(
                "green's schema {} is not empty (tables: {})",
                pair.schema,
                green_tables.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", ")
            ),
            fix: "give an empty database as --green-url (CREATE DATABASE green); tandem copies blue's schema itself".into(),
        });
    }
    Ok(problems)
}

/// Server settings and privileges one side needs: it publishes (blue now, green after
/// switchover) and subscribes (green now, blue after switchover).
async fn server(conn: &Conn, side: Side, problems: &mut Vec<Problem>) -> Result<()> {
    let row = conn
        .client()
        .query_one(
            "SELECT current_setting('wal_level'), \
                    current_setting('max_replication_slots')::int, \
                    (SELECT count(*)::int FROM pg_catalog.pg_replication_slots), \
                    current_setting('max_wal_senders')::int, \
                    (SELECT count(*)::int FROM pg_catalog.pg_stat_replication), \
                    current_setting('max_logical_replication_workers')::int, \
                    r.rolsuper, r.rolreplication, current_user::text, \
                    current_setting('server_version_num')::int, \
                    pg_catalog.pg_has_role(current_user, 'pg_read_all_stats', 'MEMBER') \
             FROM pg_catalog.pg_roles r WHERE r.rolname = current_user",
            &[],
        )
        .await
        .map_err(|e| Error::db(format!("reading the settings of {}", conn.target), e))?;
    let wal_level: String = get(&row, 0)?;
    let (slots, used, senders, sending, workers): (i32, i32, i32, i32, i32) = (
        get(&row, 1)?,
        get(&row, 2)?,
        get(&row, 3)?,
        get(&row, 4)?,
        get(&row, 5)?,
    );
    let (superuser, replication): (bool, bool) = (get(&row, 6)?, get(&row, 7)?);
    let user: String = get(&row, 8)?;
    let version: i32 = get(&row, 9)?;
    let mut problem = |what: String, fix: String| problems.push(Problem { side, what, fix });
    if wal_level != "logical" {
        problem(
            format!("wal_level is `{wal_level}` on {}", conn.target),
            "set `wal_level = logical` in postgresql.conf (or ALTER SYSTEM SET wal_level = logical) and restart the server".into(),
        );
    }
    if slots - used < 1 {
        problem(
            format!("no free replication slot on {} ({used} of max_replication_slots = {slots} in use)", conn.target),
            "raise max_replication_slots (restart needed) or drop an unused slot (pg_replication_slots)".into(),
        );
    }
    if senders - sending < 1 {
        problem(
            format!(
                "no free WAL sender on {} ({sending} of max_wal_senders = {senders} in use)",
                conn.target
            ),
            "raise max_wal_senders (restart needed)".into(),
        );
    }
    if workers < 2 {
        problem(
            format!("max_logical_replication_workers is {workers} on {}: the subscription needs an apply worker and a table-sync worker", conn.target),
            "set max_logical_replication_workers to at least 4 (restart needed)".into(),
        );
    }
    if !superuser && !replication {
        problem(
            format!("role {user} on {} has neither REPLICATION nor SUPERUSER", conn.target),
            format!("ALTER ROLE {user} REPLICATION (on managed services: grant the provider's replication role, e.g. rds_replication)"),
        );
    }
    // Creating a subscription needs superuser before PostgreSQL 16, pg_create_subscription after.
    if !superuser {
        let can_subscribe = if version >= 160000 {
            let row = conn
                .client()
                .query_one("SELECT pg_catalog.pg_has_role(current_user, 'pg_create_subscription', 'MEMBER')", &[])
                .await
                .map_err(|e| Error::db("checking pg_create_subscription", e))?;
            get::<bool>(&row, 0)?
        } else {
            false
        };
        if !can_subscribe {
            problem(
                format!("role {user} on {} cannot create subscriptions", conn.target),
                if version >= 160000 {
                    format!("GRANT pg_create_subscription TO {user}, and GRANT CREATE ON DATABASE to it")
                } else {
                    "before PostgreSQL 16 only a superuser creates subscriptions: connect as one"
                        .into()
                },
            );
        }
    }
    Ok(())
}
