//! Turning migration text into exactly one parsed expression, or an error that says where
//! and why it is not one.

use pg_query::protobuf::{
    node::Node as N, LimitOption, ScanToken, SelectStmt, SetOperation, Token,
};
use serde_json::Value;

use crate::error::ExprError;

/// PostgreSQL has no "parse an expression" entry point, but the single target of a `SELECT`
/// with no other clause is exactly an expression, so every expression is parsed behind this
/// prefix (its tree locations are then offsets into `PREFIX + text`).
pub(crate) const PREFIX: &str = "SELECT ";

/// A checked expression, ready to be walked.
#[derive(Debug, Clone)]
pub(crate) struct Parsed {
    /// `PREFIX` followed by the normalized expression text.
    pub wrapped: String,
    /// The expression's tree (the `SELECT`'s only target) as generic JSON, so that the walk
    /// reaches every node type; its locations are byte offsets into `wrapped`.
    pub tree: Value,
    /// The tokens of `wrapped`, comments included, with byte offsets into `wrapped`.
    pub tokens: Vec<ScanToken>,
    /// Where the normalized text starts within the text the user wrote.
    pub origin: usize,
}

impl Parsed {
    /// The normalized expression text.
    pub fn text(&self) -> &str {
        &self.wrapped[PREFIX.len()..]
    }
}

pub(crate) fn parse(text: &str) -> Result<Parsed, ExprError> {
    if let Some(p) = text.find('\0') {
        return Err(ExprError::at(text, p, "the expression contains a NUL byte"));
    }
    let tokens =
        scan(text).map_err(|e| ExprError::at(text, scan_error_offset(text), message(&e)))?;
    let Some(first) = tokens.iter().find(|t| !is_comment(t)) else {
        return Err(ExprError::at(
            text,
            text.len(),
            "the expression is empty (expected SQL such as `length(name) > 3`)",
        ));
    };
    // pgroll writes `SELECT <expr>`; a plain expression is parsed behind `PREFIX`.
    let (body_start, body_end) = if first.token == Token::Select as i32 {
        (offset(first.end), single_select(text, "")?)
    } else {
        (0, single_select(text, PREFIX)?)
    };
    let body = text.get(body_start..body_end).unwrap_or_default();
    let origin = body_start + (body.len() - body.trim_start().len());
    let body = body.trim();
    if body.is_empty() {
        return Err(ExprError::at(text, origin, "expected an expression"));
    }
    let wrapped = format!("{PREFIX}{body}");
    let internal = |what: String| ExprError::at(text, origin, what);
    let result = pg_query::parse(&wrapped, 0).map_err(|e| internal(message(&e)))?;
    let target = result
        .protobuf
        .stmts
        .first()
        .and_then(|raw| raw.stmt.as_ref())
        .and_then(|stmt| match &stmt.node {
            Some(N::SelectStmt(sel)) => sel.target_list.first(),
            _ => None,
        })
        .and_then(|target| match &target.node {
            Some(N::ResTarget(res)) => res.val.as_deref(),
            _ => None,
        })
        .ok_or_else(|| internal("the normalized expression no longer parses".into()))?;
    let tree = serde_json::to_value(target).map_err(|e| internal(e.to_string()))?;
    let tokens = scan(&wrapped).map_err(|e| internal(message(&e)))?;
    Ok(Parsed {
        wrapped,
        tree,
        tokens,
        origin,
    })
}

/// Parses `prefix + text`, checks that it is one `SELECT` of exactly one expression with no
/// other clause, and returns where that statement ends within `text` (before a `;`).
/// Errors are positioned within `text`.
fn single_select(text: &str, prefix: &str) -> Result<usize, ExprError> {
    let source = format!("{prefix}{text}");
    let at = |pos: usize, msg: &str| ExprError::at(text, pos.saturating_sub(prefix.len()), msg);
    let result = pg_query::parse(&source, 0)
        .map_err(|e| at(parse_error_offset(&source, prefix.len()), &message(&e)))?;
    let tokens = scan(&source).unwrap_or_default();
    let next_token_at = |pos: usize| {
        tokens
            .iter()
            .find(|t| !is_comment(t) && offset(t.start) >= pos)
            .map_or(pos, |t| offset(t.start))
    };
    let stmts = &result.protobuf.stmts;
    if let Some(second) = stmts.get(1) {
        return Err(at(
            next_token_at(offset(second.stmt_location)),
            "several statements; an expression must be exactly one (remove the `;` and what follows)",
        ));
    }
    let Some(raw) = stmts.first() else {
        return Err(at(source.len(), "expected an expression"));
    };
    let start = offset(raw.stmt_location);
    let end = match offset(raw.stmt_len) {
        0 => source.len(),
        len => start + len,
    };
    let Some(N::SelectStmt(sel)) = raw.stmt.as_ref().and_then(|s| s.node.as_ref()) else {
        return Err(at(next_token_at(start), "not an expression"));
    };
    check_select(sel, &tokens, source.len(), |pos, msg| at(pos, msg))?;
    Ok(end.saturating_sub(prefix.len()))
}

/// A top-level `SELECT` is accepted only as pgroll's spelling of an expression: one target,
/// no alias, no clause. Anything else would change what the expression means (a FROM makes
/// it a query over another relation, an alias is dropped silently, ...), so say which part
/// is in the way.
fn check_select(
    sel: &SelectStmt,
    tokens: &[ScanToken],
    end: usize,
    at: impl Fn(usize, &str) -> ExprError,
) -> Result<(), ExprError> {
    // Where a clause starts: its keyword, found as the nearest such keyword before the
    // clause's first located node (`end` when it has none, e.g. `FOR UPDATE`).
    let clause_at = |node: Option<Value>, fallback: usize, keywords: &[Token]| {
        let content = node.as_ref().and_then(min_location).unwrap_or(fallback);
        tokens
            .iter()
            .rev()
            .filter(|t| offset(t.start) < content.max(1))
            .find(|t| keywords.iter().any(|k| *k as i32 == t.token))
            .map_or(content, |t| offset(t.start))
    };
    let first_target = sel.target_list.first().and_then(located);
    if sel.op() != SetOperation::SetopNone {
        let rarg = sel
            .rarg
            .as_deref()
            .and_then(|r| serde_json::to_value(r).ok());
        let pos = clause_at(rarg, end, &[Token::Union, Token::Intersect, Token::Except]);
        return Err(at(
            pos,
            "UNION/INTERSECT/EXCEPT combines queries; an expression must be a single value",
        ));
    }
    let clauses: [(bool, Option<Value>, &[Token], &str); 12] = [
        (
            sel.with_clause.is_some(),
            sel.with_clause
                .as_ref()
                .and_then(|w| serde_json::to_value(w).ok()),
            &[Token::With],
            "WITH",
        ),
        (
            !sel.distinct_clause.is_empty(),
            None,
            &[Token::Distinct],
            "DISTINCT",
        ),
        (
            sel.into_clause.is_some(),
            sel.into_clause
                .as_deref()
                .and_then(|i| serde_json::to_value(i).ok()),
            &[Token::Into],
            "INTO",
        ),
        (
            !sel.from_clause.is_empty(),
            serde_json::to_value(&sel.from_clause).ok(),
            &[Token::From],
            "FROM",
        ),
        (
            sel.where_clause.is_some(),
            sel.where_clause
                .as_deref()
                .and_then(|w| serde_json::to_value(w).ok()),
            &[Token::Where],
            "WHERE",
        ),
        (
            !sel.group_clause.is_empty() || sel.group_distinct,
            serde_json::to_value(&sel.group_clause).ok(),
            &[Token::GroupP],
            "GROUP BY",
        ),
        (
            sel.having_clause.is_some(),
            sel.having_clause
                .as_deref()
                .and_then(|h| serde_json::to_value(h).ok()),
            &[Token::Having],
            "HAVING",
        ),
        (
            !sel.window_clause.is_empty(),
            serde_json::to_value(&sel.window_clause).ok(),
            &[Token::Window],
            "WINDOW",
        ),
        (
            !sel.sort_clause.is_empty(),
            serde_json::to_value(&sel.sort_clause).ok(),
            &[Token::Order],
            "ORDER BY",
        ),
        (
            sel.limit_offset.is_some(),
            sel.limit_offset
                .as_deref()
                .and_then(|l| serde_json::to_value(l).ok()),
            &[Token::Offset],
            "OFFSET",
        ),
        (
            sel.limit_count.is_some()
                || matches!(
                    sel.limit_option(),
                    LimitOption::Count | LimitOption::WithTies
                ),
            sel.limit_count
                .as_deref()
                .and_then(|l| serde_json::to_value(l).ok()),
            &[Token::Limit, Token::Fetch],
            "LIMIT",
        ),
        (
            !sel.locking_clause.is_empty(),
            None,
            &[Token::For],
            "FOR UPDATE/SHARE",
        ),
    ];
    for (present, node, keywords, name) in clauses {
        if present {
            let fallback = if name == "DISTINCT" {
                first_target.unwrap_or(end)
            } else {
                end
            };
            let pos = clause_at(node, fallback, keywords);
            let hint = if name == "FROM" {
                " (a query over another table belongs in a subquery: `(SELECT ... FROM ...)`)"
            } else {
                ""
            };
            return Err(at(
                pos,
                &format!("a SELECT with a {name} clause is not an expression{hint}"),
            ));
        }
    }
    if !sel.values_lists.is_empty() {
        return Err(at(0, "VALUES is not an expression"));
    }
    let Some(target) = sel.target_list.first() else {
        return Err(at(end, "expected an expression after SELECT"));
    };
    if let Some(second) = sel.target_list.get(1) {
        let pos = located(second).unwrap_or(end);
        return Err(at(
            pos,
            "several comma-separated expressions; expected exactly one",
        ));
    }
    let Some(N::ResTarget(res)) = &target.node else {
        return Err(at(first_target.unwrap_or(end), "not an expression"));
    };
    let pos = first_target.unwrap_or(end);
    if !res.name.is_empty() {
        return Err(at(
            pos,
            &format!(
                "the expression has an alias (`AS {}`), which is not part of an expression",
                res.name
            ),
        ));
    }
    if let Some(N::ColumnRef(c)) = res.val.as_deref().and_then(|v| v.node.as_ref()) {
        if c.fields.iter().any(|f| matches!(f.node, Some(N::AStar(_)))) {
            return Err(at(pos, "`*` is not an expression; name a column"));
        }
    }
    Ok(())
}

/// Where a node starts in the source, if the parser recorded it.
fn located(node: &pg_query::protobuf::Node) -> Option<usize> {
    serde_json::to_value(node)
        .ok()
        .as_ref()
        .and_then(min_location)
}

/// The smallest source location within a JSON parse (sub)tree (the parser sets `-1` for
/// nodes without one).
pub(crate) fn min_location(v: &Value) -> Option<usize> {
    match v {
        Value::Object(map) => {
            let own = map
                .get("location")
                .and_then(Value::as_i64)
                .and_then(|l| usize::try_from(l).ok());
            map.values().filter_map(min_location).chain(own).min()
        }
        Value::Array(items) => items.iter().filter_map(min_location).min(),
        _ => None,
    }
}

/// `pg_query::scan_tokens`, minus its undefined behaviour on input without tokens (it
/// builds a slice from a null pointer): whitespace alone (PostgreSQL's whitespace set)
/// has no tokens, so it is answered here.
pub(crate) fn scan(text: &str) -> pg_query::Result<Vec<ScanToken>> {
    if text
        .bytes()
        .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c'))
    {
        return Ok(Vec::new());
    }
    pg_query::scan_tokens(text)
}

pub(crate) fn is_comment(t: &ScanToken) -> bool {
    t.token == Token::SqlComment as i32 || t.token == Token::CComment as i32
}

/// Parser offsets are non-negative `i32`s; a negative one (never produced) reads as 0.
pub(crate) fn offset(v: i32) -> usize {
    usize::try_from(v).unwrap_or(0)
}

pub(crate) fn message(e: &pg_query::Error) -> String {
    match e {
        pg_query::Error::Parse(m) | pg_query::Error::Scan(m) => m.clone(),
        other => other.to_string(),
    }
}

/// The Rust binding drops PostgreSQL's error position, so find it again. The grammar is
/// LR(1): a prefix that stops before the bad token parses, or fails only "at end of
/// input", and every prefix that contains it fails on it. A binary search over token ends
/// finds that token in a few parses (this runs only for text that does not parse).
/// Returns a byte offset into `source`, not before `skip` (the wrapping prefix).
pub(crate) fn parse_error_offset(source: &str, skip: usize) -> usize {
    let Ok(tokens) = scan(source) else {
        return skip;
    };
    let tokens: Vec<&ScanToken> = tokens.iter().filter(|t| !is_comment(t)).collect();
    let fails_inside = |k: usize| -> bool {
        let end = offset(tokens[k].end).min(source.len());
        match pg_query::parse(source.get(..end).unwrap_or(source), 0) {
            Ok(_) => false,
            Err(e) => !message(&e).contains("at end of input"),
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
    tokens
        .get(lo)
        .map_or(source.trim_end().len(), |t| offset(t.start))
        .max(skip)
}

/// Where the scanner gives up (an unterminated string, quoted identifier or comment, ...):
/// the end of the longest prefix that still scans, which is where the unterminated
/// construct begins. Quadratic in the worst case, but only on text that is already wrong.
pub(crate) fn scan_error_offset(text: &str) -> usize {
    (0..text.len())
        .rev()
        .filter(|&end| text.is_char_boundary(end))
        .find(|&end| scan(&text[..end]).is_ok())
        .unwrap_or(0)
}
