//! The backfill and verification steps of a synced table: data, run by `tandem-pg`'s
//! batched walkers.

use super::parts::SyncedTable;
use crate::locks::LockMode;
use crate::plan::{lock, Action, Backfill, Step, Verify};
use crate::schema::RowCheck;

/// Fills the new columns of every existing row (none when nothing is computed).
pub(super) fn backfill(t: &SyncedTable, assignments: Vec<(String, String)>) -> Option<Step> {
    if assignments.is_empty() {
        return None;
    }
    Some(Step {
        description: format!("backfill {}", t.name),
        action: Action::Backfill(Backfill {
            schema: t.schema.to_string(),
            table: t.physical.to_string(),
            assignments,
        }),
        locks: vec![lock(t.schema, t.physical, LockMode::RowExclusive)],
        transactional: false,
        needs_start_steps: None,
    })
}

/// Checks every row against `checks` (none when there is nothing to check).
pub(super) fn verify(t: &SyncedTable, checks: Vec<RowCheck>, description: String) -> Option<Step> {
    if checks.is_empty() {
        return None;
    }
    Some(Step {
        description,
        action: Action::Verify(Verify {
            schema: t.schema.to_string(),
            table: t.physical.to_string(),
            checks,
        }),
        locks: vec![lock(t.schema, t.physical, LockMode::AccessShare)],
        transactional: false,
        needs_start_steps: None,
    })
}
