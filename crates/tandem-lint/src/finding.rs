//! A finding as reported to the user, in every output format.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing, not worth failing a build for (a danger on a table `--url` shows is small).
    Note,
    Warning,
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Note => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// The rule id used for files that PostgreSQL's grammar rejects.
pub const SYNTAX_ERROR: &str = "syntax-error";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub file: String,
    /// 1-based line and column (in characters) of the start of the statement or node.
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    pub rule: String,
    pub severity: Severity,
    pub message: String,
    pub help: String,
}

impl Finding {
    pub fn is_syntax_error(&self) -> bool {
        self.rule == SYNTAX_ERROR
    }
}
