//! Names of the objects tandem creates for itself (helper columns, triggers, temporary
//! indexes): recognisable (`_tandem_` prefix) and always within PostgreSQL's 63 bytes.

/// `_tandem_<kind>_<base>`, shortened with a hash of `base` when too long.
pub fn temp_name(kind: &str, base: &str) -> String {
    let full = format!("_tandem_{kind}_{base}");
    if full.len() <= crate::versions::MAX_IDENTIFIER_BYTES {
        return full;
    }
    let hash = fnv1a(base);
    let mut keep = String::new();
    for c in base.chars() {
        if format!("_tandem_{kind}_{keep}{c}_{hash:08x}").len()
            > crate::versions::MAX_IDENTIFIER_BYTES
        {
            break;
        }
        keep.push(c);
    }
    format!("_tandem_{kind}_{keep}_{hash:08x}")
}

/// PostgreSQL's default name for the UNIQUE constraint of one column: `<table>_<column>_key`.
pub fn unique_key_name(table: &str, column: &str) -> String {
    format!("{table}_{column}_key")
}

/// FNV-1a, 32 bits: stable across versions and platforms (unlike std's hasher).
fn fnv1a(s: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in s.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_and_stay_distinct() {
        assert_eq!(temp_name("new", "price"), "_tandem_new_price");
        let a = temp_name("new", &"a".repeat(70));
        let b = temp_name("new", &format!("{}b", "a".repeat(69)));
        assert!(a.len() <= 63 && b.len() <= 63);
        assert_ne!(a, b);
        assert_eq!(a, temp_name("new", &"a".repeat(70)), "stable");
    }
}
