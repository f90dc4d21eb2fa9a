//! Statements as they appear in messages.

/// The longest statement shown in a message, in characters.
const SHOWN: usize = 200;

/// `statement` on one line (runs of whitespace made one space), cut to [`SHOWN`] characters
/// with `…`: enough to recognise it in an error without flooding the terminal.
pub(crate) fn abbreviate(statement: &str) -> String {
    let one_line = statement.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > SHOWN {
        format!("{}…", one_line.chars().take(SHOWN).collect::<String>())
    } else {
        one_line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_statements_are_cut_and_put_on_one_line() {
        assert_eq!(abbreviate("SELECT 1\n  FROM t"), "SELECT 1 FROM t");
        let long = format!("SELECT {}", "x, ".repeat(100));
        let shown = abbreviate(&long);
        assert_eq!(shown.chars().count(), SHOWN + 1);
        assert!(shown.ends_with('…'));
    }
}
