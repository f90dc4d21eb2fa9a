//! Rails migrations written in Ruby: the SQL they run through `execute` (heredocs and string
//! literals) in `up` and `change`, kept at its place in the file; everything else, `down`
//! included, is blanked. Rails' own DSL (`add_column`, `add_index`, ...) is not SQL and is not
//! read: lint the SQL Rails logs for it, or `structure.sql`.

use std::path::Path;

/// A Ruby file in a `db/migrate` folder.
pub fn is_rails_migration(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "rb")
        && path.parent().is_some_and(|p| p.ends_with("db/migrate"))
}

/// The file's text with only the SQL of `execute` calls in `up`/`change` kept (each ended by
/// a `;` where its string ends); same length, same lines.
pub fn sql_of(text: &str) -> String {
    let mut out: Vec<u8> = text
        .bytes()
        .map(|b| if b == b'\n' { b'\n' } else { b' ' })
        .collect();
    let mut in_up = true;
    let mut heredoc: Option<String> = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        if let Some(end) = &heredoc {
            if trimmed == end {
                // The terminator's place ends the statement.
                let at = offset + line.find(end.as_str()).unwrap_or(0);
                out[at] = b';';
                heredoc = None;
            } else if in_up {
                keep(&mut out, text, offset, offset + line.len());
            }
            offset += line.len();
            continue;
        }
        if let Some(name) = trimmed.strip_prefix("def ") {
            let name = name
                .split(|c: char| !c.is_alphanumeric() && c != '_')
                .next();
            in_up = !matches!(name, Some("down"));
        }
        if let Some(pos) = line.find("execute") {
            let rest = &line[pos + "execute".len()..];
            if let Some(h) = rest.find("<<") {
                let tag: String = rest[h + 2..]
                    .trim_start_matches(['~', '-'])
                    .trim_start_matches(['\'', '"'])
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !tag.is_empty() {
                    heredoc = Some(tag);
                }
            } else if let Some(q) = rest.find(['"', '\'']) {
                let quote = rest.as_bytes()[q];
                let start = pos + "execute".len() + q + 1;
                if let Some(len) = line[start..].find(quote as char) {
                    if in_up {
                        keep(&mut out, text, offset + start, offset + start + len);
                        out[offset + start + len] = b';';
                    }
                }
            }
        }
        offset += line.len();
    }
    blank_interpolations(&mut out);
    String::from_utf8(out).unwrap_or_default()
}

fn keep(out: &mut [u8], text: &str, from: usize, to: usize) {
    out[from..to].copy_from_slice(&text.as_bytes()[from..to]);
}

/// Ruby's `#{...}` in the SQL: an identifier of the same width, so the rest still parses.
fn blank_interpolations(out: &mut [u8]) {
    let mut i = 0;
    while i + 1 < out.len() {
        if out[i] == b'#' && out[i + 1] == b'{' {
            let mut j = i;
            while j < out.len() && out[j] != b'}' && out[j] != b'\n' {
                out[j] = b'x';
                j += 1;
            }
            if j < out.len() && out[j] == b'}' {
                out[j] = b'x';
            }
            i = j;
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_sql_of_up_and_change_only() {
        let rb = r#"class AddIndex < ActiveRecord::Migration[7.1]
  def up
    execute <<~SQL
      CREATE INDEX orders_status ON orders (status)
    SQL
    execute "ALTER TABLE orders ADD CONSTRAINT pos CHECK (total > 0)"
  end

  def down
    execute "DROP INDEX orders_status"
  end
end
"#;
        let sql = sql_of(rb);
        assert_eq!(sql.len(), rb.len());
        let stmts = crate::parse::parse(&sql).unwrap();
        let texts: Vec<&str> = stmts.iter().map(|s| s.text(&sql)).collect();
        assert_eq!(
            texts,
            [
                "CREATE INDEX orders_status ON orders (status)",
                "ALTER TABLE orders ADD CONSTRAINT pos CHECK (total > 0)"
            ]
        );
        assert!(!sql.contains("DROP INDEX"));
    }
}
