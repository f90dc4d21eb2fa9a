//! Every rule of the registry against its own documented examples, through the engine: the
//! bad example fires it, the good one is quiet, and ids are unique kebab-case.

use std::collections::HashSet;
use tandem_lint::config::DEFAULT_PG_VERSION;
use tandem_lint::engine::Linter;
use tandem_lint::parse::parse;
use tandem_lint::rules::REGISTRY;
use tandem_lint::source::Placement;
use tandem_lint::Rule;

fn fired(rule: &'static Rule, sql: &str) -> Vec<String> {
    let mut linter = Linter::with_rules(vec![rule], DEFAULT_PG_VERSION);
    linter
        .lint("example.sql", sql, Placement::Whole)
        .into_iter()
        .map(|f| f.rule)
        .collect()
}

#[test]
fn every_bad_example_fires_its_rule() {
    for rule in REGISTRY {
        assert!(
            fired(rule, rule.bad).iter().any(|r| r == rule.id),
            "{}: bad example did not fire",
            rule.id
        );
    }
}

#[test]
fn every_good_example_is_quiet() {
    for rule in REGISTRY {
        let got = fired(rule, rule.good);
        assert!(got.is_empty(), "{}: good example fired {got:?}", rule.id);
    }
}

#[test]
fn ids_are_unique_kebab_case_and_examples_parse() {
    let mut seen = HashSet::new();
    for rule in REGISTRY {
        assert!(seen.insert(rule.id), "duplicate id {}", rule.id);
        assert!(rule.id.chars().all(|c| c.is_ascii_lowercase() || c == '-'));
        for sql in [rule.bad, rule.good] {
            assert!(parse(sql).is_ok(), "{}: {sql}", rule.id);
        }
    }
}
