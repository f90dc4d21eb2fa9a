//! Parsing a fragment *in its slot*: the fragment is placed into a fixed statement
//! (the skeleton), the whole statement is parsed by PostgreSQL's grammar, and the tree must
//! be the skeleton's own tree with only the slot's subtree changed. A fragment that closes
//! a parenthesis, adds a clause, a column, or a second statement changes something outside
//! the slot and is refused, whatever trick it uses to get there.

use pg_query::protobuf::Token;
use serde_json::Value;

use super::kinds::{Slot, SlotError};
use crate::parse::{is_comment, message, offset, parse_error_offset, scan, scan_error_offset};

/// A statement with one hole, and where the hole's subtree sits in the parse tree.
pub(crate) struct Skeleton {
    /// Text before the fragment.
    pub before: &'static str,
    /// Text after the fragment. Starts with a newline, so that a `-- comment` at the end of
    /// the fragment ends before it instead of swallowing it.
    pub after: &'static str,
    /// A fragment that is known to fit the slot, to learn the skeleton's own tree.
    pub sample: &'static str,
    /// JSON pointer, from the statement node (`stmts[0].stmt`), to the slot's subtree.
    pub pointer: &'static str,
}

/// A fragment parsed in its slot.
pub(crate) struct Fitted {
    /// The fragment re-rendered from its tokens: comments blanked out, surrounding space
    /// trimmed. Parses to the same slot subtree as the text the user wrote.
    pub sql: String,
    /// The slot's subtree, locations being byte offsets into `before + sql + after`.
    pub tree: Value,
}

impl Skeleton {
    /// Parses `text` in this skeleton and returns it re-rendered, or says what is wrong.
    pub fn fit(&self, slot: Slot, text: &str) -> Result<Fitted, SlotError> {
        let tree = self.subtree(slot, text)?;
        let sql = without_comments(text);
        // The rendering must mean exactly what was checked: parse it again, compare.
        let again = self.subtree(slot, &sql)?;
        if normalized(&again) != normalized(&tree) {
            return Err(SlotError::at(
                slot,
                text,
                0,
                "text whose meaning changes once its comments are removed",
            ));
        }
        Ok(Fitted { sql, tree: again })
    }

    /// The slot's subtree for `text`, after checking that nothing outside it changed.
    fn subtree(&self, slot: Slot, text: &str) -> Result<Value, SlotError> {
        if let Some(p) = text.find('\0') {
            return Err(SlotError::at(slot, text, p, "a NUL byte"));
        }
        let tokens = scan(text)
            .map_err(|e| SlotError::at(slot, text, scan_error_offset(text), &message(&e)))?;
        if tokens.iter().all(is_comment) {
            return Err(SlotError::at(
                slot,
                text,
                text.len(),
                "nothing (the field is empty)",
            ));
        }
        // No slot holds a statement separator; inside a string it is part of one token.
        if let Some(semicolon) = tokens.iter().find(|t| t.token == Token::Ascii59 as i32) {
            return Err(SlotError::at(
                slot,
                text,
                offset(semicolon.start),
                "a `;`, which ends a statement (a fragment can never hold a second statement)",
            ));
        }
        let source = format!("{}{text}{}", self.before, self.after);
        let skip = self.before.len();
        let back = |pos: usize| pos.saturating_sub(skip).min(text.len());
        let result = pg_query::parse(&source, 0).map_err(|e| {
            let pos = back(parse_error_offset(&source, skip));
            SlotError::at(
                slot,
                text,
                pos,
                &format!("a syntax error ({})", message(&e)),
            )
        })?;
        let stmts = &result.protobuf.stmts;
        if let Some(second) = stmts.get(1) {
            return Err(SlotError::at(
                slot,
                text,
                back(offset(second.stmt_location)),
                "a `;` followed by another statement",
            ));
        }
        let statement = stmts
            .first()
            .and_then(|s| s.stmt.as_ref())
            .and_then(|s| serde_json::to_value(s).ok())
            .unwrap_or(Value::Null);
        let expected = self.sample_statement();
        let (found_rest, found_slot) = split(&statement, self.pointer);
        let (expected_rest, _) = split(&expected, self.pointer);
        if found_slot.is_none() || normalized(&found_rest) != normalized(&expected_rest) {
            let pos = escape_offset(text);
            let excerpt: String = text
                .get(pos..)
                .unwrap_or_default()
                .chars()
                .take(40)
                .collect();
            return Err(SlotError::at(
                slot,
                text,
                pos,
                &format!(
                    "SQL that reaches outside {} (at `{}`)",
                    slot.noun(),
                    excerpt.trim()
                ),
            ));
        }
        Ok(found_slot.unwrap_or(Value::Null))
    }

    /// The skeleton's own statement tree, with the sample in the slot.
    fn sample_statement(&self) -> Value {
        let source = format!("{}{}{}", self.before, self.sample, self.after);
        pg_query::parse(&source, 0)
            .ok()
            .and_then(|r| r.protobuf.stmts.into_iter().next())
            .and_then(|s| s.stmt)
            .and_then(|s| serde_json::to_value(s).ok())
            .unwrap_or(Value::Null)
    }
}

/// The statement with the slot's subtree taken out (replaced by `null`), and that subtree.
fn split(statement: &Value, pointer: &str) -> (Value, Option<Value>) {
    let mut rest = statement.clone();
    let slot = rest.pointer_mut(pointer).map(Value::take);
    (rest, slot)
}

/// A tree without its source positions, so that trees of different texts compare by meaning.
pub(crate) fn normalized(v: &Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !is_position(k))
                .map(|(k, v)| (k.clone(), normalized(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(normalized).collect()),
        other => other.clone(),
    }
}

/// Whether a tree key holds a source position (`location`, `list_start`, `stmt_len`, ...)
/// rather than meaning.
fn is_position(key: &str) -> bool {
    key.ends_with("location")
        || key.ends_with("_start")
        || key.ends_with("_end")
        || key == "stmt_len"
}

/// The fragment with every comment replaced by a space (a comment is whitespace to the
/// lexer), trimmed: the rendering can then be placed anywhere, even before a closing
/// parenthesis on the same line, without a `--` swallowing it.
pub(crate) fn without_comments(text: &str) -> String {
    let Ok(tokens) = scan(text) else {
        return text.trim().to_owned();
    };
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    for t in tokens.iter().filter(|t| is_comment(t)) {
        let (start, end) = (offset(t.start), offset(t.end));
        out.push_str(text.get(pos..start).unwrap_or_default());
        out.push(' ');
        pos = end.max(pos);
    }
    out.push_str(text.get(pos..).unwrap_or_default());
    out.trim().to_owned()
}

/// Where a fragment most likely leaves its slot: the first `)` that closes more than it
/// opened, or the first `;`; else its start.
fn escape_offset(text: &str) -> usize {
    let Ok(tokens) = scan(text) else {
        return 0;
    };
    let mut depth = 0i64;
    for t in tokens.iter().filter(|t| !is_comment(t)) {
        let s = text.get(offset(t.start)..offset(t.end)).unwrap_or_default();
        match s {
            "(" | "[" => depth += 1,
            ")" | "]" => {
                depth -= 1;
                if depth < 0 {
                    return offset(t.start);
                }
            }
            ";" => return offset(t.start),
            _ => {}
        }
    }
    0
}
