//! `docs/lint/` is generated from the rule declarations and must stay in sync
//! (regenerate with `TANDEM_BLESS=1 cargo test -p tandem-lint --test docs`).

use std::path::Path;

#[test]
fn docs_are_up_to_date() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/lint");
    let bless = std::env::var_os("TANDEM_BLESS").is_some();
    if bless {
        std::fs::create_dir_all(&dir).unwrap();
    }
    let mut stale = Vec::new();
    for (name, content) in tandem_lint::docs::all_pages() {
        let path = dir.join(&name);
        if bless {
            std::fs::write(&path, &content).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(content.as_str()) {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "docs/lint out of date: {stale:?}; run TANDEM_BLESS=1 cargo test -p tandem-lint --test docs"
    );
}
