//! Property tests (bounded fuzzing) of the migration parser: arbitrary bytes, arbitrary
//! YAML/JSON documents, migration-shaped documents with hostile field values, deep nesting,
//! and mutations of pgroll's real examples. The parser never panics, a document it accepts
//! survives a JSON round trip unchanged, and nesting beyond the limit is always refused by
//! the depth check (never handed to libyaml).
//!
//! The number of cases per property is `TANDEM_FUZZ_CASES` (default 256).

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use serde_json::{json, Map, Value};
use tandem_core::migration::{Migration, MAX_NESTING_DEPTH};

fn cases() -> u32 {
    std::env::var("TANDEM_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

/// Runs `test` on `cases()` inputs of `strategy`, checks they all ran, reports the count.
fn run<S: Strategy>(name: &str, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    let inputs = AtomicUsize::new(0);
    let mut runner = TestRunner::new(ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    });
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

/// Parses as YAML and as JSON; whatever is accepted must survive a JSON round trip.
fn parse_both(text: &str) -> Result<(), TestCaseError> {
    for json in [false, true] {
        if let Ok(m) = Migration::parse("m", "m.yaml", text, json) {
            let canonical = serde_json::to_string(&m)
                .map_err(|e| TestCaseError::fail(format!("serializing {m:?}: {e}")))?;
            let again = Migration::parse("m", "m.json", &canonical, true)
                .map_err(|e| TestCaseError::fail(format!("{canonical}: {e}")))?;
            prop_assert_eq!(&again.operations, &m.operations);
            prop_assert_eq!(again.checksum(), m.checksum());
        }
    }
    Ok(())
}

/// Text from YAML's and JSON's special characters and the format's own words.
fn yamlish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("operations"),
        Just(":"),
        Just(": "),
        Just("- "),
        Just("? "),
        Just("\n"),
        Just("  "),
        Just("\t"),
        Just("["),
        Just("]"),
        Just("{"),
        Just("}"),
        Just(","),
        Just("'"),
        Just("\""),
        Just("\\"),
        Just("#"),
        Just("|"),
        Just(">-"),
        Just("&a "),
        Just("*a"),
        Just("!!str "),
        Just("---\n"),
        Just("..."),
        Just("%YAML 1.2\n"),
        Just("sql"),
        Just("up"),
        Just("create_table"),
        Just("name"),
        Just("columns"),
        Just("type"),
        Just("int; DROP TABLE victim; --"),
        Just("null"),
        Just("1e400"),
        Just("\u{feff}"),
        Just("\r"),
    ];
    let piece = prop_oneof![
        4 => piece.prop_map(str::to_owned),
        1 => any::<char>().prop_map(|c| c.to_string()),
    ];
    proptest::collection::vec(piece, 0..48).prop_map(|v| v.concat())
}

/// Arbitrary JSON values, a few levels deep.
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::String),
        Just(json!("int; COMMIT; DROP TABLE victim; --")),
    ];
    leaf.prop_recursive(6, 48, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const KINDS: &[&str] = &[
    "create_table",
    "add_column",
    "alter_column",
    "drop_column",
    "rename_column",
    "rename_table",
    "drop_table",
    "sql",
    "create_index",
    "drop_index",
    "create_constraint",
    "drop_constraint",
    "drop_multicolumn_constraint",
    "rename_constraint",
    "set_replica_identity",
];

const FIELDS: &[&str] = &[
    "name",
    "table",
    "column",
    "columns",
    "type",
    "default",
    "nullable",
    "up",
    "down",
    "check",
    "constraint",
    "references",
    "generated",
    "expression",
    "identity",
    "sequence_options",
    "storage_parameters",
    "elements",
    "predicate",
    "exclude",
    "index_method",
    "method",
    "unique",
    "pk",
    "comment",
    "from",
    "to",
    "on_delete",
    "opclass",
    "params",
    "kind",
    "data_type",
    "index_parameters",
    "constraints",
];

/// A migration-shaped document: known operations and field names, hostile or odd values.
fn migration_value() -> impl Strategy<Value = Value> {
    let field_value = prop_oneof![
        3 => prop_oneof![
            Just(json!("int; COMMIT; DROP TABLE victim; --")),
            Just(json!("1) ; DROP TABLE victim; --")),
            Just(json!("users")),
            Just(json!("price")),
            Just(json!("integer")),
            Just(json!("nextval('s')")),
            Just(json!("")),
        ],
        1 => value(),
    ];
    let fields = proptest::collection::btree_map(
        proptest::sample::select(FIELDS).prop_map(str::to_owned),
        field_value,
        0..6,
    );
    let operation = (proptest::sample::select(KINDS), fields).prop_map(|(kind, fields)| {
        let mut op = Map::new();
        op.insert(kind.to_owned(), Value::Object(fields.into_iter().collect()));
        Value::Object(op)
    });
    proptest::collection::vec(operation, 0..4).prop_map(|ops| json!({ "operations": ops }))
}

#[test]
fn arbitrary_text_never_panics() {
    run("migration parser on arbitrary text", yamlish(), |text| {
        parse_both(&text)
    });
    run(
        "migration parser on arbitrary bytes",
        proptest::collection::vec(any::<u8>(), 0..512),
        |bytes| parse_both(&String::from_utf8_lossy(&bytes)),
    );
}

#[test]
fn arbitrary_documents_never_panic_and_yaml_agrees_with_json() {
    run("arbitrary YAML/JSON documents", value(), |v| {
        let json = serde_json::to_string(&v).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let yaml = serde_norway::to_string(&v).map_err(|e| TestCaseError::fail(e.to_string()))?;
        parse_both(&json)?;
        parse_both(&yaml)?;
        Ok(())
    });
    run("migration-shaped documents", migration_value(), |v| {
        let json = serde_json::to_string(&v).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let pretty =
            serde_json::to_string_pretty(&v).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let yaml = serde_norway::to_string(&v).map_err(|e| TestCaseError::fail(e.to_string()))?;
        parse_both(&json)?;
        parse_both(&pretty)?;
        parse_both(&yaml)?;
        // The same document in YAML and in JSON means the same migration, or neither parses.
        let from_json = Migration::parse("m", "m.json", &json, true).ok();
        let from_yaml = Migration::parse("m", "m.yaml", &yaml, false).ok();
        prop_assert_eq!(
            from_json.map(|m| m.operations),
            from_yaml.map(|m| m.operations)
        );
        Ok(())
    });
}

/// One level of nesting in one of YAML's or JSON's ways.
#[derive(Debug, Clone, Copy)]
enum Level {
    FlowSequence,
    FlowMapping,
    BlockSequence,
}

#[test]
fn nesting_beyond_the_limit_is_always_refused_by_the_depth_check() {
    let levels = proptest::collection::vec(
        prop_oneof![
            Just(Level::FlowSequence),
            Just(Level::FlowMapping),
            Just(Level::BlockSequence)
        ],
        0..200,
    );
    run("deeply nested documents", levels, |levels| {
        // Block levels first (`- - - `), then flow levels inside, so the text is valid YAML.
        let mut text = String::from("operations: ");
        let blocks = levels
            .iter()
            .filter(|l| matches!(l, Level::BlockSequence))
            .count();
        if blocks > 0 {
            text = String::from("operations:\n");
            text.push_str(&"- ".repeat(blocks));
        }
        let mut close = String::new();
        for level in &levels {
            match level {
                Level::FlowSequence => {
                    text.push('[');
                    close.insert(0, ']');
                }
                Level::FlowMapping => {
                    text.push_str("{a: ");
                    close.insert(0, '}');
                }
                Level::BlockSequence => {}
            }
        }
        text.push('1');
        text.push_str(&close);
        let result = Migration::parse("m", "m.yaml", &text, false);
        let refused_for_depth = matches!(&result, Err(e) if e.message.contains("deeper than"));
        // The document's real depth: the root mapping, then every level.
        let depth = 1 + levels.len();
        if depth > MAX_NESTING_DEPTH {
            prop_assert!(refused_for_depth, "depth {depth} accepted: {result:?}");
        }
        if depth + 2 < MAX_NESTING_DEPTH {
            prop_assert!(!refused_for_depth, "depth {depth} refused: {result:?}");
        }
        Ok(())
    });
}

fn pgroll_examples() -> Vec<String> {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = [
        here.join("../../../shared/compat/pgroll-examples"),
        here.join("../../shared/compat/pgroll-examples"),
    ]
    .into_iter()
    .find(|d| d.is_dir())
    .expect("pgroll examples beside the repository (../shared/compat/pgroll-examples)");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect()
}

#[test]
fn mutations_of_real_migrations_never_panic() {
    let examples = pgroll_examples();
    assert!(examples.len() >= 50);
    let edit = (
        any::<proptest::sample::Index>(),
        0..4usize,
        proptest::sample::select(vec![
            "", "[", "{", "'", "\"", "- ", ": ", "\n", "  ", "#", "|", "&x ", "*x", ";", "--",
        ]),
    );
    let strategy = (
        any::<proptest::sample::Index>(),
        proptest::collection::vec(edit, 1..6),
    );
    run("mutated pgroll examples", strategy, |(which, edits)| {
        let mut text = which.get(&examples).clone();
        for (at, delete, insert) in edits {
            let mut pos = at.index(text.len() + 1);
            while !text.is_char_boundary(pos) {
                pos -= 1;
            }
            let mut end = (pos + delete).min(text.len());
            while !text.is_char_boundary(end) {
                end += 1;
            }
            text.replace_range(pos..end, insert);
        }
        parse_both(&text)
    });
}

/// A YAML node as text, with its real nesting depth built in: block and flow collections,
/// and scalars full of brackets, quotes and `#` (quoted, block scalars, plain).
#[derive(Debug, Clone)]
enum Node {
    Plain,
    Single,
    Double,
    Literal,
    FlowSeq(Vec<Node>),
    FlowMap(Vec<Node>),
    BlockSeq(Vec<Node>),
    BlockMap(Vec<Node>),
}

impl Node {
    fn depth(&self) -> usize {
        match self {
            Node::FlowSeq(v) | Node::FlowMap(v) | Node::BlockSeq(v) | Node::BlockMap(v) => {
                1 + v.iter().map(Node::depth).max().unwrap_or(0)
            }
            _ => 0,
        }
    }

    /// Flow-context text (block nodes are written in flow style there).
    fn flow(&self, out: &mut String) {
        match self {
            Node::Plain | Node::Literal => out.push_str("word"),
            Node::Single => out.push_str("'it''s [[{ # ]]'"),
            Node::Double => out.push_str("\"q \\\" [[{ # ]] '\""),
            Node::FlowSeq(v) | Node::BlockSeq(v) => {
                out.push('[');
                for (i, n) in v.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    n.flow(out);
                }
                out.push(']');
            }
            Node::FlowMap(v) | Node::BlockMap(v) => {
                out.push('{');
                for (i, n) in v.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(&format!("\"k{i}\": "));
                    n.flow(out);
                }
                out.push('}');
            }
        }
    }

    /// Block-context text of a node that follows `key:` or `-` at `indent`.
    fn block(&self, indent: usize, out: &mut String) {
        let pad = " ".repeat(indent + 2);
        match self {
            Node::Literal => {
                out.push_str(" |\n");
                out.push_str(&format!("{pad}text [[[ {{{{ ' \" #\n{pad}  more ]]] -\n"));
            }
            Node::BlockSeq(v) if !v.is_empty() => {
                out.push('\n');
                for n in v {
                    out.push_str(&format!("{pad}-"));
                    n.block(indent + 2, out);
                }
            }
            Node::BlockMap(v) if !v.is_empty() => {
                out.push('\n');
                for (i, n) in v.iter().enumerate() {
                    out.push_str(&format!("{pad}k{i}: # comment [[[\n{pad}  "));
                    // The value on its own line, more indented: written as a nested node.
                    let mut inner = String::new();
                    n.block(indent + 2, &mut inner);
                    out.push_str(inner.trim_start_matches(' '));
                    if !out.ends_with('\n') {
                        out.push('\n');
                    }
                }
            }
            other => {
                out.push(' ');
                other.flow(out);
                out.push('\n');
            }
        }
    }
}

fn leaf() -> impl Strategy<Value = Node> {
    prop_oneof![
        Just(Node::Plain),
        Just(Node::Single),
        Just(Node::Double),
        Just(Node::Literal),
    ]
}

/// Bushy trees, and chains up to 100 levels deep (each level of a random kind, with a
/// sibling scalar now and then), to cross the limit in every mix of styles.
fn node() -> impl Strategy<Value = Node> {
    let bushy = leaf().prop_recursive(12, 200, 3, |inner| {
        let items = proptest::collection::vec(inner, 1..3);
        prop_oneof![
            items.clone().prop_map(Node::FlowSeq),
            items.clone().prop_map(Node::FlowMap),
            items.clone().prop_map(Node::BlockSeq),
            items.prop_map(Node::BlockMap),
        ]
    });
    let level = (0..4u8, proptest::option::of(leaf()));
    let chain = (proptest::collection::vec(level, 0..100), leaf()).prop_map(|(levels, end)| {
        levels.into_iter().fold(end, |inner, (kind, sibling)| {
            let mut items = vec![inner];
            items.extend(sibling);
            match kind {
                0 => Node::FlowSeq(items),
                1 => Node::FlowMap(items),
                2 => Node::BlockSeq(items),
                _ => Node::BlockMap(items),
            }
        })
    });
    prop_oneof![bushy, chain]
}

#[test]
fn the_depth_check_never_undercounts_what_libyaml_reads() {
    let read = AtomicUsize::new(0);
    let over = AtomicUsize::new(0);
    run("generated YAML against libyaml's nesting", node(), |n| {
        let mut text = String::from("operations:");
        n.block(0, &mut text);
        // What libyaml reads: a mapping holding the node.
        let real: Result<serde_norway::Value, _> = serde_norway::from_str(&text);
        let Ok(real) = real else {
            return Ok(()); // deeper than serde's own limit, or a generator corner
        };
        fn depth(v: &serde_norway::Value) -> usize {
            match v {
                serde_norway::Value::Sequence(s) => 1 + s.iter().map(depth).max().unwrap_or(0),
                serde_norway::Value::Mapping(m) => 1 + m.values().map(depth).max().unwrap_or(0),
                serde_norway::Value::Tagged(t) => depth(&t.value),
                _ => 0,
            }
        }
        let real_depth = depth(&real);
        prop_assert!(real_depth >= n.depth(), "{text}");
        read.fetch_add(1, Ordering::Relaxed);
        if real_depth > MAX_NESTING_DEPTH {
            over.fetch_add(1, Ordering::Relaxed);
        }
        let result = Migration::parse("m", "m.yaml", &text, false);
        let refused = matches!(&result, Err(e) if e.message.contains("deeper than"));
        if real_depth > MAX_NESTING_DEPTH {
            prop_assert!(refused, "depth {real_depth} not refused:\n{text}");
        }
        if real_depth * 2 < MAX_NESTING_DEPTH {
            prop_assert!(!refused, "depth {real_depth} refused:\n{text}");
        }
        Ok(())
    });
    // The generator must exercise both sides of the limit on documents libyaml reads.
    let (read, over) = (read.into_inner(), over.into_inner());
    eprintln!("  of which libyaml read {read}, {over} deeper than the limit");
    assert!(
        read * 2 > cases() as usize && over > 0,
        "read {read}, over {over}"
    );
}
