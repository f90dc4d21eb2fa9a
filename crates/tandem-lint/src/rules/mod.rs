//! The rules, one per file, and the registry that lists them.

pub mod check_constraint_without_not_valid;
pub mod cluster;
pub mod concurrently_in_transaction;
pub mod detach_partition_without_concurrently;
pub mod drop_column;
pub mod drop_database;
pub mod drop_table;
pub mod exclusion_constraint;
pub mod foreign_key_without_not_valid;
pub mod lock_table;
pub mod not_null_column_without_default;
pub mod prefer_bigint_keys;
pub mod prefer_jsonb;
pub mod prefer_text_over_char;
pub mod prefer_timestamptz;
pub mod refresh_materialized_view;
pub mod rename_column;
pub mod rename_table;
pub mod require_concurrent_index_creation;
pub mod require_concurrent_index_deletion;
pub mod require_concurrent_reindex;
pub mod require_lock_timeout;
pub mod rewriting_type_change;
pub mod serial_column_on_existing_table;
pub mod set_logged_unlogged;
pub mod set_not_null_without_check;
pub mod statements_after_access_exclusive;
pub mod stored_generated_column;
pub mod transaction_nesting;
pub mod truncate_cascade;
mod type_advice;
pub mod unbatched_data_change;
pub mod uncommitted_transaction;
pub mod unique_without_using_index;
pub mod vacuum_full;
pub mod validate_in_same_transaction;
pub mod volatile_default;

use crate::rule::Rule;

/// Every rule, in the order they are documented (grouped by subject).
pub const REGISTRY: &[&Rule] = &[
    &require_concurrent_index_creation::RULE,
    &require_concurrent_index_deletion::RULE,
    &concurrently_in_transaction::RULE,
    &require_concurrent_reindex::RULE,
    &check_constraint_without_not_valid::RULE,
    &foreign_key_without_not_valid::RULE,
    &validate_in_same_transaction::RULE,
    &unique_without_using_index::RULE,
    &exclusion_constraint::RULE,
    &set_not_null_without_check::RULE,
    &not_null_column_without_default::RULE,
    &rewriting_type_change::RULE,
    &volatile_default::RULE,
    &stored_generated_column::RULE,
    &set_logged_unlogged::RULE,
    &serial_column_on_existing_table::RULE,
    &rename_column::RULE,
    &rename_table::RULE,
    &drop_column::RULE,
    &drop_table::RULE,
    &truncate_cascade::RULE,
    &drop_database::RULE,
    &vacuum_full::RULE,
    &cluster::RULE,
    &lock_table::RULE,
    &detach_partition_without_concurrently::RULE,
    &refresh_materialized_view::RULE,
    &require_lock_timeout::RULE,
    &statements_after_access_exclusive::RULE,
    &unbatched_data_change::RULE,
    &transaction_nesting::RULE,
    &uncommitted_transaction::RULE,
    &prefer_jsonb::RULE,
    &prefer_timestamptz::RULE,
    &prefer_text_over_char::RULE,
    &prefer_bigint_keys::RULE,
];

/// The rule with this id.
pub fn find(id: &str) -> Option<&'static Rule> {
    REGISTRY.iter().copied().find(|r| r.id == id)
}
