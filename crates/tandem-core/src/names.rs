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

/// The prefix of every helper object tandem creates (columns, triggers, functions, indexes,
/// constraints); `temp_name` and the sync trigger's name all start with it.
pub const HELPER_PREFIX: &str = "_tandem_";

/// Every helper name the plan's start creates or refers to: each quoted identifier of its
/// start statements that begins with [`HELPER_PREFIX`]. Read from the plan itself (every
/// identifier goes through the one quoting function, so it is always double-quoted), not
/// from a hand list, so a new kind of helper is covered as soon as a step names it.
pub fn helper_names(plan: &crate::plan::Plan) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for step in &plan.start {
        for statement in step.statements() {
            for name in quoted_identifiers(&statement) {
                if name.starts_with(HELPER_PREFIX) && !out.contains(&name) {
                    out.push(name);
                }
            }
        }
    }
    out
}

/// The double-quoted identifiers of `sql` (with `""` unescaped), skipping string literals.
fn quoted_identifiers(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                // A string literal: its end is the next quote not doubled.
                while let Some(c) = chars.next() {
                    if c == '\'' {
                        if chars.peek() == Some(&'\'') {
                            chars.next();
                        } else {
                            break;
                        }
                    }
                }
            }
            '"' => {
                let mut name = String::new();
                while let Some(c) = chars.next() {
                    if c == '"' {
                        if chars.peek() == Some(&'"') {
                            chars.next();
                            name.push('"');
                        } else {
                            break;
                        }
                    } else {
                        name.push(c);
                    }
                }
                out.push(name);
            }
            _ => {}
        }
    }
    out
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

    #[test]
    fn quoted_identifiers_skip_literals_and_unescape() {
        let sql = r#"ALTER TABLE "s"."t" ADD COLUMN "_tandem_new_a""b" int; COMMENT ON TABLE "t" IS '"_tandem_not" it''s'"#;
        assert_eq!(
            quoted_identifiers(sql),
            vec!["s", "t", "_tandem_new_a\"b", "t"]
        );
    }
}
