//! The names tandem gives its objects on both sides. Fixed names make `cleanup` complete even
//! when the state was lost, and make a second `create` on the same pair an error, not a mess.

/// The schema of tandem's state, the switch marker and the parked tables, on both sides.
pub const SCHEMA: &str = "tandem_bluegreen";
/// The state table (one row) in [`SCHEMA`].
pub const STATE_TABLE: &str = "state";
/// The marker table: a row written on the active side after writes stopped; when it arrives
/// on the passive side, everything committed before it has arrived too (commit order).
pub const MARKER_TABLE: &str = "switch_marker";
/// Prefix of the functions that apply a staging row to the real table.
pub const APPLY_FUNCTION_PREFIX: &str = "apply_";
/// The function behind the triggers that refuse application writes on the passive side.
pub const REFUSE_FUNCTION: &str = "refuse_write";
/// Trigger names (per table).
pub const APPLY_TRIGGER: &str = "tandem_bluegreen_apply";
pub const APPLY_TRUNCATE_TRIGGER: &str = "tandem_bluegreen_apply_truncate";
pub const REFUSE_TRIGGER: &str = "tandem_bluegreen_refuse_write";

/// Publication, subscription and slot of the replication out of `side` (all three share it).
pub fn replication_name(from: crate::Side) -> &'static str {
    match from {
        crate::Side::Blue => "tandem_bg_from_blue",
        crate::Side::Green => "tandem_bg_from_green",
    }
}
