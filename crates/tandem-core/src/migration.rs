//! A migration file: its model, strict parsing (YAML or JSON) with file/line errors, and its checksum.

mod limits;

pub use limits::{MAX_DOCUMENT_BYTES, MAX_NESTING_DEPTH};

use crate::operations::Operation;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;

/// One migration, as read from a file. Its name is the file name without the extension.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Migration {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_schema: Option<String>,
    pub operations: Vec<Operation>,
    /// Queries that must return no rows once the backfill is done (tandem's extension).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub verify: Vec<String>,
    /// Line of each operation in its file (1-based), for error messages; not part of the model.
    #[serde(skip)]
    pub operation_lines: Vec<usize>,
    /// The file the migration came from, for error messages.
    #[serde(skip)]
    pub file: String,
}

/// The body of a migration file. `deny_unknown_fields` makes a typo an error instead of a no-op.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MigrationFile {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    version_schema: Option<String>,
    operations: Vec<Operation>,
    #[serde(default)]
    verify: Vec<String>,
}

/// A migration file that could not be read or parsed.
#[derive(Debug, thiserror::Error)]
#[error("{file}{}: {message}", location(*.line, *.column))]
pub struct ParseError {
    pub file: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
    pub help: String,
}

fn location(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(":{l}:{c}"),
        (Some(l), None) => format!(":{l}"),
        _ => String::new(),
    }
}

const FORMAT_HELP: &str =
    "a migration file is YAML or JSON with `operations: [...]` and an optional \
`version_schema`; see docs/operations.md for every operation and its fields";

impl Migration {
    /// Reads and parses a migration file; the name is the file stem.
    pub fn from_file(path: &Path) -> Result<Migration, ParseError> {
        let file = path.display().to_string();
        // Refuse a huge file before reading it into memory.
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.len() > MAX_DOCUMENT_BYTES as u64 {
                return Err(too_large(&file, meta.len()));
            }
        }
        let text = std::fs::read_to_string(path).map_err(|e| ParseError {
            file: file.clone(),
            line: None,
            column: None,
            message: format!("cannot read the file: {e}"),
            help: "check the path and that the file is readable UTF-8 text".into(),
        })?;
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        let is_json = path.extension().and_then(|e| e.to_str()) == Some("json");
        Self::parse(&name, &file, &text, is_json)
    }

    /// Parses migration text. `file` only names the source in errors.
    pub fn parse(
        name: &str,
        file: &str,
        text: &str,
        is_json: bool,
    ) -> Result<Migration, ParseError> {
        let error = |line: Option<usize>, column: Option<usize>, message: String| ParseError {
            file: file.to_string(),
            line,
            column,
            message,
            help: FORMAT_HELP.to_string(),
        };
        if name.is_empty() {
            return Err(error(None, None, "the migration file has no name".into()));
        }
        // Limits first: a parser must never see a document that is slow to refuse.
        if text.len() > MAX_DOCUMENT_BYTES {
            return Err(too_large(file, text.len() as u64));
        }
        if let Some((line, column)) = limits::too_deep_at(text, MAX_NESTING_DEPTH) {
            return Err(ParseError {
                file: file.to_string(),
                line: Some(line),
                column: Some(column),
                message: format!("the document nests deeper than {MAX_NESTING_DEPTH} levels here"),
                help: "a migration file nests a few levels (operations, their fields, columns); \
                       check the brackets and the indentation around this line"
                    .into(),
            });
        }
        let parsed: MigrationFile = if is_json {
            serde_json::from_str(text).map_err(|e| {
                error(
                    Some(e.line()),
                    Some(e.column()),
                    strip_location(&e.to_string()),
                )
            })?
        } else {
            serde_norway::from_str(text).map_err(|e| {
                let loc = e.location();
                error(
                    loc.as_ref().map(|l| l.line()),
                    loc.as_ref().map(|l| l.column()),
                    strip_location(&e.to_string()),
                )
            })?
        };
        if let Some(inner) = &parsed.name {
            if inner != name {
                return Err(error(
                    None,
                    None,
                    format!("the file says `name: {inner}` but a migration is named after its file (`{name}`)"),
                ));
            }
        }
        if parsed.operations.is_empty() {
            return Err(error(None, None, "the migration has no operations".into()));
        }
        let operation_lines = operation_lines(text, &parsed.operations);
        Ok(Migration {
            name: name.to_string(),
            version_schema: parsed.version_schema,
            operations: parsed.operations,
            verify: parsed.verify,
            operation_lines,
            file: file.to_string(),
        })
    }

    /// The line of operation `index` in its file, when known.
    pub fn line_of(&self, index: usize) -> Option<usize> {
        self.operation_lines.get(index).copied()
    }

    /// SHA-256 over the migration's canonical JSON form: formatting, comments and the choice of
    /// YAML or JSON do not change it; any change of meaning does.
    pub fn checksum(&self) -> String {
        let canonical = serde_json::to_string(self).unwrap_or_default();
        let digest = Sha256::digest(canonical.as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

fn too_large(file: &str, bytes: u64) -> ParseError {
    ParseError {
        file: file.to_string(),
        line: None,
        column: None,
        message: format!(
            "the file is {bytes} bytes; a migration file may have at most {MAX_DOCUMENT_BYTES} bytes"
        ),
        help: "split the migration into several files, or move large data out of it \
               (load it with a `sql` operation from a table, not inline)"
            .into(),
    }
}

/// serde's messages end with " at line X column Y"; we report the location separately.
fn strip_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// Finds the line where each operation starts by looking, in order, for its key
/// (`- create_table:` in YAML, `"create_table"` in JSON). Only used for messages.
fn operation_lines(text: &str, operations: &[Operation]) -> Vec<usize> {
    let mut lines = Vec::with_capacity(operations.len());
    let mut from_line = 0;
    let all: Vec<&str> = text.lines().collect();
    for op in operations {
        let key = op.kind();
        let found = all.iter().enumerate().skip(from_line).find(|(_, l)| {
            let t = l
                .trim_start()
                .trim_start_matches('-')
                .trim_start()
                .trim_start_matches('{')
                .trim_start();
            t.starts_with(&format!("{key}:")) || t.starts_with(&format!("\"{key}\""))
        });
        match found {
            Some((i, _)) => {
                lines.push(i + 1);
                from_line = i + 1;
            }
            None => lines.push(0),
        }
    }
    lines
}
