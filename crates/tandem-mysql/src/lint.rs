//! Lint rules for MySQL/MariaDB DDL: statements that would copy or lock a table, and DDL run
//! without a short `lock_wait_timeout`, each with the online alternative.
//!
//! Pure text analysis (no server): statements are split on `;` outside quotes and comments and
//! read as words, which is enough for DDL's keyword structure.

/// One problem in a SQL text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The rule's name, e.g. `mysql-table-copy`.
    pub rule: &'static str,
    /// 1-based line of the statement's start.
    pub line: usize,
    pub message: String,
    pub help: String,
}

/// Every rule, with a one-line description (for docs and `--list-rules`).
pub const RULES: &[(&str, &str)] = &[
    ("mysql-table-copy", "an ALTER that rebuilds the table with a copy, locking writes"),
    ("mysql-missing-algorithm", "an ALTER or CREATE INDEX that does not ask for ALGORITHM=INSTANT or INPLACE, LOCK=NONE, so the server may silently copy"),
    ("mysql-lock-wait-timeout", "DDL without a short lock_wait_timeout set before it"),
    ("mysql-lock-tables", "LOCK TABLES / FLUSH TABLES WITH READ LOCK block the application"),
    ("mysql-optimize-table", "OPTIMIZE TABLE rebuilds the table"),
];

/// Lints `sql`; findings in statement order.
pub fn lint(sql: &str) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut timeout_set = false;
    for (line, statement) in statements(sql) {
        let words = words(&statement);
        let upper: Vec<String> = words.iter().map(|w| w.to_ascii_uppercase()).collect();
        let text = upper.join(" ");
        let starts = |prefix: &str| text.starts_with(prefix);
        let mut add = |rule: &'static str, message: String, help: &str| {
            findings.push(Finding {
                rule,
                line,
                message,
                help: help.to_string(),
            })
        };
        if starts("SET") && text.contains("LOCK_WAIT_TIMEOUT") {
            timeout_set = true;
            continue;
        }
        let is_ddl = starts("ALTER TABLE")
            || starts("CREATE INDEX")
            || starts("CREATE UNIQUE INDEX")
            || starts("CREATE FULLTEXT INDEX")
            || starts("DROP INDEX")
            || starts("RENAME TABLE")
            || starts("DROP TABLE")
            || starts("TRUNCATE");
        if is_ddl && !timeout_set {
            add(
                "mysql-lock-wait-timeout",
                format!("`{}` runs without a short lock_wait_timeout: behind one long transaction it waits for the metadata lock (default: a year) while every query on the table queues behind it", head(&words)),
                "run `SET SESSION lock_wait_timeout = 2;` first and retry on error 1205, or let tandem run it (it does both)",
            );
        }
        if starts("ALTER TABLE")
            || starts("CREATE INDEX")
            || starts("CREATE UNIQUE INDEX")
            || starts("CREATE FULLTEXT INDEX")
        {
            let copies = [
                ("ALGORITHM = COPY", "asks for ALGORITHM=COPY"),
                ("ALGORITHM=COPY", "asks for ALGORITHM=COPY"),
                ("CONVERT TO CHARACTER SET", "converts the character set"),
                ("ADD PRIMARY KEY", "adds a primary key"),
                ("DROP PRIMARY KEY", "drops the primary key"),
                ("ENGINE", "changes the storage engine"),
                (" FORCE", "rebuilds the table (FORCE)"),
                ("ORDER BY", "reorders the table"),
                ("LOCK=SHARED", "asks for LOCK=SHARED"),
                ("LOCK=EXCLUSIVE", "asks for LOCK=EXCLUSIVE"),
                ("LOCK = SHARED", "asks for LOCK=SHARED"),
                ("LOCK = EXCLUSIVE", "asks for LOCK=EXCLUSIVE"),
                (
                    "FULLTEXT",
                    "adds a FULLTEXT index (shared lock for the build)",
                ),
                (
                    "SPATIAL",
                    "adds a SPATIAL index (shared lock for the build)",
                ),
            ];
            let mut copying = None;
            for (pattern, why) in copies {
                if text.contains(pattern) {
                    copying = Some(why);
                    break;
                }
            }
            if copying.is_none()
                && (text.contains(" MODIFY ") || text.contains(" CHANGE "))
                && !has_online_algorithm(&text)
            {
                copying = Some("changes a column's definition (a type change copies the table)");
            }
            if let Some(why) = copying {
                add(
                    "mysql-table-copy",
                    format!("this statement {why}: the server rebuilds the table and blocks writes for the whole copy"),
                    "let tandem make the change (a shadow table copied online with the binary log, then an atomic cut-over), or gh-ost / pt-online-schema-change",
                );
            } else if !has_online_algorithm(&text) {
                add(
                    "mysql-missing-algorithm",
                    format!("`{}` does not say ALGORITHM: if the server cannot do it online it silently copies the table under a lock", head(&words)),
                    "append `, ALGORITHM=INSTANT` (or `, ALGORITHM=INPLACE, LOCK=NONE`): the server then refuses at once what it cannot do online",
                );
            }
        }
        if starts("LOCK TABLES") || starts("LOCK TABLE") || text.contains("WITH READ LOCK") {
            add(
                "mysql-lock-tables",
                "explicit table locks block every write (and, for FLUSH ... WITH READ LOCK, the whole server)".into(),
                "remove the lock; use transactions, or tandem's bounded cut-over",
            );
        }
        if starts("OPTIMIZE TABLE") {
            add(
                "mysql-optimize-table",
                "OPTIMIZE TABLE rebuilds the table (InnoDB: ALTER TABLE ... FORCE)".into(),
                "run `ALTER TABLE t FORCE, ALGORITHM=INPLACE, LOCK=NONE`, or rebuild with tandem's shadow copy",
            );
        }
    }
    findings
}

fn has_online_algorithm(text: &str) -> bool {
    let compact = text.replace(' ', "");
    compact.contains("ALGORITHM=INSTANT")
        || (compact.contains("ALGORITHM=INPLACE") && compact.contains("LOCK=NONE"))
        || compact.contains("ALGORITHM=NOCOPY")
}

fn head(words: &[String]) -> String {
    words.iter().take(4).cloned().collect::<Vec<_>>().join(" ")
}

/// Statements with the line each starts on; comments dropped, quotes respected.
fn statements(sql: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut start_line = 1;
    let mut line = 1;
    let chars: Vec<char> = sql.chars().collect();
    let mut i = 0;
    let mut quote: Option<char> = None;
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            line += 1;
        }
        if let Some(q) = quote {
            current.push(c);
            if c == '\\' && q != '`' {
                if let Some(n) = chars.get(i + 1) {
                    current.push(*n);
                    i += 1;
                }
            } else if c == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        match c {
            '\'' | '"' | '`' => {
                quote = Some(c);
                current.push(c);
            }
            '-' if chars.get(i + 1) == Some(&'-') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
                continue;
            }
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
                continue;
            }
            '/' if chars.get(i + 1) == Some(&'*') => {
                i += 2;
                while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                    if chars[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
                i += 2;
                continue;
            }
            ';' => {
                if !current.trim().is_empty() {
                    out.push((start_line, current.trim().to_string()));
                }
                current.clear();
            }
            _ => {
                if current.trim().is_empty() && !c.is_whitespace() {
                    start_line = line;
                }
                current.push(c);
            }
        }
        i += 1;
    }
    if !current.trim().is_empty() {
        out.push((start_line, current.trim().to_string()));
    }
    out
}

/// Words: runs outside quotes split on whitespace, `=` and `,` kept as their own words.
fn words(statement: &str) -> Vec<String> {
    let spaced = statement
        .replace('=', " = ")
        .replace(',', " , ")
        .replace('(', " ( ");
    let mut out: Vec<String> = spaced.split_whitespace().map(str::to_string).collect();
    // Re-join `X = Y` pairs so patterns like ALGORITHM=COPY match in both spellings.
    let mut i = 0;
    while i + 2 < out.len() {
        if out[i + 1] == "=" {
            let joined = format!("{}={}", out[i], out[i + 2]);
            out.splice(i..i + 3, [joined]);
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(sql: &str) -> Vec<&'static str> {
        lint(sql).into_iter().map(|f| f.rule).collect()
    }

    #[test]
    fn flags_a_copying_alter_without_timeout() {
        assert_eq!(
            rules("ALTER TABLE t MODIFY c BIGINT;"),
            vec!["mysql-lock-wait-timeout", "mysql-table-copy"]
        );
    }

    #[test]
    fn online_alter_with_timeout_passes() {
        assert!(rules(
            "SET SESSION lock_wait_timeout = 2;\nALTER TABLE t ADD COLUMN c INT, ALGORITHM=INSTANT;"
        )
        .is_empty());
    }

    #[test]
    fn missing_algorithm_and_lines() {
        let found = lint("SET lock_wait_timeout=2;\n-- add an index\nCREATE INDEX i ON t (c);");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].rule, "mysql-missing-algorithm");
        assert_eq!(found[0].line, 3);
    }

    #[test]
    fn quoted_semicolons_do_not_split() {
        let found = lint("SET lock_wait_timeout=2; ALTER TABLE t COMMENT 'a;b', ALGORITHM=INSTANT; OPTIMIZE TABLE t");
        assert_eq!(
            found.iter().map(|f| f.rule).collect::<Vec<_>>(),
            vec!["mysql-optimize-table"]
        );
    }

    #[test]
    fn algorithm_copy_and_lock_tables() {
        assert_eq!(
            rules("SET lock_wait_timeout=1; ALTER TABLE t ADD COLUMN x INT, ALGORITHM = COPY; LOCK TABLES t WRITE;"),
            vec!["mysql-table-copy", "mysql-lock-tables"]
        );
    }
}
