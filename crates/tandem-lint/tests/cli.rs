//! Linting paths as the command line does (the binary's own tests are in tandem-cli): parse
//! errors, ignore comments, tandem.toml, every output format, migration files, and convert.

use std::path::{Path, PathBuf};
use tandem_lint::config::LintConfig;
use tandem_lint::facts::Facts;
use tandem_lint::lint_paths;
use tandem_lint::output::{render, Format};

fn tmp(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tandem-lint-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (f, text) in files {
        std::fs::write(dir.join(f), text).unwrap();
    }
    dir
}

fn lint(path: &Path, config: &LintConfig) -> Vec<tandem_lint::Finding> {
    lint_paths(&[path.to_path_buf()], config, None, Facts::default())
        .unwrap()
        .findings
}

#[test]
fn a_parse_error_in_one_file_does_not_stop_the_others() {
    let dir = tmp(
        "exit",
        &[
            ("bad.sql", "CREATE INDEX i ON t (c);\n"),
            ("broken.sql", "CREATE INDEX ON;\n"),
        ],
    );
    let report = lint_paths(
        std::slice::from_ref(&dir),
        &LintConfig::default(),
        None,
        Facts::default(),
    )
    .unwrap();
    assert!(report.findings.iter().any(|f| f.rule == "syntax-error"));
    assert!(report
        .findings
        .iter()
        .any(|f| f.rule == "require-concurrent-index-creation"));
    assert!(report.has_input_errors());
    assert!(lint_paths(
        &[dir.join("missing.sql")],
        &LintConfig::default(),
        None,
        Facts::default()
    )
    .is_err());
}

#[test]
fn parse_errors_have_line_and_column() {
    let dir = tmp(
        "parse",
        &[(
            "m.sql",
            "SELECT 1;\n\nALTER TABLE users\n  ADD COLUMN age int DEFALT 0;\n",
        )],
    );
    let f = lint(&dir, &LintConfig::default());
    assert_eq!(f.len(), 1);
    assert_eq!(
        (f[0].rule.as_str(), f[0].line, f[0].column),
        ("syntax-error", 4, 22)
    );
    assert!(f[0].message.contains("DEFALT"), "{}", f[0].message);
}

#[test]
fn ignore_comment_silences_one_rule_on_one_statement() {
    let sql = "SET lock_timeout = '2s';
-- tandem-lint: ignore require-concurrent-index-creation the table has 10 rows
CREATE INDEX a ON t (c);
CREATE INDEX b ON t (c); -- tandem-lint: ignore require-concurrent-index-creation,require-lock-timeout tiny table
CREATE INDEX c ON t (c);
";
    let dir = tmp("ignore", &[("m.sql", sql)]);
    let f = lint(&dir, &LintConfig::default());
    let lines: Vec<usize> = f.iter().map(|f| f.line).collect();
    assert_eq!(lines, [5], "{f:?}");
}

#[test]
fn tandem_toml_enables_and_disables_rules() {
    let dir = tmp(
        "config",
        &[("m.sql", "CREATE TABLE t (id int PRIMARY KEY, data json);\n")],
    );
    let f = lint(&dir, &LintConfig::default());
    assert_eq!(
        f.iter().map(|f| f.rule.as_str()).collect::<Vec<_>>(),
        ["prefer-bigint-keys", "prefer-jsonb"]
    );
    let off = LintConfig::parse("[lint]\ndisable = [\"prefer-jsonb\"]\n").unwrap();
    assert_eq!(lint(&dir, &off).len(), 1);
    let only = LintConfig::parse("[lint]\nenable = [\"prefer-jsonb\"]\n").unwrap();
    assert_eq!(lint(&dir, &only)[0].rule, "prefer-jsonb");
    assert!(LintConfig::parse("[lint]\ndisable = [\"no-such-rule\"]\n")
        .unwrap_err()
        .contains("no-such-rule"));
}

#[test]
fn every_output_format() {
    let dir = tmp("formats", &[("m.sql", "-- c\nCREATE INDEX i ON t (c);\n")]);
    let files = vec![dir.join("m.sql")];
    let report = lint_paths(&files, &LintConfig::default(), None, Facts::default()).unwrap();
    let (f, sources) = (report.findings, report.sources);
    let file = dir.join("m.sql").display().to_string();

    let json: serde_json::Value =
        serde_json::from_str(&render(Format::Json, &f, &sources)).unwrap();
    let first = &json[0];
    for key in [
        "file", "line", "column", "rule", "severity", "message", "help",
    ] {
        assert!(first.get(key).is_some(), "json lacks {key}");
    }
    assert_eq!(first["line"], 2);
    assert_eq!(first["severity"], "error");

    let human = render(Format::Human, &f, &sources);
    assert!(human.contains(&format!("--> {file}:2:1")), "{human}");
    assert!(human.contains("2 | CREATE INDEX i ON t (c);"));
    assert!(human.contains("  | ^^^^^^^^^^^^^^^^^^^^^^^"));
    assert!(human.contains("help: Run instead: CREATE INDEX CONCURRENTLY"));

    let sarif: serde_json::Value =
        serde_json::from_str(&render(Format::Sarif, &f, &sources)).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let result = &sarif["runs"][0]["results"][0];
    assert_eq!(result["ruleId"], "require-concurrent-index-creation");
    assert_eq!(
        result["locations"][0]["physicalLocation"]["region"]["startLine"],
        2
    );

    let gh = render(Format::Github, &f, &sources);
    assert!(
        gh.starts_with(&format!("::error file={file},line=2,col=1,")),
        "{gh}"
    );
    assert!(!gh.trim_end().contains('\n') || gh.lines().all(|l| l.starts_with("::")));
}

#[test]
fn sql_operations_of_migration_files_are_linted_at_their_yaml_lines() {
    let yaml = "operations:\n  - create_table:\n      name: x\n      columns: []\n  - sql:\n      up: CREATE INDEX i ON t (c)\n      down: DROP INDEX i\n";
    let dir = tmp(
        "yaml",
        &[
            ("0001.yaml", yaml),
            ("docker-compose.yml", "services: {}\n"),
        ],
    );
    let f = lint(&dir, &LintConfig::default());
    let got: Vec<(String, usize, usize)> = f
        .iter()
        .map(|f| (f.rule.clone(), f.line, f.column))
        .collect();
    assert!(
        got.contains(&("require-concurrent-index-creation".into(), 6, 11)),
        "{got:?}"
    );
    assert!(
        got.contains(&("require-concurrent-index-deletion".into(), 7, 13)),
        "{got:?}"
    );
}

#[test]
fn convert_writes_safe_operations() {
    let sql = "BEGIN;
SET lock_timeout = '2s';
ALTER TABLE users RENAME COLUMN name TO full_name;
ALTER TABLE accounts RENAME TO customers;
ALTER TABLE orders ALTER COLUMN total TYPE numeric(12,2);
ALTER TABLE users ALTER COLUMN email SET NOT NULL;
CREATE UNIQUE INDEX users_email_idx ON users (email) WHERE deleted_at IS NULL;
CREATE INDEX users_lower_email_idx ON users (lower(email));
ALTER TABLE orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id) ON DELETE CASCADE;
ALTER TABLE orders ADD CONSTRAINT orders_total_check CHECK (total >= 0);
ALTER TABLE users ADD CONSTRAINT users_handle_key UNIQUE (handle);
ALTER TABLE users ADD COLUMN plan text NOT NULL DEFAULT 'free';
ALTER TABLE users DROP COLUMN legacy;
DROP INDEX users_old_idx;
VACUUM FULL users;
COMMIT;
";
    let expected = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/convert/expected.yaml"),
    )
    .unwrap_or_default();
    let got = tandem_lint::convert::convert(sql).unwrap();
    if std::env::var_os("TANDEM_BLESS").is_some() {
        std::fs::create_dir_all(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/convert"))
            .unwrap();
        std::fs::write(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/convert/expected.yaml"),
            &got,
        )
        .unwrap();
    } else {
        assert_eq!(got, expected);
    }
    // The output is valid YAML with the operations in order.
    let doc: serde_norway::Value = serde_norway::from_str(&got).unwrap();
    let ops = doc["operations"].as_sequence().unwrap();
    assert!(ops[0].get("rename_column").is_some());
    assert!(ops[2]["alter_column"]["up"]
        .as_str()
        .unwrap()
        .starts_with("TODO"));
}
