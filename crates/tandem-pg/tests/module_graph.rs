//! The modules of tandem-pg depend on each other one way: no module reaches (directly or
//! through others) a module that reaches it back. Read from the source: every `crate::<module>`
//! path, in `use` lines and inline.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module → the modules its source names through `crate::`.
fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph = BTreeMap::new();
    for entry in std::fs::read_dir(src).unwrap() {
        let path = entry.unwrap().path();
        let Some(module) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if path.extension().is_none_or(|e| e != "rs") || module == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let used: BTreeSet<String> = text
            .match_indices("crate::")
            .map(|(at, _)| {
                text[at + "crate::".len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect::<String>()
            })
            .filter(|m| !m.is_empty() && m != module)
            .collect();
        graph.insert(module.to_string(), used);
    }
    graph
}

/// A cycle through `from`, if any, as the list of modules along it.
fn cycle_from(
    graph: &BTreeMap<String, BTreeSet<String>>,
    from: &str,
    path: &mut Vec<String>,
) -> Option<Vec<String>> {
    if let Some(at) = path.iter().position(|m| m == from) {
        let mut cycle = path[at..].to_vec();
        cycle.push(from.to_string());
        return Some(cycle);
    }
    path.push(from.to_string());
    for next in graph.get(from).into_iter().flatten() {
        if let Some(cycle) = cycle_from(graph, next, path) {
            return Some(cycle);
        }
    }
    path.pop();
    None
}

#[test]
fn no_module_imports_a_module_that_imports_it_back() {
    let graph = module_graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(graph.contains_key("executor") && graph.contains_key("backfill"));
    assert!(
        graph["executor"].contains("backfill"),
        "the graph is read: executor runs the backfill"
    );
    for module in graph.keys() {
        if let Some(cycle) = cycle_from(&graph, module, &mut Vec::new()) {
            panic!("modules import each other: {}", cycle.join(" → "));
        }
    }
}

#[test]
fn a_cycle_is_found_when_there_is_one() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec![]),
    ]
    .into_iter()
    .map(|(m, uses)| (m.to_string(), uses.into_iter().map(String::from).collect()))
    .collect();
    assert_eq!(
        cycle_from(&graph, "a", &mut Vec::new()),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    assert_eq!(cycle_from(&graph, "d", &mut Vec::new()), None);
}
