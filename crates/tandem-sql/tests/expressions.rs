//! Rewriting migration expressions: pgroll's real expressions, scoping, quoting, and
//! rejection with positions. No database: every output is checked by parsing it again.

use tandem_sql::{parse_expression, quote_ident, ColumnResolver, ExprError};

/// A target table with some columns, other tables with known columns, and a way of
/// writing the target's columns.
struct Table {
    name: &'static str,
    columns: &'static [&'static str],
    others: &'static [(&'static str, &'static [&'static str])],
    /// How a column is written: `{}` is replaced by the quoted column name.
    style: &'static str,
}

impl ColumnResolver for Table {
    fn column(&self, name: &str) -> Option<String> {
        self.columns
            .contains(&name)
            .then(|| self.style.replacen("{}", &quote_ident(name), 1))
    }
    fn table_name(&self) -> &str {
        self.name
    }
    fn other_table_columns(&self, table: &str) -> Option<Vec<String>> {
        self.others
            .iter()
            .find(|(t, _)| *t == table)
            .map(|(_, cols)| cols.iter().map(|c| c.to_string()).collect())
    }
}

/// A trigger's view of a table: `NEW."col"`.
fn trigger(name: &'static str, columns: &'static [&'static str]) -> Table {
    Table {
        name,
        columns,
        others: &[],
        style: "NEW.{}",
    }
}

/// Rewrites, and asserts that the output parses again, both as an expression of ours and
/// with pg_query directly.
fn rewrite(text: &str, table: &Table) -> String {
    let expr = parse_expression(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
    let out = expr
        .rewrite(table)
        .unwrap_or_else(|e| panic!("{text:?}: {e}"));
    pg_query::parse(&format!("SELECT {out}"), 0)
        .unwrap_or_else(|e| panic!("output {out:?} does not parse: {e}"));
    parse_expression(&out).unwrap_or_else(|e| panic!("output {out:?}: {e}"));
    out
}

fn reject(text: &str) -> ExprError {
    match parse_expression(text) {
        Ok(e) => panic!("{text:?} was accepted as {:?}", e.text()),
        Err(e) => e,
    }
}

fn assert_error(text: &str, line: usize, column: usize, message: &str) {
    let e = reject(text);
    assert_eq!((e.line, e.column), (line, column), "{text:?}: {e}");
    assert!(e.message.contains(message), "{text:?}: {e}");
}

#[test]
fn plain_expression() {
    let t = trigger("users", &["name"]);
    assert_eq!(
        rewrite("length(name) > 3", &t),
        r#"(length(NEW."name") > 3)"#
    );
}

#[test]
fn pgroll_select_form_is_normalized() {
    let text = "SELECT CASE WHEN title IS NULL THEN 'placeholder' ELSE title END";
    let expr = parse_expression(text).unwrap();
    assert_eq!(
        expr.text(),
        "CASE WHEN title IS NULL THEN 'placeholder' ELSE title END"
    );
    let backfill = Table {
        name: "posts",
        columns: &["title"],
        others: &[],
        style: "\"_tandem_new_title\"",
    };
    assert_eq!(
        rewrite(text, &backfill),
        r#"(CASE WHEN "_tandem_new_title" IS NULL THEN 'placeholder' ELSE "_tandem_new_title" END)"#
    );
    // Lower case, comments before the expression, a trailing `;`.
    let expr = parse_expression("  select /* pgroll */ upper(title);  ").unwrap();
    assert_eq!(expr.text(), "/* pgroll */ upper(title)");
    assert_eq!(
        parse_expression(" upper(title) ; ").unwrap().text(),
        "upper(title)"
    );
    assert_eq!(
        parse_expression("SELECT x FETCH FIRST 1 ROW ONLY")
            .unwrap_err()
            .message,
        "a SELECT with a LIMIT clause is not an expression"
    );
}

#[test]
fn pgroll_expressions() {
    let products = trigger("products", &["name", "rating", "review", "product"]);
    for (text, want) in [
        ("UPPER(name)", r#"(UPPER(NEW."name"))"#),
        ("name || '-category'", r#"(NEW."name" || '-category')"#),
        ("(random() * 1000)::int", "((random() * 1000)::int)"),
        (
            "CAST(rating AS integer)",
            r#"(CAST(NEW."rating" AS integer))"#,
        ),
        (
            "SELECT CASE WHEN review IS NULL THEN product || ' is good' ELSE review END",
            r#"(CASE WHEN NEW."review" IS NULL THEN NEW."product" || ' is good' ELSE NEW."review" END)"#,
        ),
    ] {
        assert_eq!(rewrite(text, &products), want, "{text}");
    }
    let sellers = trigger("sellers", &["sellers_name", "sellers_zip"]);
    assert_eq!(
        rewrite(
            "SELECT CASE WHEN sellers_name != 'alice' AND sellers_zip <= 0 THEN 123 WHEN sellers_name != 'alice' THEN sellers_zip ELSE sellers_zip END",
            &sellers
        ),
        r#"(CASE WHEN NEW."sellers_name" != 'alice' AND NEW."sellers_zip" <= 0 THEN 123 WHEN NEW."sellers_name" != 'alice' THEN NEW."sellers_zip" ELSE NEW."sellers_zip" END)"#
    );
    let posts = trigger("posts", &["title"]);
    assert_eq!(
        rewrite("length(title) > 3", &posts),
        r#"(length(NEW."title") > 3)"#
    );
    assert_eq!(
        parse_expression(
            "SELECT CASE WHEN review IS NULL THEN product || ' is good' ELSE review END"
        )
        .unwrap()
        .referenced_columns(&products),
        ["review", "product"]
    );
}

const EXISTS: &str =
    "SELECT CASE WHEN EXISTS (SELECT 1 FROM users WHERE users.id = user_id) THEN user_id ELSE NULL END";

#[test]
fn subquery_over_another_table() {
    let posts = Table {
        name: "posts",
        columns: &["id", "user_id", "title"],
        others: &[("users", &["id", "name"])],
        style: "NEW.{}",
    };
    assert_eq!(
        rewrite(EXISTS, &posts),
        r#"(CASE WHEN EXISTS (SELECT 1 FROM users WHERE users.id = NEW."user_id") THEN NEW."user_id" ELSE NULL END)"#
    );
    assert_eq!(
        parse_expression(EXISTS).unwrap().referenced_columns(&posts),
        ["user_id"]
    );
    // `id` inside the subquery is the users' column: the nearest scope wins.
    assert_eq!(
        rewrite("EXISTS (SELECT 1 FROM users WHERE id = user_id)", &posts),
        r#"(EXISTS (SELECT 1 FROM users WHERE id = NEW."user_id"))"#
    );
}

#[test]
fn subquery_table_shadows_a_column_it_has() {
    let posts = Table {
        name: "posts",
        columns: &["id", "user_id"],
        others: &[("users", &["id", "user_id"])],
        style: "NEW.{}",
    };
    assert_eq!(
        rewrite(EXISTS, &posts),
        r#"(CASE WHEN EXISTS (SELECT 1 FROM users WHERE users.id = user_id) THEN NEW."user_id" ELSE NULL END)"#
    );
    // Aliased: the table's columns are still visible unqualified.
    assert_eq!(
        rewrite(
            "EXISTS (SELECT 1 FROM users AS u WHERE u.id = user_id)",
            &posts
        ),
        "(EXISTS (SELECT 1 FROM users AS u WHERE u.id = user_id))"
    );
}

#[test]
fn unknown_table_shadows_nothing() {
    let posts = trigger("posts", &["id", "user_id"]);
    assert_eq!(
        rewrite(EXISTS, &posts),
        r#"(CASE WHEN EXISTS (SELECT 1 FROM users WHERE users.id = NEW."user_id") THEN NEW."user_id" ELSE NULL END)"#
    );
}

#[test]
fn qualified_by_the_target_table() {
    let posts = trigger("posts", &["id", "title"]);
    assert_eq!(
        rewrite(
            r#"posts.title || "posts"."title" || posts . /* c */ title"#,
            &posts
        ),
        r#"(NEW."title" || NEW."title" || NEW."title")"#
    );
    // Another qualifier, three fields, stars: left alone.
    assert_eq!(
        rewrite(
            "other.title || public.posts.title || row_to_json(posts.*)::text",
            &posts
        ),
        "(other.title || public.posts.title || row_to_json(posts.*)::text)"
    );
    // Inside a subquery over the target table itself (or a FROM item aliased like it),
    // the qualifier means the subquery's row.
    assert_eq!(
        rewrite(
            "EXISTS (SELECT 1 FROM posts WHERE posts.id <> id AND posts.title = title)",
            &posts
        ),
        "(EXISTS (SELECT 1 FROM posts WHERE posts.id <> id AND posts.title = title))"
    );
    assert_eq!(
        rewrite(
            "EXISTS (SELECT 1 FROM comments AS posts WHERE posts.id = id)",
            &posts
        ),
        r#"(EXISTS (SELECT 1 FROM comments AS posts WHERE posts.id = NEW."id"))"#
    );
}

#[test]
fn joins_derived_tables_and_set_operations() {
    let orders = Table {
        name: "orders",
        columns: &["id", "user_id", "total"],
        others: &[("users", &["id", "name"]), ("payments", &["uid", "total"])],
        style: "NEW.{}",
    };
    assert_eq!(
        rewrite(
            "EXISTS (SELECT 1 FROM users u JOIN payments p ON p.uid = u.id WHERE p.total > total AND u.id = user_id)",
            &orders
        ),
        r#"(EXISTS (SELECT 1 FROM users u JOIN payments p ON p.uid = u.id WHERE p.total > total AND u.id = NEW."user_id"))"#
    );
    assert_eq!(
        rewrite(
            "EXISTS (SELECT 1 FROM (SELECT id AS user_id FROM users) s WHERE s.user_id = user_id AND id > 0)",
            &orders
        ),
        // The derived table exposes only `user_id`: `users` (and its `id`) is not in scope
        // outside it, so the outer `id` is the target's.
        r#"(EXISTS (SELECT 1 FROM (SELECT id AS user_id FROM users) s WHERE s.user_id = user_id AND NEW."id" > 0))"#
    );
    assert_eq!(
        rewrite(
            "user_id IN (SELECT id FROM users UNION SELECT uid FROM payments WHERE total = total)",
            &orders
        ),
        r#"(NEW."user_id" IN (SELECT id FROM users UNION SELECT uid FROM payments WHERE total = total))"#
    );
}

#[test]
fn string_literals_are_not_references() {
    let t = trigger("users", &["name"]);
    assert_eq!(rewrite("'''unknown event'''", &t), "('''unknown event''')");
    assert_eq!(
        rewrite(
            "name || 'name' || '''name''' || E'name\\'s' || $$name$$ || $q$ name $q$",
            &t
        ),
        r#"(NEW."name" || 'name' || '''name''' || E'name\'s' || $$name$$ || $q$ name $q$)"#
    );
}

#[test]
fn function_type_and_argument_names_are_not_references() {
    let t = trigger("t", &["upper", "text", "days", "name"]);
    assert_eq!(rewrite("upper(upper)", &t), r#"(upper(NEW."upper"))"#);
    assert_eq!(rewrite("text::text", &t), r#"(NEW."text"::text)"#);
    assert_eq!(
        rewrite("make_interval(days => days)", &t),
        r#"(make_interval(days => NEW."days"))"#
    );
    assert_eq!(
        rewrite("name::text || name::varchar(10) || CAST(name AS name)", &t),
        r#"(NEW."name"::text || NEW."name"::varchar(10) || CAST(NEW."name" AS name))"#
    );
}

#[test]
fn quoted_identifiers_and_case() {
    let t = trigger("t", &["select", "Name", "value"]);
    assert_eq!(
        rewrite(r#""select" || 'x' || "Name" || name || NAME || value"#, &t),
        // `name`/`NAME` fold to `name`, which is not a column (`Name` is).
        r#"(NEW."select" || 'x' || NEW."Name" || name || NAME || NEW."value")"#
    );
    let upper = trigger("T", &["a\"b"]);
    assert_eq!(rewrite(r#""T"."a""b" + 1"#, &upper), r#"(NEW."a""b" + 1)"#);
}

#[test]
fn comments_are_kept() {
    let t = trigger("users", &["name"]);
    assert_eq!(
        rewrite("/* name */ length(name) -- name\n > 3", &t),
        "(/* name */ length(NEW.\"name\") -- name\n > 3)"
    );
    // A trailing line comment must not swallow the closing parenthesis.
    assert_eq!(
        rewrite("upper(name) -- uses name", &t),
        "(upper(NEW.\"name\") -- uses name\n)"
    );
}

#[test]
fn multibyte_text_before_a_reference() {
    let t = trigger("users", &["name", "größe"]);
    assert_eq!(
        rewrite("'héllo wörld 🎉' || name || größe::text", &t),
        "('héllo wörld 🎉' || NEW.\"name\" || NEW.\"größe\"::text)"
    );
}

#[test]
fn subscripts_and_field_selection() {
    let t = trigger("t", &["tags", "addr"]);
    assert_eq!(
        rewrite("tags[1] || (addr).city", &t),
        r#"(NEW."tags"[1] || (NEW."addr").city)"#
    );
}

#[test]
fn complex_replacements_are_parenthesized() {
    let t = Table {
        name: "t",
        columns: &["x"],
        others: &[],
        style: "a + b -- {}",
    };
    assert_eq!(rewrite("x * 2", &t), "((a + b -- \"x\"\n) * 2)");
    let bad = Table {
        name: "t",
        columns: &["x"],
        others: &[],
        style: "1; DROP TABLE {}",
    };
    let e = parse_expression("1 +\n  x")
        .unwrap()
        .rewrite(&bad)
        .unwrap_err();
    assert_eq!((e.line, e.column), (2, 3), "{e}");
    assert!(e.message.contains("not an expression"), "{e}");
}

#[test]
fn referenced_columns_in_order_of_first_appearance() {
    let t = trigger("t", &["a", "b", "c"]);
    let expr = parse_expression("coalesce(b, a, b, t.a, z)").unwrap();
    assert_eq!(expr.referenced_columns(&t), ["b", "a"]);
}

#[test]
fn rejects_with_positions() {
    assert_error("", 1, 1, "empty");
    assert_error("  \n  ", 2, 3, "empty");
    assert_error("-- just a comment", 1, 18, "empty");
    assert_error("1; DROP TABLE x", 1, 4, "several statements");
    assert_error("SELECT a FROM t", 1, 10, "FROM clause");
    assert_error("SELECT a\nWHERE a > 1", 2, 1, "WHERE clause");
    assert_error("SELECT a, b", 1, 11, "several comma-separated");
    assert_error("a, b", 1, 4, "several comma-separated");
    assert_error("SELECT a AS b", 1, 8, "alias");
    assert_error("SELECT", 1, 7, "expected an expression");
    assert_error("SELECT *", 1, 8, "`*`");
    assert_error("SELECT 1 UNION SELECT 2", 1, 10, "UNION");
    assert_error("SELECT DISTINCT a", 1, 8, "DISTINCT");
    assert_error("SELECT a ORDER BY a LIMIT 1", 1, 10, "ORDER BY");
    assert_error("a FROM t", 1, 3, "FROM clause");
    assert_error("DROP TABLE x", 1, 12, "syntax error at or near \"x\"");
    assert_error("upper(name\n  3)", 2, 3, "syntax error at or near \"3\"");
    assert_error("name +", 1, 7, "at end of input");
    assert_error("'héllo' || 'unterminated", 1, 12, "unterminated");
    assert_error("a\u{0}b", 1, 2, "NUL");
    // Errors render with their position.
    assert_eq!(
        reject("1; DROP TABLE x").to_string(),
        "line 1, column 4: several statements; an expression must be exactly one (remove the `;` and what follows)"
    );
}

#[test]
fn quote_ident_always_quotes() {
    assert_eq!(quote_ident("name"), r#""name""#);
    assert_eq!(quote_ident(r#"we"ird"#), r#""we""ird""#);
}
