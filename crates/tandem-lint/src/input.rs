//! Finding the SQL to lint: `.sql` files, and the `sql` operations of tandem migration files
//! (YAML or JSON), with where each piece of SQL sits in its file.

use crate::source::Placement;
use std::path::{Path, PathBuf};
use tandem_core::Operation;

/// One piece of SQL to lint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlUnit {
    pub sql: String,
    pub placement: Placement,
}

#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: not a tandem migration file: {message}")]
    Migration { path: String, message: String },
    #[error("{path}: no such file or directory")]
    Missing { path: String },
}

pub fn is_migration_file(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    )
}

/// The files to lint under `paths`, in path order (the order migration tools apply them).
/// Folders are searched recursively for `.sql`, `.yaml`, `.yml` and `.json` files.
pub fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>, InputError> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out)?;
        } else if p.is_file() {
            out.push(p.clone());
        } else {
            return Err(InputError::Missing {
                path: p.display().to_string(),
            });
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), InputError> {
    let read_err = |source| InputError::Read {
        path: dir.display().to_string(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(read_err)? {
        let path = entry.map_err(read_err)?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "sql")
            || is_migration_file(&path)
            || crate::rails::is_rails_migration(&path)
        {
            out.push(path);
        }
    }
    Ok(())
}

/// The SQL pieces of one file. `explicit` is whether the user named the file (a YAML file
/// found while searching a folder that is not a migration is skipped silently).
pub fn units(path: &Path, text: &str, explicit: bool) -> Result<Vec<SqlUnit>, InputError> {
    if !is_migration_file(path) {
        return Ok(vec![SqlUnit {
            sql: text.to_string(),
            placement: Placement::Whole,
        }]);
    }
    let name = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("migration");
    let is_json = path.extension().is_some_and(|e| e == "json");
    let migration =
        match tandem_core::Migration::parse(name, &path.display().to_string(), text, is_json) {
            Ok(m) => m,
            // A YAML/JSON file found while searching a folder may be anything (CI config, ...).
            Err(_) if !explicit => return Ok(Vec::new()),
            Err(e) => {
                return Err(InputError::Migration {
                    path: path.display().to_string(),
                    message: e.to_string(),
                })
            }
        };
    let keys = sql_key_lines(text);
    let mut out = Vec::new();
    let raw_sql = migration.operations.iter().filter_map(|op| match op {
        Operation::Sql(raw) => Some(raw),
        _ => None,
    });
    for (sql_index, raw) in raw_sql.enumerate() {
        let lines = keys.get(sql_index);
        for (sql, line) in [
            (Some(&raw.up), lines.and_then(|l| l.up)),
            (raw.down.as_ref(), lines.and_then(|l| l.down)),
        ] {
            let Some(sql) = sql else { continue };
            out.push(SqlUnit {
                sql: sql.clone(),
                placement: line.map_or(Placement::Inline { line: 1, column: 1 }, |l| {
                    placement(text, l)
                }),
            });
        }
    }
    Ok(out)
}

/// 0-based line numbers of the `up:` and `down:` keys of one `sql` operation.
#[derive(Debug, Default, Clone, Copy)]
struct SqlKeys {
    up: Option<usize>,
    down: Option<usize>,
}

fn key_of(line: &str) -> Option<&str> {
    let t = line.trim_start().trim_start_matches("- ").trim_start();
    let t = t.strip_prefix('"').unwrap_or(t);
    let end = t.find([':', '"'])?;
    let key = &t[..end];
    let rest = t[end..].trim_start_matches('"');
    rest.starts_with(':').then_some(key)
}

/// Walks the text for `sql:` keys and the `up:` / `down:` keys that follow each, so that
/// findings point into the migration file. The YAML library does not expose positions.
fn sql_key_lines(text: &str) -> Vec<SqlKeys> {
    let mut out: Vec<SqlKeys> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        match key_of(line) {
            Some("sql") => out.push(SqlKeys::default()),
            Some("up") => {
                if let Some(k) = out.last_mut().filter(|k| k.up.is_none()) {
                    k.up = Some(n);
                }
            }
            Some("down") => {
                if let Some(k) = out.last_mut().filter(|k| k.down.is_none()) {
                    k.down = Some(n);
                }
            }
            _ => {}
        }
    }
    out
}

fn placement(text: &str, key_line: usize) -> Placement {
    let lines: Vec<&str> = text.lines().collect();
    let line = lines.get(key_line).copied().unwrap_or("");
    let colon = line.find(':').map_or(0, |c| c + 1);
    let value = &line[colon..];
    let value_trim = value.trim_start();
    if value_trim.starts_with('|') || value_trim.starts_with('>') {
        let indent = lines
            .iter()
            .skip(key_line + 1)
            .find(|l| !l.trim().is_empty())
            .map_or(0, |l| l.len() - l.trim_start().len());
        return Placement::Block {
            first_line: key_line + 2,
            indent,
        };
    }
    let mut column = line[..colon].chars().count() + (value.len() - value_trim.len()) + 1;
    if value_trim.starts_with(['"', '\'']) {
        column += 1;
    }
    Placement::Inline {
        line: key_line + 1,
        column,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_sql_operations_and_their_lines() {
        let yaml = "operations:\n  - sql:\n      up: CREATE INDEX i ON t (c)\n      down: DROP INDEX i\n  - sql:\n      up: |\n        SELECT 1;\n        DROP TABLE x;\n";
        let u = units(Path::new("m.yaml"), yaml, true).unwrap();
        assert_eq!(u.len(), 3);
        assert_eq!(u[0].sql, "CREATE INDEX i ON t (c)");
        assert_eq!(
            u[0].placement,
            Placement::Inline {
                line: 3,
                column: 11
            }
        );
        assert_eq!(
            u[1].placement,
            Placement::Inline {
                line: 4,
                column: 13
            }
        );
        assert_eq!(
            u[2].placement,
            Placement::Block {
                first_line: 7,
                indent: 8
            }
        );
    }
}
