//! Realistic migrations in the styles of Rails, Django, Prisma, knex, Flyway, sqlx, diesel,
//! Alembic and tandem, linted together in path order; the findings are recorded in
//! `corpus/expected.json` (regenerate with `TANDEM_BLESS=1`).

use std::path::{Path, PathBuf};
use tandem_lint::cli::lint_files;
use tandem_lint::config::LintConfig;
use tandem_lint::input;

#[test]
fn corpus_findings_match_expected() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let files: Vec<PathBuf> = input::collect(std::slice::from_ref(&root))
        .unwrap()
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n != "expected.json"))
        .collect();
    assert!(files.len() >= 10, "corpus has {} files", files.len());
    let (mut findings, _, errors) = lint_files(&files, &[], &LintConfig::default(), None);
    assert!(errors.is_empty(), "{errors:?}");
    let prefix = format!("{}/", root.display());
    for f in &mut findings {
        f.file = f.file.trim_start_matches(&prefix).to_string();
    }
    let got = serde_json::to_string_pretty(&findings).unwrap() + "\n";
    let expected_path = root.join("expected.json");
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
