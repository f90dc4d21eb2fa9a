//! Byte offsets to the line and column a user sees, including for SQL embedded in a YAML
//! migration file.

/// Where a piece of SQL sits in the file that holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// The SQL is the whole file.
    Whole,
    /// The SQL is a YAML/JSON block scalar: SQL line `n` (0-based) is file line
    /// `first_line + n`, indented by `indent` columns.
    Block { first_line: usize, indent: usize },
    /// The SQL is an inline (possibly quoted) scalar starting at `line`, `column`; positions
    /// inside it are approximate past the first line.
    Inline { line: usize, column: usize },
}

/// Line starts of a SQL text, to turn byte offsets into 1-based lines and columns.
#[derive(Debug, Clone)]
pub struct LineIndex {
    starts: Vec<usize>,
    placement: Placement,
}

impl LineIndex {
    pub fn new(text: &str, placement: Placement) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { starts, placement }
    }

    /// 1-based (line, column) in the file; the column counts characters, not bytes.
    pub fn position(&self, text: &str, offset: usize) -> (usize, usize) {
        let offset = offset.min(text.len());
        let line0 = self.starts.partition_point(|&s| s <= offset) - 1;
        let start = self.starts[line0];
        let col0 = text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count());
        match self.placement {
            Placement::Whole => (line0 + 1, col0 + 1),
            Placement::Block { first_line, indent } => (first_line + line0, indent + col0 + 1),
            Placement::Inline { line, column } if line0 == 0 => (line, column + col0),
            Placement::Inline { line, .. } => (line + line0, col0 + 1),
        }
    }

    /// The 0-based line number inside the SQL text itself.
    pub fn sql_line(&self, offset: usize) -> usize {
        self.starts.partition_point(|&s| s <= offset) - 1
    }
}
