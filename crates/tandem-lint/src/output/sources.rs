//! The text of the linted files, which the human format needs for its code frames.

use std::collections::HashMap;

/// The text of every linted file, for code frames.
pub type Sources = HashMap<String, String>;
