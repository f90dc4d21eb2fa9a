//! Errors that point into the expression text, so a migration author can find the mistake.

/// What is wrong with an expression, and where: `line` and `column` are 1-based and count
/// characters (not bytes) within the expression text as the user wrote it; `offset` is the
/// same position as a byte offset, for callers that underline spans (miette and friends).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct ExprError {
    /// 1-based line within the expression text.
    pub line: usize,
    /// 1-based column (in characters) within that line.
    pub column: usize,
    /// Byte offset of the same position within the expression text.
    pub offset: usize,
    /// What is wrong, in words.
    pub message: String,
}

impl ExprError {
    /// An error at byte `offset` of `text` (clamped into the text and back to a character
    /// boundary, so a position computed by the parser can never make this panic).
    pub(crate) fn at(text: &str, offset: usize, message: impl Into<String>) -> Self {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line_start = before.rfind('\n').map_or(0, |p| p + 1);
        ExprError {
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
            offset,
            message: message.into(),
        }
    }
}
