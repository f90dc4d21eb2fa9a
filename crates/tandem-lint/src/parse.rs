//! Parsing a SQL text once with libpg_query into statements with exact byte ranges.

use crate::lexer;
pub use crate::statement::Statement;

/// A text PostgreSQL's grammar rejects, with the byte offset of the token at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub message: String,
    pub offset: usize,
    /// The text up to `offset` parses, and a new statement starts there: the `;` that ends
    /// the statement before `offset` is missing.
    pub missing_semicolon: bool,
}

/// Parses all statements of `sql`.
pub fn parse(sql: &str) -> Result<Vec<Statement>, SyntaxError> {
    let parsed = pg_query::parse(sql, 0).map_err(|e| syntax_error(sql, &e))?;
    let raw = parsed.protobuf.stmts;
    let mut out = Vec::with_capacity(raw.len());
    for stmt in raw {
        let Some(node) = stmt.stmt.and_then(|n| n.node) else {
            continue;
        };
        let loc = usize::try_from(stmt.stmt_location).unwrap_or(0);
        // A length of 0 means "to the end of the input".
        let len_end = match usize::try_from(stmt.stmt_len) {
            Ok(0) | Err(_) => sql.len(),
            Ok(len) => (loc + len).min(sql.len()),
        };
        let start = lexer::skip_trivia(sql, loc);
        let end = lexer::trim_end(sql, start, len_end).max(start);
        out.push(Statement {
            node,
            start,
            end,
            comment_start: loc,
            comment_end: len_end,
            in_do_block: None,
        });
    }
    attach_trailing_comments(sql, &mut out);
    Ok(crate::plpgsql::expand_do_blocks(sql, out))
}

fn syntax_error(sql: &str, e: &pg_query::Error) -> SyntaxError {
    let offset = error_offset(sql);
    // A statement starting on its own line where the parser gave up, after text that parses
    // alone: the previous statement lacks its `;` (say so, as squawk does, rather than blame
    // the statement that follows).
    let before = sql.get(..offset).unwrap_or("");
    let line_start = before.rfind('\n').map_or(0, |p| p + 1);
    let starts_line = before[line_start..].trim().is_empty();
    let rest = sql.get(offset..).unwrap_or("");
    let next_stmt = rest.split(';').next().unwrap_or("");
    if starts_line
        && !before.trim().is_empty()
        && pg_query::parse(before, 0).is_ok()
        && pg_query::parse(next_stmt, 0).is_ok()
    {
        let end = lexer::trim_end(sql, 0, offset);
        return SyntaxError {
            message: "missing `;` at the end of this statement: PostgreSQL reads the next statement as part of it".to_string(),
            offset: end.saturating_sub(1),
            missing_semicolon: true,
        };
    }
    SyntaxError {
        message: error_message(e),
        offset,
        missing_semicolon: false,
    }
}

/// The end of the node starting at byte `start` of a statement ending at `stmt_end`: up to the
/// `,` or `)` that closes it (a column definition, a constraint), so that a finding about one
/// column underlines that column, not the whole `CREATE TABLE`.
pub fn node_end(sql: &str, start: usize, stmt_end: usize) -> usize {
    let Some(text) = sql.get(start..stmt_end) else {
        return stmt_end;
    };
    let Ok(tokens) = pg_query::scan_tokens(text) else {
        return stmt_end;
    };
    let mut depth = 0i32;
    let mut end = stmt_end;
    for t in &tokens {
        let (ts, te) = (
            usize::try_from(t.start).unwrap_or(0),
            usize::try_from(t.end).unwrap_or(0),
        );
        match text.get(ts..te) {
            Some("(") => depth += 1,
            Some(")") if depth == 0 => return end.min(start + ts).max(start),
            Some(")") => depth -= 1,
            Some(",") if depth == 0 => return end.min(start + ts).max(start),
            _ => {}
        }
        end = start + te;
    }
    stmt_end
}

/// The comments that belong to a statement: those after the end of the previous
/// statement's line, and the rest of its own last line (so that `CREATE INDEX ...; --
/// tandem-lint: ignore ...` on one line belongs to that statement, not to the next one).
fn attach_trailing_comments(sql: &str, stmts: &mut [Statement]) {
    let mut prev_line_end = 0;
    for stmt in stmts.iter_mut() {
        stmt.comment_start = prev_line_end.min(stmt.start);
        let line_end = sql[stmt.end..]
            .find('\n')
            .map_or(sql.len(), |p| stmt.end + p);
        stmt.comment_end = line_end;
        prev_line_end = line_end;
    }
}

fn error_message(e: &pg_query::Error) -> String {
    match e {
        pg_query::Error::Parse(m) => m.clone(),
        other => other.to_string(),
    }
}

/// libpg_query's Rust binding drops the error position, so find it again: PostgreSQL's
/// parser is deterministic left to right, so a prefix of the text that stops before the
/// bad token parses or fails only "at end of input", and every prefix that includes the bad
/// token fails on it. A binary search over the token ends finds that token in a few
/// parses; this runs only for files that do not parse.
fn error_offset(sql: &str) -> usize {
    let Ok(tokens) = pg_query::scan_tokens(sql) else {
        return lexer::skip_trivia(sql, 0);
    };
    let fails_inside = |k: usize| -> bool {
        let end = usize::try_from(tokens[k].end).unwrap_or(0).min(sql.len());
        match pg_query::parse(sql.get(..end).unwrap_or(sql), 0) {
            Ok(_) => false,
            Err(e) => !error_message(&e).contains("at end of input"),
        }
    };
    let (mut lo, mut hi) = (0usize, tokens.len());
    while lo < hi {
        let mid = (lo + hi) / 2;
        if fails_inside(mid) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    match tokens.get(lo) {
        Some(t) => usize::try_from(t.start).unwrap_or(0),
        None => sql.trim_end().len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pg_query::NodeEnum;

    #[test]
    fn statements_have_exact_ranges() {
        let sql =
            "-- first\nCREATE TABLE a (id int);\n\n  /* c */ DROP TABLE b; -- trailing\nSELECT 1";
        let stmts = parse(sql).unwrap();
        let texts: Vec<&str> = stmts.iter().map(|s| s.text(sql)).collect();
        assert_eq!(
            texts,
            ["CREATE TABLE a (id int)", "DROP TABLE b", "SELECT 1"]
        );
        assert!(sql[stmts[1].comment_start..stmts[1].comment_end].contains("-- trailing"));
        assert!(!sql[stmts[2].comment_start..stmts[2].comment_end].contains("-- trailing"));
    }

    #[test]
    fn syntax_error_points_at_the_bad_token() {
        let sql = "CREATE TABLE a (id int);\nALTER TABLE a ADD COLUMN b int DEFALT 0;";
        let err = parse(sql).unwrap_err();
        assert_eq!(&sql[err.offset..err.offset + 6], "DEFALT");
        let err = parse("SELECT (1").unwrap_err();
        assert_eq!(err.offset, 9);
    }

    #[test]
    fn a_missing_semicolon_is_named_at_the_statement_that_lacks_it() {
        let sql = "ALTER TABLE a ADD COLUMN b int\nCREATE INDEX i ON a (b);";
        let err = parse(sql).unwrap_err();
        assert!(err.missing_semicolon, "{err:?}");
        assert!(err.message.contains("missing `;`"));
        assert!(err.offset < sql.find("CREATE").unwrap());
        let err = parse("ALTER TABLE a ADD COLUMN b int DEFALT 0;").unwrap_err();
        assert!(!err.missing_semicolon);
    }

    #[test]
    fn node_end_stops_at_the_end_of_one_column() {
        let sql = "CREATE TABLE t (a int, b json NOT NULL, c text)";
        let b = sql.find("b json").unwrap();
        assert_eq!(&sql[b..node_end(sql, b, sql.len())], "b json NOT NULL");
        let c = sql.find("c text").unwrap();
        assert_eq!(&sql[c..node_end(sql, c, sql.len())], "c text");
    }

    #[test]
    fn statements_of_a_do_block_are_found_in_loops_and_execute() {
        let sql = "DO $$\nBEGIN\n  IF NOT EXISTS (SELECT 1 FROM pg_class WHERE relname = 'i') THEN\n    CREATE INDEX i ON orders (c);\n  END IF;\n  EXECUTE 'ALTER TABLE orders ADD CONSTRAINT k CHECK (c > 0)';\nEND $$;";
        let stmts = parse(sql).unwrap();
        let kinds: Vec<&str> = stmts
            .iter()
            .map(|s| match s.node {
                NodeEnum::DoStmt(_) => "do",
                NodeEnum::IndexStmt(_) => "index",
                NodeEnum::AlterTableStmt(_) => "alter",
                _ => "other",
            })
            .collect();
        assert_eq!(kinds, ["do", "index", "alter"]);
        assert_eq!(stmts[1].text(sql), "CREATE INDEX i ON orders (c)");
        assert_eq!(stmts[1].in_do_block, Some(0));
    }
}
