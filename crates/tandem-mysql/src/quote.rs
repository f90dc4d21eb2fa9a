//! The one place where identifiers and string constants become MySQL text.
//!
//! PostgreSQL's quoting (`tandem_core::quote`) uses double quotes, which MySQL reads as strings
//! unless `ANSI_QUOTES` is on; this module is its MySQL counterpart and nothing else in the crate
//! quotes.

/// Quotes an identifier: always backquoted, inner backquotes doubled.
pub fn ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// A string constant: quotes and backslashes escaped, so the result means the same whether or
/// not `NO_BACKSLASH_ESCAPES` is set... except that mode reads `\\` as two characters; tandem's
/// sessions never set it.
pub fn literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            _ => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A comma-separated list of quoted identifiers.
pub fn ident_list<S: AsRef<str>>(names: &[S]) -> String {
    names
        .iter()
        .map(|n| ident(n.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_backquoted_and_escaped() {
        assert_eq!(ident("users"), "`users`");
        assert_eq!(ident("we`ird"), "`we``ird`");
        assert_eq!(ident_list(&["a", "b"]), "`a`, `b`");
    }

    #[test]
    fn literals_escape_quotes_and_backslashes() {
        assert_eq!(literal("it's"), "'it''s'");
        assert_eq!(literal("a\\b"), "'a\\\\b'");
    }
}
