//! The one place where identifiers and literals become SQL text.
//!
//! Every identifier tandem writes into a statement goes through [`ident`] (or [`qualified`]);
//! every string constant through [`literal`]. Nothing else in the code base quotes.

/// Quotes an identifier for PostgreSQL: always double-quoted, inner quotes doubled.
///
/// Always quoting (rather than only when needed) keeps names case-exact and immune to keywords.
pub fn ident(name: &str) -> String {
    // tandem-sql sits below core and owns the implementation, so there is exactly one.
    tandem_sql::quote_ident(name)
}

/// A schema-qualified name, `"schema"."name"`.
pub fn qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", ident(schema), ident(name))
}

/// Quotes a string constant: single quotes doubled; an `E''` literal when a backslash appears,
/// so the result means the same whatever `standard_conforming_strings` says.
pub fn literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 3);
    if value.contains('\\') {
        out.push('E');
    }
    out.push('\'');
    for c in value.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            _ => out.push(c),
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_always_quoted_and_escaped() {
        assert_eq!(ident("users"), "\"users\"");
        assert_eq!(ident("Weird\"Name"), "\"Weird\"\"Name\"");
        assert_eq!(qualified("public", "t"), "\"public\".\"t\"");
    }

    #[test]
    fn literals_escape_quotes_and_backslashes() {
        assert_eq!(literal("it's"), "'it''s'");
        assert_eq!(literal("a\\b"), "E'a\\\\b'");
    }
}
