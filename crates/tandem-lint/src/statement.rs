//! One statement of a file and where its text lies: what the parser produces and the
//! `DO`-block expansion (`plpgsql`) adds to, kept apart so the two do not depend on each other.

use pg_query::NodeEnum;

/// One top-level statement of a file.
#[derive(Debug, Clone)]
pub struct Statement {
    pub node: NodeEnum,
    /// Byte range of the statement's own text (first token to last token, no `;`).
    pub start: usize,
    pub end: usize,
    /// Byte range of the text that belongs to it for comments: from the end of the
    /// previous statement's line to the end of this statement's last line.
    pub comment_start: usize,
    pub comment_end: usize,
    /// For a statement run by a `DO` block's PL/pgSQL body: the byte offset of that `DO`.
    pub in_do_block: Option<usize>,
}

impl Statement {
    pub fn text<'a>(&self, sql: &'a str) -> &'a str {
        sql.get(self.start..self.end).unwrap_or("")
    }
}
