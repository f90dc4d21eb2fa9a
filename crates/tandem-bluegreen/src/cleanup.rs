//! `tandem bluegreen cleanup`: no subscription, publication, slot, trigger or staging table of
//! tandem's is left on either side. The passive side gets its own tables back under their
//! names (it is then a stale copy, shaped as it was); the active side is not touched beyond
//! removing tandem's objects.

use crate::catalog;
use crate::link;
use crate::names::{self, SCHEMA};
use crate::sides::{exec, open, Conn, Options};
use crate::state;
use crate::{Result, Side};
use serde::Serialize;
use tandem_core::quote::ident;

#[derive(Debug, Clone, Serialize)]
pub struct CleanupReport {
    /// What was removed, per side.
    pub removed: Vec<String>,
}

pub async fn cleanup(options: &Options) -> Result<CleanupReport> {
    let blue = open(&options.blue_url).await?;
    let green = open(&options.green_url).await?;
    let mut removed = Vec::new();
    // Subscriptions first (each also releases its slot on the other side).
    for (passive, active, from) in [(&green, &blue, Side::Blue), (&blue, &green, Side::Green)] {
        let name = names::replication_name(from);
        let had = has(
            passive,
            "SELECT subname::text FROM pg_catalog.pg_subscription WHERE subname = $1",
            name,
        )
        .await?;
        let slot = has(
            active,
            "SELECT slot_name::text FROM pg_catalog.pg_replication_slots WHERE slot_name = $1",
            name,
        )
        .await?;
        let publication = has(
            active,
            "SELECT pubname::text FROM pg_catalog.pg_publication WHERE pubname = $1",
            name,
        )
        .await?;
        link::unsubscribe(passive, Some(active), from).await?;
        if had {
            removed.push(format!("subscription {name} on {}", passive.target));
        }
        if slot {
            removed.push(format!("replication slot {name} on {}", active.target));
        }
        if publication {
            removed.push(format!("publication {name} on {}", active.target));
        }
    }
    for conn in [&blue, &green] {
        if let Some(st) = state::load(conn).await? {
            // A passive side gets its own tables back; the active side only loses the
            // triggers (none are left there normally).
            link::make_active(conn, &st, &[]).await?;
            for s in &st.staging {
                removed.push(format!(
                    "staging table {}.{s} on {}",
                    st.schema, conn.target
                ));
            }
        } else {
            for t in catalog::tables(conn.client(), &options.schema).await? {
                exec(
                    conn,
                    "dropping a trigger",
                    &format!(
                        "DROP TRIGGER IF EXISTS {} ON {}",
                        ident(names::REFUSE_TRIGGER),
                        tandem_core::quote::qualified(&options.schema, &t.name)
                    ),
                )
                .await?;
            }
        }
        if catalog::schema_exists(conn.client(), SCHEMA).await? {
            exec(
                conn,
                "dropping tandem's bluegreen schema",
                &format!("DROP SCHEMA {} CASCADE", ident(SCHEMA)),
            )
            .await?;
            removed.push(format!("schema {SCHEMA} on {}", conn.target));
        }
    }
    Ok(CleanupReport { removed })
}

async fn has(conn: &Conn, sql: &str, name: &str) -> Result<bool> {
    Ok(!catalog::strings(conn.client(), sql, name).await?.is_empty())
}
