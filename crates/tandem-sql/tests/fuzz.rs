//! Property tests (bounded fuzzing) of the slot parsers and the expression rewriter: no
//! input makes them panic, every accepted fragment's rendering is accepted again in its slot
//! as exactly the same thing, and a hostile suffix after a valid fragment is always refused.
//!
//! The number of cases per property is `TANDEM_FUZZ_CASES` (default 256), so CI stays
//! bounded and a longer run is one environment variable away.

use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use tandem_sql::{
    parse_exclusion_elements, parse_expression, parse_expression_in, parse_opclass_parameters,
    parse_query, parse_sequence_options, parse_storage_parameters, parse_type_name, quote_ident,
    ColumnResolver, ExpressionSlot, Fragment, SlotError,
};

type SlotFn = fn(&str) -> Result<Fragment, SlotError>;

const SLOTS: [SlotFn; 6] = [
    parse_type_name,
    parse_storage_parameters,
    parse_opclass_parameters,
    parse_sequence_options,
    parse_exclusion_elements,
    parse_query,
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

fn cases() -> u32 {
    std::env::var("TANDEM_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Runs `test` on `cases()` inputs of `strategy` (shrinking on failure), then checks that
/// they all ran and reports how many, for the CI log.
fn run<S: Strategy>(name: &str, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    let inputs = AtomicUsize::new(0);
    let mut runner = TestRunner::new(config());
    let result = runner.run(&strategy, |value| {
        inputs.fetch_add(1, Ordering::Relaxed);
        test(value)
    });
    if let Err(e) = result {
        panic!("{name}: {e}");
    }
    let ran = inputs.load(Ordering::Relaxed);
    assert!(ran >= cases() as usize, "{name}: only {ran} inputs ran");
    eprintln!("{name}: {ran} inputs");
}

/// Text built from SQL's special characters and words, where the parser's corners are.
fn sqlish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("'".to_owned()),
        Just("\"".to_owned()),
        Just("$$".to_owned()),
        Just("$a$".to_owned()),
        Just("--".to_owned()),
        Just("/*".to_owned()),
        Just("*/".to_owned()),
        Just(";".to_owned()),
        Just("(".to_owned()),
        Just(")".to_owned()),
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just(",".to_owned()),
        Just("=".to_owned()),
        Just("::".to_owned()),
        Just("\n".to_owned()),
        Just(" ".to_owned()),
        Just("\\".to_owned()),
        Just("\0".to_owned()),
        Just("int".to_owned()),
        Just("SELECT".to_owned()),
        Just("WITH".to_owned()),
        Just("&&".to_owned()),
        Just("COMMIT".to_owned()),
        Just("DROP TABLE victim".to_owned()),
        Just("fillfactor".to_owned()),
        Just("START".to_owned()),
        Just("1".to_owned()),
        Just("x".to_owned()),
        Just("é".to_owned()),
        "[a-z]{1,3}".prop_map(|s| s),
        any::<char>().prop_map(|c| c.to_string()),
    ];
    proptest::collection::vec(piece, 0..16).prop_map(|v| v.concat())
}

/// Valid type names of many shapes.
fn type_name() -> impl Strategy<Value = String> {
    let base = prop_oneof![
        Just("int"),
        Just("integer"),
        Just("bigint"),
        Just("text"),
        Just("numeric(10,2)"),
        Just("varchar(10)"),
        Just("character varying(20)"),
        Just("double precision"),
        Just("timestamp with time zone"),
        Just("timestamp(3) without time zone"),
        Just("interval day to second"),
        Just("\"MixedCase\""),
        Just("public.mood"),
        Just("bit varying(4)"),
        Just("jsonb"),
    ];
    (base, 0..3usize).prop_map(|(b, arrays)| format!("{b}{}", "[]".repeat(arrays)))
}

/// Valid expressions, nested.
fn expression() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("price".to_owned()),
        Just("name".to_owned()),
        Just("1".to_owned()),
        Just("'it''s'".to_owned()),
        Just("NULL".to_owned()),
        Just("true".to_owned()),
        Just("$$a;b$$".to_owned()),
        Just("now()".to_owned()),
        Just("\"Quoted\"".to_owned()),
        Just("users.name".to_owned()),
    ];
    leaf.prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} + {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("(({a}) = ({b}))")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("coalesce({a}, {b})")),
            inner.clone().prop_map(|a| format!("CAST({a} AS text)")),
            inner.clone().prop_map(|a| format!("({a})::int")),
            (inner.clone(), inner.clone())
                .prop_map(|(a, b)| format!("CASE WHEN {a} IS NULL THEN {b} END")),
            inner.clone().prop_map(|a| format!("lower({a} /* c */)")),
            inner.prop_map(|a| format!("{a} -- note\n")),
        ]
    })
}

/// What an attacker appends after a valid fragment: a statement separator followed by
/// anything, or a construct left open (which nothing may close afterwards).
fn hostile_suffix() -> impl Strategy<Value = String> {
    let separated = prop_oneof![
        Just("; DROP TABLE victim; --"),
        Just(";COMMIT;DROP TABLE victim"),
        Just(") ; DROP TABLE victim; --"),
        Just(")) ; DROP TABLE victim; --"),
        Just(" /* x */ ; DROP TABLE victim"),
        Just(" -- x\n; DROP TABLE victim"),
        Just("\0"),
        Just("); SELECT pg_terminate_backend(1); --"),
    ];
    let open = prop_oneof![
        Just(" '"),
        Just(" \""),
        Just(" $$"),
        Just(" $q$ DROP TABLE victim"),
        Just(" /*"),
        Just(" /* /* */"),
        Just(") WITH (x = 1"),
        Just(")"),
    ];
    prop_oneof![
        (separated, sqlish()).prop_map(|(e, tail)| format!("{e}{tail}")),
        open.prop_map(str::to_owned),
    ]
}

struct Trigger;
impl ColumnResolver for Trigger {
    fn column(&self, name: &str) -> Option<String> {
        ["price", "name"]
            .contains(&name)
            .then(|| format!("NEW.{}", quote_ident(name)))
    }
    fn table_name(&self) -> &str {
        "users"
    }
    fn other_table_columns(&self, _table: &str) -> Option<Vec<String>> {
        None
    }
}

/// Any text: no slot parser panics; what one accepts renders to text it accepts again,
/// identically.
#[test]
fn slot_parsers_never_panic_and_renderings_are_stable() {
    run("slot parsers on arbitrary text", sqlish(), |text| {
        for f in SLOTS {
            if let Ok(fragment) = f(&text) {
                let again = f(fragment.sql())
                    .map_err(|e| TestCaseError::fail(format!("{:?}: {e}", fragment.sql())))?;
                prop_assert_eq!(again.sql(), fragment.sql());
            }
        }
        for slot in EXPRESSION_SLOTS {
            if let Ok(expr) = parse_expression_in(slot, &text) {
                let sql = expr.sql();
                let again = parse_expression_in(slot, &sql)
                    .map_err(|e| TestCaseError::fail(format!("{sql:?}: {e}")))?;
                // The same text again, inside the parentheses that make it one operand.
                prop_assert_eq!(again.sql(), format!("({sql})"));
            }
        }
        Ok(())
    });
}

/// Any text: the rewriter never panics, and its output is exactly one expression.
#[test]
fn the_rewriter_never_panics_and_outputs_one_expression() {
    run("expression rewriter on arbitrary text", sqlish(), |text| {
        if let Ok(expr) = parse_expression(&text) {
            if let Ok(out) = expr.rewrite(&Trigger) {
                let parsed = pg_query::parse(&format!("SELECT {out}"), 0)
                    .map_err(|e| TestCaseError::fail(format!("{out:?}: {e}")))?;
                prop_assert_eq!(parsed.protobuf.stmts.len(), 1);
                prop_assert!(parse_expression(&out).is_ok());
            }
        }
        Ok(())
    });
}

/// Valid expressions are accepted in the slots that allow them, rewritten to one
/// expression; with a hostile suffix, refused everywhere.
#[test]
fn valid_expressions_pass_and_hostile_suffixes_never_do() {
    run(
        "expressions with hostile suffixes",
        (expression(), hostile_suffix()),
        |(expr, suffix)| {
            for slot in [
                ExpressionSlot::Check,
                ExpressionSlot::Up,
                ExpressionSlot::IndexPredicate,
            ] {
                let parsed = parse_expression_in(slot, &expr)
                    .map_err(|e| TestCaseError::fail(format!("{expr:?}: {e}")))?;
                let out = parsed
                    .rewrite(&Trigger)
                    .map_err(|e| TestCaseError::fail(format!("{expr:?}: {e}")))?;
                prop_assert!(parse_expression(&out).is_ok());
            }
            let hostile = format!("{expr}{suffix}");
            for slot in EXPRESSION_SLOTS {
                prop_assert!(
                    parse_expression_in(slot, &hostile).is_err(),
                    "{:?} accepted {:?}",
                    slot,
                    hostile
                );
            }
            Ok(())
        },
    );
}

/// Valid type names are accepted as themselves; with a hostile suffix, refused; and no
/// list slot accepts a valid item followed by a hostile suffix.
#[test]
fn valid_fragments_pass_and_hostile_suffixes_never_do() {
    run(
        "slot fragments with hostile suffixes",
        (type_name(), hostile_suffix()),
        |(ty, suffix)| {
            let t =
                parse_type_name(&ty).map_err(|e| TestCaseError::fail(format!("{ty:?}: {e}")))?;
            prop_assert_eq!(t.sql(), ty.as_str());
            for (f, valid) in SLOTS.iter().zip([
                ty.as_str(),
                "fillfactor = 70",
                "siglen = 32",
                "START WITH 1",
                "c WITH &&",
            ]) {
                prop_assert!(f(valid).is_ok());
                let hostile = format!("{valid}{suffix}");
                prop_assert!(f(&hostile).is_err(), "accepted {:?}", hostile);
            }
            Ok(())
        },
    );
}
