//! `tandem.toml`'s `[lint]` table.

use crate::rules::REGISTRY;
use serde::Deserialize;
use std::path::Path;

/// The oldest PostgreSQL major tandem supports, the default for `--pg-version`.
pub const DEFAULT_PG_VERSION: u32 = 14;

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LintConfig {
    /// Only these rules (all when empty).
    #[serde(default)]
    pub enable: Vec<String>,
    /// Rules turned off.
    #[serde(default)]
    pub disable: Vec<String>,
    pub pg_version: Option<u32>,
    /// Treat every file as one transaction, as most migration tools run them.
    #[serde(default)]
    pub assume_in_transaction: bool,
    /// The session time zone the migrations run with (`timestamp` to `timestamptz` is
    /// catalog-only under UTC); a `SET TIME ZONE` in a file overrides it.
    pub time_zone: Option<String>,
    /// With `--url`: a finding on a table with fewer rows is a note, not an error.
    pub small_table_rows: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
struct File {
    #[serde(default)]
    lint: LintConfig,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

impl LintConfig {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let display = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: display.clone(),
            source,
        })?;
        Self::parse(&text).map_err(|message| ConfigError::Invalid {
            path: display,
            message,
        })
    }

    /// Parses the text of a `tandem.toml` (other tables than `[lint]` belong to others).
    pub fn parse(text: &str) -> Result<Self, String> {
        let table: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
        let lint = match table.get("lint") {
            Some(v) => v
                .clone()
                .try_into::<LintConfig>()
                .map_err(|e| format!("[lint]: {e}"))?,
            None => File::default().lint,
        };
        lint.check_rule_ids()?;
        Ok(lint)
    }

    fn check_rule_ids(&self) -> Result<(), String> {
        for id in self.enable.iter().chain(&self.disable) {
            if !REGISTRY.iter().any(|r| r.id == id) {
                return Err(format!(
                    "[lint]: unknown rule `{id}`; `tandem lint --list-rules` shows the rule ids"
                ));
            }
        }
        Ok(())
    }

    pub fn is_enabled(&self, id: &str) -> bool {
        (self.enable.is_empty() || self.enable.iter().any(|e| e == id))
            && !self.disable.iter().any(|d| d == id)
    }
}
