//! What a live database says about the tables a migration touches (`--url`): their size and
//! row estimate, so a finding can say what its danger costs, and a table that does not exist
//! there counts as new. Reading the facts from a server is the `live` module's job; this module only holds them.

use std::collections::HashMap;

/// One table's size as the server estimates it (`pg_class.reltuples`, `pg_total_relation_size`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableFact {
    pub rows: i64,
    pub bytes: i64,
}

/// The tables of one database, by unqualified name (as the rules name tables).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// `None` when no database was asked: then no table is known to be absent.
    tables: Option<HashMap<String, TableFact>>,
    /// Below this many rows a finding about the table is a note, not an error.
    pub small_table_rows: i64,
    /// The scan speed assumed for the time estimates, in bytes per second.
    pub scan_bytes_per_second: i64,
}

/// Default threshold for `small_table_rows` (`[lint] small_table_rows` in tandem.toml).
pub const DEFAULT_SMALL_TABLE_ROWS: i64 = 10_000;
/// Default assumed sequential scan speed: 200 MB/s.
pub const DEFAULT_SCAN_BYTES_PER_SECOND: i64 = 200 * 1024 * 1024;

impl Facts {
    pub fn new(tables: HashMap<String, TableFact>) -> Self {
        Facts {
            tables: Some(tables),
            small_table_rows: DEFAULT_SMALL_TABLE_ROWS,
            scan_bytes_per_second: DEFAULT_SCAN_BYTES_PER_SECOND,
        }
    }

    pub fn is_known(&self) -> bool {
        self.tables.is_some()
    }

    pub fn get(&self, table: &str) -> Option<TableFact> {
        self.tables.as_ref()?.get(table).copied()
    }

    /// The database was asked and has no such table: the migration creates it.
    pub fn is_absent(&self, table: &str) -> bool {
        self.tables.as_ref().is_some_and(|t| !t.contains_key(table))
    }

    /// A sentence on what scanning or rewriting `table` costs, for a finding's message.
    pub fn cost(&self, table: &str) -> Option<String> {
        let fact = self.get(table)?;
        let seconds = fact.bytes as f64 / self.scan_bytes_per_second.max(1) as f64;
        Some(format!(
            "`{table}` has ~{} rows, {}: a scan or rewrite of it takes roughly {} at {}/s",
            human_count(fact.rows),
            human_bytes(fact.bytes),
            human_duration(seconds),
            human_bytes(self.scan_bytes_per_second)
        ))
    }

    /// Whether the table is small enough that a finding about it is only a note.
    pub fn is_small(&self, table: &str) -> bool {
        self.get(table)
            .is_some_and(|f| f.rows < self.small_table_rows)
    }
}

fn human_count(n: i64) -> String {
    let n = n.max(0) as f64;
    if n >= 1e9 {
        format!("{:.1}G", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.0}M", n / 1e6)
    } else if n >= 1e3 {
        format!("{:.0}k", n / 1e3)
    } else {
        format!("{n:.0}")
    }
}

fn human_bytes(b: i64) -> String {
    let b = b.max(0) as f64;
    const K: f64 = 1024.0;
    if b >= K * K * K {
        format!("{:.1} GB", b / (K * K * K))
    } else if b >= K * K {
        format!("{:.0} MB", b / (K * K))
    } else if b >= K {
        format!("{:.0} kB", b / K)
    } else {
        format!("{b:.0} bytes")
    }
}

fn human_duration(seconds: f64) -> String {
    if seconds >= 3600.0 {
        format!("{:.1} hours", seconds / 3600.0)
    } else if seconds >= 60.0 {
        format!("{:.0} minutes", seconds / 60.0)
    } else if seconds >= 1.0 {
        format!("{seconds:.0} seconds")
    } else {
        "under a second".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs_read_like_a_person_wrote_them() {
        let mut t = HashMap::new();
        t.insert(
            "orders".to_string(),
            TableFact {
                rows: 48_000_000,
                bytes: 9_900_000_000,
            },
        );
        let f = Facts::new(t);
        let c = f.cost("orders").unwrap();
        assert!(c.starts_with("`orders` has ~48M rows, 9.2 GB"), "{c}");
        assert!(c.ends_with("roughly 47 seconds at 200 MB/s"), "{c}");
        assert!(f.is_absent("carts"));
        assert!(!f.is_absent("orders"));
        assert!(!Facts::default().is_absent("carts"));
    }
}
