//! Rewriting column references in migration SQL expressions, on PostgreSQL's own parser.
//!
//! Migrations write expressions against *logical* column names (`CAST(rating AS integer)`,
//! `length(name) > 3`); tandem runs them against *physical* columns (`NEW."rating"` in a
//! trigger, `"_tandem_new_title"` in a backfill). The text is parsed with `pg_query` (the
//! real PostgreSQL grammar), every column reference is found in the tree and decided with
//! SQL's scoping rules, and the replacement is spliced into the original text at the
//! reference's exact token span: string literals, comments, function and type names that
//! happen to equal a column name are never touched, and the rest of the text stays
//! byte-for-byte as written. There is no substring replacement anywhere.
//!
//! ```
//! use tandem_sql::{parse_expression, quote_ident, ColumnResolver};
//!
//! struct Trigger;
//! impl ColumnResolver for Trigger {
//!     fn column(&self, name: &str) -> Option<String> {
//!         (name == "name").then(|| format!("NEW.{}", quote_ident(name)))
//!     }
//!     fn table_name(&self) -> &str {
//!         "users"
//!     }
//!     fn other_table_columns(&self, _table: &str) -> Option<Vec<String>> {
//!         None
//!     }
//! }
//!
//! let expr = parse_expression("SELECT length(name) > 3 AND name <> 'name'").unwrap();
//! assert_eq!(expr.text(), "length(name) > 3 AND name <> 'name'");
//! assert_eq!(
//!     expr.rewrite(&Trigger).unwrap(),
//!     r#"(length(NEW."name") > 3 AND NEW."name" <> 'name')"#
//! );
//! ```

mod calls;
mod error;
mod parse;
mod scope;
mod slot;

pub use calls::{CalledObjects, CastTarget, QualifiedName};
pub use error::ExprError;
pub use slot::{
    parse_exclusion_elements, parse_expression_in, parse_opclass_parameters, parse_query,
    parse_sequence_options, parse_storage_parameters, parse_type_name, ExpressionSlot, Fragment,
    Slot, SlotError,
};

use parse::{is_comment, offset, Parsed, PREFIX};
use pg_query::protobuf::Token;

/// How a column of the target table is written in the output.
pub trait ColumnResolver {
    /// `Some(replacement_sql)` if `name` (a logical column name, case-sensitive, already
    /// de-quoted/case-folded as PostgreSQL would: unquoted identifiers fold to lower case)
    /// is a column of the target table.
    fn column(&self, name: &str) -> Option<String>;
    /// Logical name of the target table (a reference qualified with it, `users.id`, also
    /// refers to the target table's column).
    fn table_name(&self) -> &str;
    /// Columns of another table of the schema, to know when a subquery's FROM shadows a
    /// name (`SELECT 1 FROM users WHERE users.id = user_id`: `user_id` is the target's
    /// column unless `users` has a column `user_id`). `None` if unknown, in which case that
    /// table shadows no unqualified name.
    fn other_table_columns(&self, table: &str) -> Option<Vec<String>>;
}

/// A migration expression, parsed and checked to be exactly one SQL expression.
#[derive(Debug, Clone)]
pub struct Expression {
    /// The text as the user wrote it, for error positions.
    source: String,
    parsed: Parsed,
}

/// Parses a migration expression.
///
/// Accepts a plain expression (`length(name) > 3`) and pgroll's form `SELECT <expr>` (a
/// SELECT with exactly one target, no FROM, no other clause), which is normalized to the
/// bare expression. Surrounding whitespace and one trailing `;` are dropped too. Rejects
/// empty text, several statements (`1; DROP TABLE x`), a top-level SELECT with FROM/WHERE/
/// several targets/an alias, and anything that is not an expression; the error carries the
/// 1-based line and column within `text` and says what is wrong.
pub fn parse_expression(text: &str) -> Result<Expression, ExprError> {
    Ok(Expression {
        source: text.to_owned(),
        parsed: parse::parse(text)?,
    })
}

impl Expression {
    /// The expression text (normalized: the `SELECT ` prefix of pgroll's form removed).
    pub fn text(&self) -> &str {
        self.parsed.text()
    }

    /// The functions, operators, casts and SQL value functions the expression would call,
    /// for deciding its volatility from the catalog without running it.
    pub fn called_objects(&self) -> CalledObjects {
        calls::collect(&self.parsed.tree)
    }

    /// Logical names of the target table's columns it references (deduplicated, in order of
    /// first appearance).
    pub fn referenced_columns(&self, resolver: &dyn ColumnResolver) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for u in scope::target_columns(&self.parsed.tree, resolver) {
            if !names.contains(&u.name) {
                names.push(u.name);
            }
        }
        names
    }

    /// The expression with every reference to a target column replaced by the resolver's
    /// replacement text, wrapped in parentheses so it can be embedded anywhere.
    ///
    /// A replacement that is not a single identifier, parameter or constant is itself
    /// parenthesized (so `x * 2` with `x` → `a + b` stays `(a + b) * 2`). Fails if a
    /// replacement is not an expression, or if the result would not parse (checked, so a
    /// broken trigger body is never generated).
    pub fn rewrite(&self, resolver: &dyn ColumnResolver) -> Result<String, ExprError> {
        let wrapped = &self.parsed.wrapped;
        let mut edits: Vec<(usize, usize, String)> = Vec::new();
        for u in scope::target_columns(&self.parsed.tree, resolver) {
            let Some(location) = u.location else {
                return Err(self.error_at(
                    PREFIX.len(),
                    format!(
                        "cannot locate a reference to column `{}` in the text",
                        u.name
                    ),
                ));
            };
            if edits.iter().any(|(start, _, _)| *start == location) {
                continue; // the parser shares one node between two places
            }
            let end = self.span_end(location, u.fields).ok_or_else(|| {
                self.error_at(
                    location,
                    format!(
                        "cannot find the end of the reference to column `{}`",
                        u.name
                    ),
                )
            })?;
            let Some(replacement) = resolver.column(&u.name) else {
                continue;
            };
            let replacement = embeddable(&replacement).map_err(|e| {
                self.error_at(
                    location,
                    format!(
                        "the replacement `{replacement}` for column `{}` is not an expression: {}",
                        u.name, e.message
                    ),
                )
            })?;
            edits.push((location, end, replacement));
        }
        edits.sort_by_key(|(start, _, _)| *start);

        let mut out = String::with_capacity(wrapped.len() + 16 * edits.len());
        out.push('(');
        let mut pos = PREFIX.len();
        for (start, end, replacement) in &edits {
            out.push_str(wrapped.get(pos..*start).unwrap_or_default());
            out.push_str(replacement);
            pos = *end;
        }
        out.push_str(wrapped.get(pos..).unwrap_or_default());
        // A trailing `-- comment` would swallow the closing parenthesis.
        if self.ends_in_line_comment() {
            out.push('\n');
        }
        out.push(')');
        parse_expression(&out).map_err(|e| {
            self.error_at(
                PREFIX.len(),
                format!(
                    "the rewritten expression does not parse ({}): {out}",
                    e.message
                ),
            )
        })?;
        Ok(out)
    }

    /// The end (byte offset in the wrapped text) of the column reference of `fields`
    /// dotted names whose first token starts at `start`: `name`, `.`, `name`, ... (comments
    /// between them are allowed and fall inside the span).
    fn span_end(&self, start: usize, fields: usize) -> Option<usize> {
        let first = self
            .parsed
            .tokens
            .iter()
            .position(|t| offset(t.start) == start)?;
        let mut significant = self.parsed.tokens[first..]
            .iter()
            .filter(|t| !is_comment(t));
        let mut end = None;
        for i in 0..(2 * fields).saturating_sub(1) {
            let t = significant.next()?;
            if i % 2 == 1 && t.token != Token::Ascii46 as i32 {
                return None;
            }
            end = Some(offset(t.end));
        }
        end
    }

    /// Whether the text ends in a `-- comment`, which would swallow anything appended on
    /// the same line.
    fn ends_in_line_comment(&self) -> bool {
        self.parsed
            .tokens
            .last()
            .is_some_and(|t| t.token == Token::SqlComment as i32)
    }

    /// An error at byte `offset` of the wrapped text, positioned in the user's text.
    fn error_at(&self, offset: usize, message: String) -> ExprError {
        let pos = self.parsed.origin + offset.saturating_sub(PREFIX.len());
        ExprError::at(&self.source, pos, message)
    }
}

/// The replacement as it can be spliced in place of a column reference: as is if it is a
/// single column reference, parameter or constant, else in parentheses so that operator
/// precedence around it cannot change its meaning.
fn embeddable(replacement: &str) -> Result<String, ExprError> {
    let parsed = parse_expression(replacement)?;
    let simple = ["ColumnRef", "ParamRef", "AConst"]
        .iter()
        .any(|k| parsed.parsed.tree.pointer(&format!("/node/{k}")).is_some());
    let text = parsed.text();
    Ok(if parsed.ends_in_line_comment() {
        format!("({text}\n)")
    } else if simple {
        text.to_owned()
    } else {
        format!("({text})")
    })
}

/// Quotes an identifier, always: `"name"`, inner quotes doubled.
///
/// Quotes an identifier for PostgreSQL: always double-quoted, inner quotes doubled. This is the
/// one quoting function of tandem (tandem-core's `quote::ident` calls it): always quoting keeps
/// names case-exact and immune to keywords.
pub fn quote_ident(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for c in name.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
    out
}
