//! `--format json`: an array of findings.

use crate::finding::Finding;

pub fn render(findings: &[Finding]) -> String {
    // Serializing plain strings and numbers cannot fail.
    serde_json::to_string_pretty(findings).unwrap_or_else(|_| "[]".to_string()) + "\n"
}
