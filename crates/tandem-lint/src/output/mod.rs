//! Rendering findings: one module per `--format`.

pub mod github;
pub mod human;
pub mod json;
pub mod sarif;
mod sources;

pub use sources::Sources;

use crate::finding::Finding;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
    Sarif,
    Github,
}

pub fn render(format: Format, findings: &[Finding], sources: &Sources) -> String {
    match format {
        Format::Human => human::render(findings, sources),
        Format::Json => json::render(findings),
        Format::Sarif => sarif::render(findings),
        Format::Github => github::render(findings),
    }
}
