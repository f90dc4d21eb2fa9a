//! Every field of the migration format that ends up in SQL, mapped to how it must be parsed
//! before use: an identifier (quoted), a keyword (checked against a list), a literal (quoted),
//! the `sql` operation's own statements, or a tandem-sql slot parser.
//!
//! A migration that sets every field of every operation is read, serialized back, and every
//! string in it is looked up in the map by its path: a string field the map does not know
//! fails this test, so a new field gets a decision before it can reach SQL. Each slot's entry
//! is also run: the fixture's real value is accepted by the slot parser, a hostile value is
//! refused.

use tandem_core::migration::Migration;

#[path = "../../tandem-testkit/src/sql_fields.rs"]
mod sql_fields_map;
use sql_fields_map::{check, strings, EVERYTHING, FIELDS};

#[test]
fn every_string_field_has_a_parsing_decision_and_every_slot_field_parses() {
    let m = Migration::parse("everything", "everything.yaml", EVERYTHING, false)
        .unwrap_or_else(|e| panic!("{e}"));
    let value = serde_json::to_value(&m).unwrap();
    let mut found = Vec::new();
    strings(&value, "", &mut found);
    let mut seen = std::collections::BTreeSet::new();
    for (path, text) in &found {
        if path == "name" {
            continue; // the migration's own name, from its file name
        }
        let Some((_, use_)) = FIELDS.iter().find(|(p, _)| p == path) else {
            panic!("field `{path}` (value {text:?}) has no parsing decision: add it to FIELDS");
        };
        seen.insert(path.as_str());
        if let Some(result) = check(*use_, text) {
            result.unwrap_or_else(|e| panic!("`{path}`: {text:?} refused: {e}"));
            let hostile = format!("{text}; COMMIT; DROP TABLE victim; --");
            let refused = check(*use_, &hostile).is_some_and(|r| r.is_err());
            assert!(refused, "`{path}`: {hostile:?} accepted");
        }
    }
    // The fixture sets every field of the map, so the map cannot go stale.
    let missing: Vec<&str> = FIELDS
        .iter()
        .map(|(p, _)| *p)
        .filter(|p| !seen.contains(p))
        .collect();
    assert!(
        missing.is_empty(),
        "fields of the map not in the fixture: {missing:?}"
    );
}

#[test]
fn every_sql_field_of_pgrolls_examples_is_accepted_by_its_slot() {
    let here = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = [
        here.join("../../../shared/compat/pgroll-examples"),
        here.join("../../shared/compat/pgroll-examples"),
    ]
    .into_iter()
    .find(|d| d.is_dir())
    .expect("pgroll examples beside the repository (../shared/compat/pgroll-examples)");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let m = Migration::from_file(&path).unwrap_or_else(|e| panic!("{e}"));
        let mut found = Vec::new();
        strings(&serde_json::to_value(&m).unwrap(), "", &mut found);
        for (field, text) in found.iter().filter(|(p, _)| p != "name") {
            let Some((_, use_)) = FIELDS.iter().find(|(p, _)| p == field) else {
                panic!(
                    "{}: field `{field}` has no parsing decision",
                    path.display()
                );
            };
            if let Some(result) = check(*use_, text) {
                result.unwrap_or_else(|e| panic!("{}: `{field}`: {text:?}: {e}", path.display()));
                checked += 1;
            }
        }
    }
    // Types, defaults, checks, up/down, predicates, storage parameters, exclusion elements.
    assert!(checked >= 100, "only {checked} fragments checked");
    eprintln!("{checked} SQL fragments of pgroll's examples accepted by their slots");
}
