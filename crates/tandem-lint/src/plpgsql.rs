//! Statements run by `DO` blocks: their PL/pgSQL body is parsed with libpg_query's PL/pgSQL
//! parser (the server's own), and each SQL statement it runs is linted like a top-level one.

use crate::statement::Statement;
use pg_query::NodeEnum;
use serde_json::Value;

/// `stmts` with, after each `DO` block in PL/pgSQL, the statements its body runs (static SQL,
/// and `EXECUTE` of a string literal). Each points at its text inside the block when found
/// there, else at the whole block.
pub fn expand_do_blocks(sql: &str, stmts: Vec<Statement>) -> Vec<Statement> {
    if !stmts.iter().any(|s| matches!(s.node, NodeEnum::DoStmt(_))) {
        return stmts;
    }
    let mut out = Vec::with_capacity(stmts.len());
    for stmt in stmts {
        let inner = match &stmt.node {
            NodeEnum::DoStmt(d) => body_statements(sql, &stmt, d),
            _ => Vec::new(),
        };
        out.push(stmt);
        out.extend(inner);
    }
    out
}

fn body_statements(sql: &str, stmt: &Statement, d: &pg_query::protobuf::DoStmt) -> Vec<Statement> {
    let mut body = None;
    let mut language = "plpgsql".to_string();
    for arg in &d.args {
        if let Some(NodeEnum::DefElem(e)) = &arg.node {
            let value = match e.arg.as_ref().and_then(|a| a.node.as_ref()) {
                Some(NodeEnum::String(s)) => s.sval.clone(),
                _ => continue,
            };
            match e.defname.as_str() {
                "as" => body = Some(value),
                "language" => language = value.to_ascii_lowercase(),
                _ => {}
            }
        }
    }
    let Some(body) = body.filter(|_| language == "plpgsql") else {
        return Vec::new();
    };
    let mut queries = Vec::new();
    if let Ok(tree) = pg_query::parse_plpgsql(&as_function(&body)) {
        collect_queries(&tree, &mut queries);
    }
    let block = stmt.text(sql);
    let mut search_from = 0;
    let mut out = Vec::new();
    for query in queries {
        let Ok(parsed) = pg_query::parse(&query, 0) else {
            continue;
        };
        // Where the query sits in the file, to point findings at it.
        let (start, end) = match block.get(search_from..).and_then(|b| b.find(query.trim())) {
            Some(p) => {
                let s = stmt.start + search_from + p;
                search_from += p + query.trim().len();
                (s, s + query.trim().len())
            }
            None => (stmt.start, stmt.end),
        };
        for raw in parsed.protobuf.stmts {
            let Some(node) = raw.stmt.and_then(|n| n.node) else {
                continue;
            };
            out.push(Statement {
                node,
                start,
                end,
                comment_start: stmt.comment_start,
                comment_end: stmt.comment_end,
                in_do_block: Some(stmt.start),
            });
        }
    }
    out
}

/// The PL/pgSQL parser takes a `CREATE FUNCTION`; a `DO` body is the body of one.
fn as_function(body: &str) -> String {
    let mut tag = "tandem_do".to_string();
    while body.contains(&format!("${tag}$")) {
        tag.push('_');
    }
    format!("CREATE FUNCTION tandem_do() RETURNS void LANGUAGE plpgsql AS ${tag}${body}${tag}$")
}

/// Every SQL text the function body runs: `PLpgSQL_stmt_execsql` queries, and the string
/// literal of `EXECUTE '...'`; walked recursively so loops, IFs and nested blocks count.
fn collect_queries(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (key, value) in map {
                match key.as_str() {
                    "PLpgSQL_stmt_execsql" => {
                        if let Some(q) = expr_query(value.get("sqlstmt")) {
                            out.push(q);
                        }
                    }
                    "PLpgSQL_stmt_dynexecute" => {
                        if let Some(q) = expr_query(value.get("query")).and_then(|q| literal(&q)) {
                            out.push(q);
                        }
                    }
                    _ => collect_queries(value, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_queries(i, out)),
        _ => {}
    }
}

fn expr_query(v: Option<&Value>) -> Option<String> {
    v?.get("PLpgSQL_expr")?
        .get("query")?
        .as_str()
        .map(str::to_string)
}

/// The value of a single-quoted SQL string literal (`'it''s'` → `it's`).
fn literal(expr: &str) -> Option<String> {
    let t = expr.trim();
    let inner = t.strip_prefix('\'')?.strip_suffix('\'')?;
    if inner.replace("''", "").contains('\'') {
        return None;
    }
    Some(inner.replace("''", "'"))
}
