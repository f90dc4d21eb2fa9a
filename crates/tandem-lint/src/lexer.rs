//! Just enough of PostgreSQL's lexical rules to find comments and where a statement's
//! first token starts; the parser drops comments, and `-- tandem-lint: ignore` lives in them.

/// A `--` or `/* */` comment, by byte range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Comment {
    pub start: usize,
    pub end: usize,
}

/// Every comment in `sql`, skipping quoted strings, quoted identifiers and dollar quotes
/// so that `'--'` is not taken for one.
pub fn comments(sql: &str) -> Vec<Comment> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'-' if b.get(i + 1) == Some(&b'-') => {
                let end = memchr(b, b'\n', i).unwrap_or(b.len());
                out.push(Comment { start: i, end });
                i = end;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let end = block_comment_end(b, i);
                out.push(Comment { start: i, end });
                i = end;
            }
            b'\'' | b'"' => i = quoted_end(b, i, b[i]),
            b'$' => i = dollar_end(sql, i),
            _ => i += 1,
        }
    }
    out
}

/// The offset of the first byte at or after `from` that is neither whitespace nor comment.
pub fn skip_trivia(sql: &str, from: usize) -> usize {
    let b = sql.as_bytes();
    let mut i = from;
    while i < b.len() {
        match b[i] {
            c if c.is_ascii_whitespace() => i += 1,
            b'-' if b.get(i + 1) == Some(&b'-') => i = memchr(b, b'\n', i).unwrap_or(b.len()),
            b'/' if b.get(i + 1) == Some(&b'*') => i = block_comment_end(b, i),
            _ => break,
        }
    }
    i
}

/// The offset just past the end of the statement text starting at `from` with length `len`,
/// with trailing whitespace and comments trimmed.
pub fn trim_end(sql: &str, from: usize, end: usize) -> usize {
    let text = sql.get(from..end).unwrap_or("");
    let mut last = from;
    let mut i = 0;
    // Walk token by token so that a trailing comment is not counted as the statement.
    while i < text.len() {
        let next = skip_trivia(text, i);
        if next >= text.len() {
            break;
        }
        let tok_end = token_end(text, next);
        last = from + tok_end;
        i = tok_end.max(next + 1);
    }
    last
}

fn token_end(s: &str, i: usize) -> usize {
    let b = s.as_bytes();
    match b[i] {
        b'\'' | b'"' => quoted_end(b, i, b[i]),
        b'$' => dollar_end(s, i),
        c if c.is_ascii_whitespace() => i + 1,
        _ => {
            let mut j = i + 1;
            while j < b.len() && !ends_token(b, j) {
                j += 1;
            }
            j
        }
    }
}

/// Whether a plain token stops before byte `j` (whitespace, a quote, or a comment).
fn ends_token(b: &[u8], j: usize) -> bool {
    let next = b.get(j + 1).copied();
    b[j].is_ascii_whitespace()
        || matches!(b[j], b'\'' | b'"' | b'$')
        || (b[j] == b'-' && next == Some(b'-'))
        || (b[j] == b'/' && next == Some(b'*'))
}

fn memchr(b: &[u8], c: u8, from: usize) -> Option<usize> {
    b[from..].iter().position(|&x| x == c).map(|p| from + p)
}

fn block_comment_end(b: &[u8], start: usize) -> usize {
    // PostgreSQL block comments nest.
    let mut depth = 0usize;
    let mut i = start;
    while i + 1 < b.len() {
        if b[i] == b'/' && b[i + 1] == b'*' {
            depth += 1;
            i += 2;
        } else if b[i] == b'*' && b[i + 1] == b'/' {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    b.len()
}

fn quoted_end(b: &[u8], start: usize, quote: u8) -> usize {
    // E'...' strings may escape the quote with a backslash.
    let escapes = quote == b'\'' && start > 0 && matches!(b[start - 1], b'e' | b'E');
    let mut i = start + 1;
    while i < b.len() {
        if escapes && b[i] == b'\\' {
            i += 2;
            continue;
        }
        if b[i] == quote {
            if b.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    b.len()
}

fn dollar_end(s: &str, start: usize) -> usize {
    let b = s.as_bytes();
    let mut j = start + 1;
    while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
        j += 1;
    }
    // `$1` is a parameter, not a dollar quote.
    if b.get(j) != Some(&b'$') || b.get(start + 1).is_some_and(|c| c.is_ascii_digit()) {
        return j.max(start + 1);
    }
    let tag = &s[start..=j];
    match s[j + 1..].find(tag) {
        Some(p) => j + 1 + p + tag.len(),
        None => s.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_comments_outside_strings() {
        let sql = "SELECT '--x', $$ -- y $$; -- real\n/* a /* nested */ b */ SELECT 1";
        let found: Vec<&str> = comments(sql).iter().map(|c| &sql[c.start..c.end]).collect();
        assert_eq!(found, ["-- real", "/* a /* nested */ b */"]);
    }

    #[test]
    fn skips_leading_trivia_and_trims_trailing() {
        let sql = "\n -- c\n /* d */ CREATE INDEX i ON t (c) -- tail\n";
        let start = skip_trivia(sql, 0);
        assert!(sql[start..].starts_with("CREATE"));
        let end = trim_end(sql, 0, sql.len());
        assert!(sql[..end].ends_with("(c)"));
    }
}
