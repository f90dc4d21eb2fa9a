//! PostgreSQL's integer types by width: what both an `alter_column` of an identity column
//! (which type it may take) and the DDL handing a sequence to a column's copy (its bounds)
//! need, kept apart so neither depends on the other.

/// The integer types an identity column may have, as `format_type` and users write them.
pub(crate) fn integer_type_rank(data_type: &str) -> Option<u8> {
    match data_type.trim().to_ascii_lowercase().as_str() {
        "smallint" | "int2" => Some(1),
        "integer" | "int" | "int4" => Some(2),
        "bigint" | "int8" => Some(3),
        _ => None,
    }
}
