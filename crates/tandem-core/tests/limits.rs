//! Size and nesting limits of migration files: refused before YAML or JSON parsing, with the
//! file and line; real migrations (pgroll's examples, in YAML and as JSON) are unaffected.

use std::path::PathBuf;

use tandem_core::migration::{Migration, MAX_DOCUMENT_BYTES, MAX_NESTING_DEPTH};

fn parse(text: &str, json: bool) -> Result<Migration, tandem_core::migration::ParseError> {
    Migration::parse("m", "migrations/m.yaml", text, json)
}

fn assert_too_deep(text: &str, json: bool, line: usize) {
    let e = parse(text, json).expect_err("a too deep document was accepted");
    assert!(
        e.message
            .contains(&format!("deeper than {MAX_NESTING_DEPTH} levels")),
        "{e}"
    );
    assert_eq!(e.file, "migrations/m.yaml");
    assert_eq!(e.line, Some(line), "{e}");
    assert!(e
        .to_string()
        .starts_with(&format!("migrations/m.yaml:{line}:")));
}

#[test]
fn a_hundred_thousand_levels_are_refused_by_the_depth_check_in_yaml_and_json() {
    // The document: 100,000 levels in 200 KB. The message is the depth check's, so
    // libyaml (a minute of CPU on this input) never saw it.
    let brackets = "[".repeat(100_000) + &"]".repeat(100_000);
    assert_eq!(brackets.len(), 200_000);
    assert_too_deep(&format!("operations: {brackets}"), false, 1);
    assert_too_deep(&brackets, false, 1);
    assert_too_deep(&brackets, true, 1);
    let braces = "{\"a\": ".repeat(50_000) + "1" + &"}".repeat(50_000);
    assert_too_deep(&braces, true, 1);
    assert_too_deep(&format!("operations:\n  - {}", braces), false, 2);
    // Block nesting: `- - - ...` on one line, and a flow sequence opened on every line.
    assert_too_deep(&"- ".repeat(100_000), false, 1);
    assert_too_deep(&"? ".repeat(100_000), false, 1);
    assert_too_deep(&"[\n".repeat(100_000), false, MAX_NESTING_DEPTH);
    // Indentation: a mapping nested one space deeper per line.
    let mut indented = String::new();
    for i in 0..200 {
        indented.push_str(&" ".repeat(i));
        indented.push_str("a:\n");
    }
    assert_too_deep(&indented, false, MAX_NESTING_DEPTH + 1);
}

#[test]
fn text_that_looks_like_a_string_or_a_block_scalar_does_not_hide_nesting() {
    let deep = "[".repeat(1000) + &"]".repeat(1000);
    // A quote inside a multi-line plain scalar is text; what follows is YAML.
    assert_too_deep(&format!("key: plain\n  'x\nother: {deep}\n"), false, 3);
    // A quoted key followed by `:` without a space (JSON-like), in block and flow context.
    assert_too_deep(&format!("\"a\":{deep}\n"), false, 1);
    assert_too_deep(&format!("{{\"a\":{deep}}}"), true, 1);
    // A plain key followed by `:` and a quote is not a quoted value in flow context.
    assert_too_deep(&format!("{{a:'{deep}'}}"), false, 1);
    // Closing brackets inside a string do not close anything.
    assert_too_deep(&format!("[\"{}\", {deep}]", "]".repeat(1000)), true, 1);
    // A block scalar ends at the first line indented less than its first text line.
    assert_too_deep(&format!("key: |\n    text\n  x: {deep}\n"), false, 3);
    assert_too_deep(&format!("key: |\n    text\nother: {deep}\n"), false, 3);
    // An unterminated quote in block context does not swallow the next lines.
    assert_too_deep(&format!("key: 'open\nother: {deep}\n"), false, 2);
    // Comments: `#` only after a space.
    assert_too_deep(&format!("key: a#b {deep}\nk: {deep}"), false, 2);
}

#[test]
fn nesting_within_the_limit_parses_as_before() {
    // 60 levels of flow nesting in a value the model ignores nowhere: the parser itself
    // rejects the shape, proving the document reached it.
    let deep = "[".repeat(MAX_NESTING_DEPTH - 2) + &"]".repeat(MAX_NESTING_DEPTH - 2);
    let e = parse(&format!("operations: {deep}"), false).unwrap_err();
    assert!(!e.message.contains("deeper than"), "{e}");
    // Brackets inside strings, block scalars and comments are text, not nesting.
    let sql = "(".repeat(500) + &")".repeat(500);
    let brackets = "[".repeat(500);
    let text = format!(
        "# {brackets}\noperations:\n  - sql:\n      up: |\n        SELECT {sql} AS \"{brackets}\"\n        -- {brackets}\n      down: 'SELECT ''{brackets}'''\n"
    );
    let m = parse(&text, false).unwrap();
    assert_eq!(m.operations.len(), 1);
    let json = format!(
        "{{\"operations\": [{{\"sql\": {{\"up\": \"SELECT '{brackets}{{{{' -- \\\"[[[\", \"down\": \"#[\"}}}}]}}"
    );
    parse(&json, true).unwrap();
    let flow = format!("operations: [{{sql: {{up: \"SELECT '{brackets}'\", down: '[[['}}}}]");
    parse(&flow, false).unwrap();
    // Quoted scalars over several lines, in block and in flow context.
    let multiline = format!(
        "operations:\n  - sql:\n      up: 'SELECT 1,\n        {sql}'\n      down: \"SELECT\n        '{brackets}'\"\n"
    );
    let m = parse(&multiline, false).unwrap();
    assert_eq!(m.operations.len(), 1);
    let flow_multiline = format!("operations: [{{sql: {{up: \"SELECT\n  '{brackets}'\"}}}}]\n");
    parse(&flow_multiline, false).unwrap();
}

#[test]
fn documents_larger_than_the_limit_are_refused_before_parsing() {
    let pad = " ".repeat(MAX_DOCUMENT_BYTES);
    let text = format!("operations:\n  - sql:\n      up: SELECT 1\n{pad}");
    let e = parse(&text, false).unwrap_err();
    assert!(e.message.contains("at most 4194304 bytes"), "{e}");
    assert!(e.help.contains("split"), "{e:?}");

    let dir = std::env::temp_dir().join(format!("tandem-limits-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("01_big.yaml");
    std::fs::write(&path, &text).unwrap();
    let e = Migration::from_file(&path).unwrap_err();
    assert!(e.message.contains("at most"), "{e}");
    assert!(e.to_string().starts_with(&path.display().to_string()));
    std::fs::remove_dir_all(&dir).unwrap();

    // Exactly at the limit is fine.
    let body = "operations:\n  - sql:\n      up: SELECT 1\n";
    let at_limit = format!("{body}{}", " ".repeat(MAX_DOCUMENT_BYTES - body.len()));
    assert_eq!(at_limit.len(), MAX_DOCUMENT_BYTES);
    parse(&at_limit, false).unwrap();
}

fn pgroll_examples() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    for dir in [
        here.join("../../../shared/compat/pgroll-examples"),
        here.join("../../shared/compat/pgroll-examples"),
    ] {
        if dir.is_dir() {
            return dir;
        }
    }
    panic!("pgroll examples not found beside the repository (expected ../shared/compat/pgroll-examples)");
}

#[test]
fn every_pgroll_example_passes_the_limits_in_yaml_and_in_json() {
    let mut checked = 0;
    let mut files: Vec<PathBuf> = std::fs::read_dir(pgroll_examples())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    for path in files {
        let m = Migration::from_file(&path).unwrap_or_else(|e| panic!("{e}"));
        let json = serde_json::to_string_pretty(&m).unwrap();
        let again =
            Migration::parse(&m.name, "x.json", &json, true).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again.operations, m.operations);
        let compact = serde_json::to_string(&m).unwrap();
        Migration::parse(&m.name, "x.json", &compact, true).unwrap();
        checked += 1;
    }
    assert!(checked >= 50, "only {checked} examples");
}
