//! Every slot with the shapes real migrations use, and with hostile payloads. No database:
//! each accepted fragment's rendering is parsed again in its slot.

use tandem_sql::{
    parse_exclusion_elements, parse_expression_in, parse_opclass_parameters, parse_query,
    parse_sequence_options, parse_storage_parameters, parse_type_name, ExpressionSlot, Fragment,
    Slot, SlotError,
};

type SlotFn = fn(&str) -> Result<Fragment, SlotError>;

/// The list slots, each with a valid item to build hostile texts around.
const LIST_SLOTS: [(&str, SlotFn, &str); 6] = [
    ("query", parse_query, "SELECT 1"),
    ("type", parse_type_name, "int"),
    ("storage", parse_storage_parameters, "fillfactor = 70"),
    ("opclass", parse_opclass_parameters, "siglen = 32"),
    ("sequence", parse_sequence_options, "START WITH 1"),
    ("exclusion", parse_exclusion_elements, "c WITH &&"),
];

const EXPRESSION_SLOTS: [ExpressionSlot; 7] = [
    ExpressionSlot::Default,
    ExpressionSlot::Check,
    ExpressionSlot::Generated,
    ExpressionSlot::Up,
    ExpressionSlot::Down,
    ExpressionSlot::IndexPredicate,
    ExpressionSlot::ExclusionPredicate,
];

/// Payloads appended to a valid fragment: each tries to end the slot, the statement or the
/// transaction. `{}` is the valid fragment.
const HOSTILE: &[&str] = &[
    "{}; COMMIT; DROP TABLE victim; --",
    "{};DROP TABLE victim",
    "{} /* hidden */; DROP TABLE victim",
    "{} -- comment\n; DROP TABLE victim",
    "{} /* ; */ ) ; DROP TABLE victim; --",
    "{}) ; DROP TABLE victim; --",
    "{})) ; DROP TABLE victim; --",
    "{})); DROP TABLE victim; CREATE TABLE t (c int",
    "{}'",
    "{} '; DROP TABLE victim; --",
    "{}\"",
    "{} $$; DROP TABLE victim; --",
    "{} $a$ x $b$",
    "{} /* unterminated",
    "{}\0; DROP TABLE victim",
    "{}; SELECT pg_terminate_backend(1)",
    "{}\n;\nDROP TABLE victim",
    "{} \\; DROP TABLE victim",
];

const EMPTY: &[&str] = &[
    "",
    "   ",
    "\n\t",
    "-- only a comment",
    "/* */",
    "/* a */ -- b\n",
];

fn accept(f: SlotFn, text: &str) -> Fragment {
    let fragment = f(text).unwrap_or_else(|e| panic!("{text:?} refused: {e}"));
    // The rendering is accepted again and renders to itself.
    let again = f(fragment.sql()).unwrap_or_else(|e| panic!("{:?} refused: {e}", fragment.sql()));
    assert_eq!(again.sql(), fragment.sql());
    assert!(!fragment.sql().contains("--") && !fragment.sql().contains("/*"));
    fragment
}

fn refuse(f: SlotFn, text: &str) -> SlotError {
    match f(text) {
        Ok(fragment) => panic!("{text:?} was accepted as {:?}", fragment.sql()),
        Err(e) => e,
    }
}

#[test]
fn every_slot_refuses_every_hostile_payload_and_empty_text() {
    let mut checked = 0;
    for (name, f, valid) in LIST_SLOTS {
        accept(f, valid);
        for payload in HOSTILE {
            let text = payload.replace("{}", valid);
            let e = refuse(f, &text);
            assert!(e.to_string().contains("expected"), "{name} {text:?}: {e}");
            checked += 1;
        }
        for text in EMPTY {
            let e = refuse(f, text);
            assert!(e.found.contains("empty"), "{name} {text:?}: {e}");
        }
    }
    for slot in EXPRESSION_SLOTS {
        parse_expression_in(slot, "1").unwrap();
        for payload in HOSTILE {
            let text = payload.replace("{}", "1");
            if let Ok(e) = parse_expression_in(slot, &text) {
                panic!("{slot:?} accepted {text:?} as {}", e.sql());
            }
            checked += 1;
        }
        for text in EMPTY {
            assert!(
                parse_expression_in(slot, text).is_err(),
                "{slot:?} {text:?}"
            );
        }
    }
    assert_eq!(checked, HOSTILE.len() * 13);
}

#[test]
fn errors_say_what_was_expected_what_was_found_and_where() {
    let e = refuse(parse_type_name, "int; COMMIT; DROP TABLE victim; --");
    assert_eq!(e.slot, Slot::TypeName);
    assert_eq!((e.line, e.column), (1, 4), "{e}");
    assert!(e.found.contains("a `;`"), "{e}");
    assert!(e
        .to_string()
        .starts_with("line 1, column 4: expected one type name"));
    let e = refuse(parse_type_name, "int) /* x */\n; DROP TABLE victim; --");
    assert!(e.found.contains("a `;`"), "{e}");
    // Inside a string a `;` is text, and the string is what is wrong in a type.
    let e = refuse(parse_type_name, "int 'a;b'");
    assert!(e.found.contains("syntax error"), "{e}");

    let e = refuse(parse_type_name, "int) , pg_sleep(10");
    assert_eq!((e.line, e.column), (1, 4), "{e}");
    assert!(e.found.contains("outside the type name"), "{e}");

    let e = refuse(parse_storage_parameters, "fillfactor = 70\n  ) WHERE (true");
    assert_eq!((e.line, e.column), (2, 3), "{e}");

    let e = refuse(parse_type_name, "varchar(10");
    assert!(e.found.contains("syntax error"), "{e}");

    let e = refuse(parse_type_name, "text 'abc");
    assert!(e.found.contains("unterminated"), "{e}");
    assert_eq!(e.column, 6, "{e}");

    let e =
        parse_expression_in(ExpressionSlot::Check, "price > 0;\nDROP TABLE victim").unwrap_err();
    assert_eq!(e.line, 2, "{e}");
    assert!(e
        .to_string()
        .contains("expected one SQL expression for a CHECK constraint"));
}

#[test]
fn type_names_of_every_real_shape() {
    let shapes = [
        ("integer", "integer"),
        ("int", "int"),
        ("BIGINT", "BIGINT"),
        ("int[]", "int[]"),
        ("int[][]", "int[][]"),
        ("integer ARRAY", "integer ARRAY"),
        ("int[3]", "int[3]"),
        ("numeric(10,2)", "numeric(10,2)"),
        ("numeric(10, 2)[]", "numeric(10, 2)[]"),
        ("varchar(10)", "varchar(10)"),
        ("character varying(10)", "character varying(10)"),
        ("character varying", "character varying"),
        ("double precision", "double precision"),
        ("timestamp with time zone", "timestamp with time zone"),
        ("timestamptz", "timestamptz"),
        (
            "timestamp(3) without time zone",
            "timestamp(3) without time zone",
        ),
        ("time(6) with time zone", "time(6) with time zone"),
        ("\"MixedCase\"", "\"MixedCase\""),
        ("public.\"MixedCase\"", "public.\"MixedCase\""),
        ("myschema.mytype[]", "myschema.mytype[]"),
        ("interval", "interval"),
        ("interval day to second(3)", "interval day to second(3)"),
        ("interval year to month", "interval year to month"),
        ("bit varying(8)", "bit varying(8)"),
        ("char(3)", "char(3)"),
        (
            "national character varying(5)",
            "national character varying(5)",
        ),
        ("pg_catalog.int4", "pg_catalog.int4"),
        ("\"char\"", "\"char\""),
        ("decimal(5)", "decimal(5)"),
        ("geometry(Point, 4326)", "geometry(Point, 4326)"),
        ("timestamptz[]", "timestamptz[]"),
        ("timestamp with time zone[]", "timestamp with time zone[]"),
        ("double precision[]", "double precision[]"),
        ("\"my type\"[]", "\"my type\"[]"),
        ("interval second(3)", "interval second(3)"),
        ("interval(6)", "interval(6)"),
        ("varchar(10) ARRAY[4]", "varchar(10) ARRAY[4]"),
        ("int4range", "int4range"),
        ("  text  ", "text"),
        ("text /* the name */", "text"),
        ("numeric -- the price\n(10,2)", "numeric  \n(10,2)"),
    ];
    for (text, sql) in shapes {
        assert_eq!(accept(parse_type_name, text).sql(), sql, "{text:?}");
    }
}

#[test]
fn type_names_refuse_what_is_not_exactly_a_type() {
    for text in [
        "int NOT NULL",
        "int DEFAULT pg_terminate_backend(1)",
        "int COLLATE \"C\"",
        "int, evil int",
        "int) FROM victim --",
        "int) + (1",
        "setof int",
        "t.c%TYPE",
        "1",
        "'int'",
        "int int",
        "CAST",
        "SELECT",
    ] {
        let e = refuse(parse_type_name, text);
        assert_eq!(e.slot, Slot::TypeName, "{text:?}");
    }
    assert!(refuse(parse_type_name, "setof int").found.contains("SETOF"));
}

#[test]
fn storage_and_opclass_parameters() {
    for text in [
        "fillfactor = 70",
        "fillfactor=70, deduplicate_items = off",
        "toast.autovacuum_enabled = false",
        "fastupdate",
        "gin_pending_list_limit = 4096",
        "buffering = auto",
        "pages_per_range = 32, autosummarize = on",
        "fillfactor = '70'",
        "vacuum_cleanup_index_scale_factor = 0.1",
        "FillFactor = 70 -- dense",
    ] {
        accept(parse_storage_parameters, text);
    }
    let f = accept(
        parse_storage_parameters,
        "fillfactor = 70, toast.autovacuum_enabled = false",
    );
    assert_eq!(
        f.option_names(),
        vec![
            (None, "fillfactor".to_owned()),
            (Some("toast".to_owned()), "autovacuum_enabled".to_owned())
        ]
    );
    for text in [
        "fillfactor = 70) WHERE (true",
        "fillfactor = 70) TABLESPACE pg_global --",
        "fillfactor = (SELECT 1)",
        "fillfactor = pg_sleep(1)",
        "fillfactor = 70 fillfactor = 80",
        "= 70",
    ] {
        refuse(parse_storage_parameters, text);
    }
    for text in ["siglen = 32", "siglen=256", "siglen = 32, other = 'x'"] {
        accept(parse_opclass_parameters, text);
    }
    for text in ["siglen = 32), (c", "siglen = 32)) WHERE (true", "siglen"] {
        // `siglen` alone is a legal reloption spelling; the others leave the slot.
        if text == "siglen" {
            accept(parse_opclass_parameters, text);
        } else {
            refuse(parse_opclass_parameters, text);
        }
    }
}

#[test]
fn sequence_options() {
    for text in [
        "START WITH 10 INCREMENT BY 2",
        "START 1 INCREMENT 1 MINVALUE 1 MAXVALUE 9223372036854775807 CACHE 1 NO CYCLE",
        "AS integer",
        "NO MINVALUE NO MAXVALUE",
        "CYCLE",
        "SEQUENCE NAME public.my_seq START WITH 100",
        "INCREMENT BY -1 START WITH -1 MAXVALUE -1",
        "start with 5\ncache 20",
    ] {
        accept(parse_sequence_options, text);
    }
    let f = accept(parse_sequence_options, "START WITH 10 INCREMENT BY 2");
    let names: Vec<String> = f.option_names().into_iter().map(|(_, n)| n).collect();
    assert_eq!(names, ["start", "increment"]);
    for text in [
        "START 1) , d int DEFAULT pg_sleep(1",
        "START 1)) ; DROP TABLE victim; --",
        "START WITH (SELECT 1)",
        "OWNED BY t.c",
        "START WITH 1 OWNED BY NONE",
        "START WITH x",
        "RANDOM 1",
    ] {
        refuse(parse_sequence_options, text);
    }
}

#[test]
fn exclusion_elements() {
    for text in [
        "c WITH &&",
        "room WITH =, during WITH &&",
        "(lower(name)) WITH =",
        "c gist_int4_ops WITH &&",
        "c COLLATE \"C\" WITH =",
        "c DESC NULLS LAST WITH =",
        "int4range(a, b) WITH &&",
        "c WITH OPERATOR(pg_catalog.&&)",
        "tsrange(starts_at, ends_at, '[)') WITH &&",
    ] {
        accept(parse_exclusion_elements, text);
    }
    let f = accept(
        parse_exclusion_elements,
        "room WITH =, tsrange(a, b) WITH &&",
    );
    let calls = f.called_objects();
    assert_eq!(calls.functions.len(), 1);
    assert_eq!(calls.functions[0].to_string(), "tsrange");
    for text in [
        "c WITH &&) WHERE (pg_sleep(1) IS NULL",
        "c WITH &&), CHECK (false",
        "((SELECT 1)) WITH =",
        "c",
        "c WITH",
        "c WITH && WHERE (true)",
    ] {
        refuse(parse_exclusion_elements, text);
    }
    let e = refuse(parse_exclusion_elements, "((SELECT 1)) WITH =");
    assert!(e.found.contains("subquery"), "{e}");
}

#[test]
fn expression_slots_follow_postgres_rules_on_subqueries_and_columns() {
    let up = "(SELECT max(o.total) FROM orders o WHERE o.user_id = id)";
    for slot in [ExpressionSlot::Up, ExpressionSlot::Down] {
        assert!(slot.allows_subqueries());
        parse_expression_in(slot, up).unwrap();
        parse_expression_in(slot, "EXISTS (SELECT 1 FROM t)").unwrap();
    }
    for slot in [
        ExpressionSlot::Default,
        ExpressionSlot::Check,
        ExpressionSlot::Generated,
        ExpressionSlot::IndexPredicate,
        ExpressionSlot::ExclusionPredicate,
    ] {
        assert!(!slot.allows_subqueries());
        for text in [up, "x IN (SELECT 1)", "EXISTS (SELECT 1)", "1 + (SELECT 2)"] {
            let e = parse_expression_in(slot, text).unwrap_err();
            assert!(e.found.contains("subquery"), "{slot:?} {text:?}: {e}");
        }
    }
    let e = parse_expression_in(ExpressionSlot::Default, "price * 2").unwrap_err();
    assert!(e.found.contains("column reference"), "{e}");
    assert_eq!(e.column, 1);
    for slot in EXPRESSION_SLOTS {
        let e = parse_expression_in(slot, "$1 + 1").unwrap_err();
        assert!(e.found.contains("parameter"), "{slot:?}: {e}");
    }
    for (slot, text, sql) in [
        (ExpressionSlot::Default, "now()", "(now())"),
        (ExpressionSlot::Default, "'draft'::text", "('draft'::text)"),
        (
            ExpressionSlot::Default,
            "CURRENT_TIMESTAMP",
            "(CURRENT_TIMESTAMP)",
        ),
        (
            ExpressionSlot::Default,
            "nextval('s'::regclass)",
            "(nextval('s'::regclass))",
        ),
        (ExpressionSlot::Default, "true", "(true)"),
        (ExpressionSlot::Default, "-1.5", "(-1.5)"),
        (
            ExpressionSlot::Default,
            "ARRAY[]::int[]",
            "(ARRAY[]::int[])",
        ),
        (ExpressionSlot::Default, "'{}'::jsonb", "('{}'::jsonb)"),
        (ExpressionSlot::Default, "$$it's$$", "($$it's$$)"),
        (
            ExpressionSlot::Check,
            "price > 0 -- positive",
            "(price > 0)",
        ),
        (
            ExpressionSlot::Check,
            "a = b AND c IS NOT NULL",
            "(a = b AND c IS NOT NULL)",
        ),
        (
            ExpressionSlot::Check,
            "status IN ('a', 'b')",
            "(status IN ('a', 'b'))",
        ),
        (
            ExpressionSlot::Generated,
            "price * quantity",
            "(price * quantity)",
        ),
        (ExpressionSlot::Generated, "lower(email)", "(lower(email))"),
        (
            ExpressionSlot::Up,
            "SELECT CAST(price AS numeric(10,2))",
            "(CAST(price AS numeric(10,2)))",
        ),
        (
            ExpressionSlot::Down,
            "price::int /* round */",
            "(price::int)",
        ),
        (
            ExpressionSlot::IndexPredicate,
            "deleted_at IS NULL",
            "(deleted_at IS NULL)",
        ),
        (
            ExpressionSlot::ExclusionPredicate,
            "NOT cancelled AND room > 0",
            "(NOT cancelled AND room > 0)",
        ),
        (ExpressionSlot::Check, "(1,2) < (3,4)", "((1,2) < (3,4))"),
        (
            ExpressionSlot::Check,
            "x BETWEEN 1 AND 2",
            "(x BETWEEN 1 AND 2)",
        ),
    ] {
        let e = parse_expression_in(slot, text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(e.sql(), sql, "{slot:?} {text:?}");
        // The rendering is itself accepted in the slot.
        parse_expression_in(slot, &e.sql()).unwrap();
    }
    for text in [
        "1) NOT VALID; DROP TABLE victim; --",
        "true) WITH (fillfactor = 10",
        "SELECT 1 FROM victim",
        "1 AS one",
        "*",
    ] {
        for slot in EXPRESSION_SLOTS {
            assert!(
                parse_expression_in(slot, text).is_err(),
                "{slot:?} {text:?}"
            );
        }
    }
}

#[test]
fn called_objects_are_read_from_the_tree_without_running_anything() {
    let e = parse_expression_in(
        ExpressionSlot::Up,
        "nextval('s') + now()::date - pg_catalog.random() * x::numeric(10,2)[]",
    )
    .unwrap();
    let c = e.called_objects();
    let names =
        |v: &[tandem_sql::QualifiedName]| v.iter().map(|n| n.to_string()).collect::<Vec<_>>();
    let mut functions = names(&c.functions);
    functions.sort();
    assert_eq!(functions, ["nextval", "now", "pg_catalog.random"]);
    let mut operators = names(&c.operators);
    operators.sort();
    assert_eq!(operators, ["*", "+", "-"]);
    let mut casts: Vec<String> = c
        .casts
        .iter()
        .map(|t| format!("{}{}", t.name, if t.array { "[]" } else { "" }))
        .collect();
    casts.sort();
    assert_eq!(casts, ["date", "pg_catalog.numeric[]"]);
    assert!(!c.subqueries);

    let c = parse_expression_in(
        ExpressionSlot::Up,
        "x BETWEEN 1 AND 2 OR name LIKE 'a%' OR name ILIKE 'b' OR a OPERATOR(public.===) b \
         OR ts AT TIME ZONE 'UTC' > current_timestamp OR user = 'x' \
         OR EXISTS (SELECT f(1)) OR y IN (1, 2) OR y IS DISTINCT FROM 3 \
         OR EXTRACT(year FROM ts) = 2020",
    )
    .unwrap()
    .called_objects();
    let mut operators = names(&c.operators);
    operators.sort();
    assert_eq!(operators, ["<=", "=", ">", ">=", "public.===", "~~", "~~*"]);
    let mut functions = names(&c.functions);
    functions.sort();
    assert_eq!(
        functions,
        ["f", "pg_catalog.extract", "pg_catalog.timezone"]
    );
    assert_eq!(c.value_functions, ["current_timestamp", "user"]);
    assert!(c.subqueries);

    let c = parse_type_name("numeric(10,2)").unwrap().called_objects();
    assert!(c.functions.is_empty() && c.operators.is_empty());
}

#[test]
fn verify_queries_are_one_read_only_query() {
    for text in [
        "SELECT id FROM users WHERE email IS NULL",
        "SELECT 1 FROM orders o JOIN users u ON u.id = o.user_id WHERE u.id IS NULL LIMIT 1",
        "WITH bad AS (SELECT id FROM t WHERE x < 0) SELECT * FROM bad",
        "SELECT a FROM t UNION ALL SELECT b FROM u",
        "VALUES (1)",
        "TABLE users",
        "(SELECT 1)",
        "SELECT id FROM t ORDER BY id -- the first ones\nLIMIT 10",
        "SELECT 1 FROM t WHERE x IN (SELECT y FROM u)",
    ] {
        accept(parse_query, text);
    }
    for (text, found) in [
        ("SELECT 1; DELETE FROM users", "`;`"),
        ("SELECT * INTO copy FROM users", "INTO"),
        ("SELECT * FROM users FOR UPDATE", "row lock"),
        ("SELECT * FROM users FOR SHARE SKIP LOCKED", "row lock"),
        (
            "WITH d AS (DELETE FROM users RETURNING id) SELECT * FROM d",
            "DELETE",
        ),
        (
            "WITH d AS (UPDATE users SET x = 1 RETURNING id) SELECT 1",
            "UPDATE",
        ),
        (
            "WITH d AS (INSERT INTO t VALUES (1) RETURNING 1) SELECT 1",
            "INSERT",
        ),
        ("DELETE FROM users", "syntax error"),
        ("SELECT 1) OR (SELECT pg_sleep(10)", "outside"),
        ("SELECT 1)) ; DROP TABLE victim; --", "`;`"),
    ] {
        let e = refuse(parse_query, text);
        assert!(e.found.contains(found), "{text:?}: {e}");
    }
    let f = accept(
        parse_query,
        "SELECT 1 FROM t WHERE random() > 0.5 AND x::int > 0",
    );
    let calls = f.called_objects();
    assert_eq!(calls.functions[0].to_string(), "random");
}

#[test]
fn string_literals_are_read_with_standard_conforming_strings_on() {
    // One string literal to the parser (a backslash is an ordinary character in '...').
    // A server with standard_conforming_strings off would end the string after `\'` and run
    // the rest: this is why every tandem session must set it on (docs/security.md).
    let text = r"'a\'' ; DROP TABLE victim; --'";
    let e = parse_expression_in(ExpressionSlot::Default, text).unwrap();
    assert_eq!(e.sql(), format!("({text})"));
    assert!(e.called_objects().functions.is_empty());
    // The E'' form is read with backslash escapes, as the server reads it.
    let e = parse_expression_in(ExpressionSlot::Default, r"E'a\'; DROP TABLE victim; --'").unwrap();
    assert_eq!(e.sql(), r"(E'a\'; DROP TABLE victim; --')");
    assert!(
        parse_expression_in(ExpressionSlot::Default, r"E'a\'' ; DROP TABLE victim; --'").is_err()
    );
}
