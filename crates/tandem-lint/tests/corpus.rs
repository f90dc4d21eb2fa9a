//! Realistic migrations in the styles of Rails, Django, Prisma, knex, Flyway, sqlx, diesel,
//! Alembic and tandem, linted together in path order; the findings are recorded in
//! `corpus.expected.json` (regenerate with `TANDEM_BLESS=1`).

use std::path::Path;
use tandem_lint::config::LintConfig;
use tandem_lint::facts::Facts;

#[test]
fn corpus_findings_match_expected() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let report = tandem_lint::lint_paths(
        std::slice::from_ref(&root),
        &LintConfig::default(),
        None,
        Facts::default(),
    )
    .unwrap();
    let files: usize = report.sets.iter().map(|s| s.files.len()).sum();
    assert!(files >= 10, "corpus has {files} files");
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    // Every set is recorded with its framework and its files in the order linted.
    let prefix = format!("{}/", root.display());
    let sets: Vec<String> = report
        .sets
        .iter()
        .map(|s| {
            let files: Vec<String> = s
                .files
                .iter()
                .map(|f| {
                    f.display()
                        .to_string()
                        .trim_start_matches(&prefix)
                        .to_string()
                })
                .collect();
            format!("{}: {}", s.framework.name(), files.join(", "))
        })
        .collect();
    let mut findings = report.findings;
    for f in &mut findings {
        f.file = f.file.trim_start_matches(&prefix).to_string();
    }
    let got =
        serde_json::to_string_pretty(&serde_json::json!({ "sets": sets, "findings": findings }))
            .unwrap()
            + "\n";
    let expected_path = root.with_extension("expected.json");
    if std::env::var_os("TANDEM_BLESS").is_some() {
        std::fs::write(&expected_path, &got).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
    assert!(
        got == expected,
        "corpus findings changed; review and rerun with TANDEM_BLESS=1\n{got}"
    );
}
