//! The shape of a rule: everything about it is declared once, in one `const`.

use crate::finding::Severity;
use crate::state::{FileState, StmtCx};
use tandem_core::locks::LockMode;

/// One lint rule. Each lives in its own file under `rules/` as a single `pub const RULE`;
/// its examples are its tests and its documentation.
#[derive(Debug)]
pub struct Rule {
    /// Stable, kebab-case identifier used in output, config and ignore comments.
    pub id: &'static str,
    pub severity: Severity,
    /// One line: what the rule catches.
    pub summary: &'static str,
    /// The lock the flagged statement takes, if the rule is about a lock.
    pub lock: Option<LockMode>,
    /// Why it matters, for the documentation page.
    pub rationale: &'static str,
    /// The safe alternative, shown as help with every finding.
    pub help: &'static str,
    /// SQL that must trigger the rule.
    pub bad: &'static str,
    /// The recommended SQL, which must not trigger it.
    pub good: &'static str,
    /// Statements on a table created earlier in the same file are exempt: nobody else can
    /// be using that table yet, so its locks block nobody.
    pub exempt_new_tables: bool,
    pub check: fn(&StmtCx<'_>, &mut Vec<Hit>),
    /// A check on the file as a whole once all statements are seen (an unclosed `BEGIN`),
    /// returning the byte offset and the message.
    pub finish: Option<FinishCheck>,
}

/// A whole-file check: the byte offset to report at and the message, if the rule fires.
pub type FinishCheck = fn(&FileState, &str) -> Option<(usize, String)>;

/// What a rule reports about one statement; the engine turns it into a [`crate::Finding`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub message: String,
    /// Byte offset in the linted SQL of the node at fault; `None` means the whole statement.
    pub location: Option<usize>,
    /// A help text specific to this statement (for example the rewritten SQL), shown
    /// before the rule's generic help.
    pub help: Option<String>,
}

impl Hit {
    pub fn new(message: impl Into<String>) -> Self {
        Hit {
            message: message.into(),
            location: None,
            help: None,
        }
    }

    /// Points the finding at a node (pg_query locations are `-1` when unknown).
    pub fn at(mut self, location: i32) -> Self {
        self.location = usize::try_from(location).ok();
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}
