//! Migration sets: the files one framework applies to one database, in the order it applies
//! them, and the part of each file that runs on the way up. Knowledge (tables created,
//! column types) is carried from file to file within a set and never across sets.
//!
//! Recognised layouts:
//! - Rails `db/migrate/<version>_*.rb` (the SQL of their `execute` calls in `up`/`change`) and
//!   `db/migrate/<version>_*.sql`, with `db/structure.sql` read as the starting schema;
//! - Django `sqlmigrate` output (`<app>/<NNNN>_*.sql`);
//! - Alembic `--sql` output (`-- Running upgrade A -> B`; ordered along the revision chain,
//!   `-- Running downgrade` sections skipped);
//! - Prisma `migrations/<timestamp>_*/migration.sql`;
//! - knex and sqlx `<version>_*.sql` (sqlx's `.up.sql`/`.down.sql` too);
//! - Flyway `V<version>__*.sql` by version, then `R__*.sql` repeatables by name (`U` undo
//!   files skipped);
//! - diesel `<timestamp>_*/up.sql` (`down.sql` skipped);
//! - dbmate `-- migrate:up` / `-- migrate:down` sections;
//! - golang-migrate `<version>_*.up.sql` (`.down.sql` skipped);
//! - goose `-- +goose Up` / `-- +goose Down` sections;
//! - tandem's own YAML/JSON migrations, and plain `.sql` files (by file name).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The migration tool whose layout a set follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Framework {
    Rails,
    Django,
    Alembic,
    Prisma,
    Flyway,
    Diesel,
    Dbmate,
    GolangMigrate,
    Goose,
    /// knex, sqlx and any other `<version>_name.sql` layout.
    Versioned,
    Tandem,
    Plain,
}

impl Framework {
    pub fn name(self) -> &'static str {
        match self {
            Framework::Rails => "rails",
            Framework::Django => "django",
            Framework::Alembic => "alembic",
            Framework::Prisma => "prisma",
            Framework::Flyway => "flyway",
            Framework::Diesel => "diesel",
            Framework::Dbmate => "dbmate",
            Framework::GolangMigrate => "golang-migrate",
            Framework::Goose => "goose",
            Framework::Versioned => "versioned (knex, sqlx, ...)",
            Framework::Tandem => "tandem",
            Framework::Plain => "plain",
        }
    }
}

/// One migration set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationSet {
    /// The folder that holds the set.
    pub root: PathBuf,
    pub framework: Framework,
    /// Schema dumps read before the migrations, never reported on (Rails' structure.sql).
    pub schema_files: Vec<PathBuf>,
    /// The migrations, in the order the framework applies them.
    pub files: Vec<PathBuf>,
}

/// What one file is in its framework's layout.
struct Classified {
    root: PathBuf,
    framework: Framework,
    /// Part of the set but never run on the way up (down, undo files).
    skip: bool,
    schema: bool,
    /// Flyway repeatables run after every versioned migration.
    repeatable: bool,
    /// The name whose leading version orders the file (a file or a folder name).
    order_name: String,
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string()
}

fn parent(p: &Path) -> PathBuf {
    p.parent().map(Path::to_path_buf).unwrap_or_default()
}

fn classify(path: &Path, head: &str) -> Classified {
    let name = file_name(path);
    let dir = parent(path);
    let dir_name = file_name(&dir);
    let mut c = Classified {
        root: dir.clone(),
        framework: Framework::Plain,
        skip: false,
        schema: false,
        repeatable: false,
        order_name: name.clone(),
    };
    let folder_migration = |c: &mut Classified, f: Framework| {
        c.framework = f;
        c.root = parent(&dir);
        c.order_name = dir_name.clone();
    };
    let lower = name.to_ascii_lowercase();
    if crate::input::is_migration_file(path) {
        c.framework = Framework::Tandem;
    } else if crate::rails::is_rails_migration(path) {
        c.framework = Framework::Rails;
    } else if lower == "structure.sql" {
        // db/structure.sql belongs to the set in db/migrate.
        c.framework = Framework::Rails;
        c.root = dir.join("migrate");
        c.schema = true;
    } else if lower == "up.sql" || lower == "down.sql" {
        folder_migration(&mut c, Framework::Diesel);
        c.skip = lower == "down.sql";
    } else if lower == "migration.sql" {
        folder_migration(&mut c, Framework::Prisma);
    } else if head.contains("-- migrate:up") {
        c.framework = Framework::Dbmate;
    } else if head.contains("+goose Up") || head.contains("+goose up") {
        c.framework = Framework::Goose;
    } else if head.contains("-- Running upgrade") || head.contains("-- Running downgrade") {
        c.framework = Framework::Alembic;
    } else if is_flyway(&name) {
        c.framework = Framework::Flyway;
        c.repeatable = name.starts_with('R');
        c.skip = name.starts_with('U');
        c.order_name = name[1..].to_string();
    } else if lower.ends_with(".up.sql") || lower.ends_with(".down.sql") {
        c.framework = Framework::GolangMigrate;
        c.skip = lower.ends_with(".down.sql");
    } else if dir.ends_with("db/migrate") {
        c.framework = Framework::Rails;
    } else if name.len() > 5
        && name.as_bytes()[..4].iter().all(u8::is_ascii_digit)
        && name.as_bytes()[4] == b'_'
    {
        c.framework = Framework::Django;
    } else if name.starts_with(|ch: char| ch.is_ascii_digit()) {
        c.framework = Framework::Versioned;
    }
    c
}

fn is_flyway(name: &str) -> bool {
    let Some(sep) = name.find("__") else {
        return false;
    };
    let (prefix, version) = name[..sep].split_at(1.min(sep));
    match prefix {
        "R" => version.is_empty(),
        "V" | "U" => {
            !version.is_empty()
                && version
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == '.' || c == '_')
        }
        _ => false,
    }
}

/// The leading version of a name as numbers (`V1_2__x` → [1, 2]; `20240101_x` → [20240101]);
/// a name without one sorts after every versioned name.
fn version_key(name: &str) -> Vec<u64> {
    let mut out = Vec::new();
    let mut current = String::new();
    for ch in name.chars() {
        if ch.is_ascii_digit() {
            current.push(ch);
        } else if matches!(ch, '.' | '_' | '-') && !current.is_empty() {
            out.push(current.parse().unwrap_or(u64::MAX));
            current.clear();
            // `1_2__` versions continue; `_name` ends the version.
            continue;
        } else {
            break;
        }
    }
    if !current.is_empty() {
        out.push(current.parse().unwrap_or(u64::MAX));
    }
    if out.is_empty() {
        out.push(u64::MAX);
    }
    out
}

/// Groups `files` (as found by [`crate::input::collect`]) into sets, each in its
/// framework's order; sets come in path order. `read` gives a file's text (the first
/// lines decide between layouts that share file names).
pub fn migration_sets(
    files: &[PathBuf],
    read: impl Fn(&Path) -> Option<String>,
) -> Vec<MigrationSet> {
    struct Entry {
        path: PathBuf,
        c: Classified,
        alembic: Option<(String, String)>,
    }
    let mut groups: BTreeMap<PathBuf, Vec<Entry>> = BTreeMap::new();
    for path in files {
        let text = read(path).unwrap_or_default();
        let head: String = text.chars().take(4096).collect();
        let c = classify(path, &head);
        let alembic = (c.framework == Framework::Alembic)
            .then(|| alembic_step(&text))
            .flatten();
        groups.entry(c.root.clone()).or_default().push(Entry {
            path: path.clone(),
            c,
            alembic,
        });
    }
    let mut out = Vec::new();
    for (root, mut entries) in groups {
        // The set's framework: the first that is not plain (schema files say Rails).
        let framework = entries
            .iter()
            .filter(|e| !e.c.schema)
            .map(|e| e.c.framework)
            .find(|f| *f != Framework::Plain)
            .or_else(|| entries.first().map(|e| e.c.framework))
            .unwrap_or(Framework::Plain);
        entries.sort_by(|a, b| {
            (
                a.c.repeatable,
                version_key(&a.c.order_name),
                &a.c.order_name,
                &a.path,
            )
                .cmp(&(
                    b.c.repeatable,
                    version_key(&b.c.order_name),
                    &b.c.order_name,
                    &b.path,
                ))
        });
        if framework == Framework::Alembic {
            alembic_order(&mut entries, |e| e.alembic.clone());
        }
        let schema_files = entries
            .iter()
            .filter(|e| e.c.schema)
            .map(|e| e.path.clone())
            .collect();
        let files = entries
            .iter()
            .filter(|e| !e.c.schema && !e.c.skip)
            .map(|e| e.path.clone())
            .collect();
        out.push(MigrationSet {
            root,
            framework,
            schema_files,
            files,
        });
    }
    out
}

/// The first `-- Running upgrade A -> B` of an Alembic `--sql` file: (A, B).
fn alembic_step(text: &str) -> Option<(String, String)> {
    let line = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("-- Running upgrade"))?;
    let (from, to) = line.split_once("->")?;
    Some((from.trim().to_string(), to.trim().to_string()))
}

/// Orders Alembic files along their revision chain (each file's first step starts where
/// another's ends); files off the chain keep their place after it.
fn alembic_order<T>(entries: &mut Vec<T>, step: impl Fn(&T) -> Option<(String, String)>) {
    let steps: Vec<Option<(String, String)>> = entries.iter().map(&step).collect();
    let ends: Vec<&str> = steps.iter().flatten().map(|(_, to)| to.as_str()).collect();
    let mut order: Vec<usize> = Vec::new();
    // Start at files whose base revision no other file produces.
    let mut current: Vec<usize> = (0..steps.len())
        .filter(|&i| {
            steps[i]
                .as_ref()
                .is_some_and(|(from, _)| !ends.contains(&from.as_str()))
        })
        .collect();
    while let Some(i) = current.first().copied() {
        current.remove(0);
        if order.contains(&i) {
            continue;
        }
        order.push(i);
        if let Some((_, to)) = &steps[i] {
            for (j, s) in steps.iter().enumerate() {
                if s.as_ref().is_some_and(|(from, _)| from == to) && !order.contains(&j) {
                    current.insert(0, j);
                }
            }
        }
    }
    for i in 0..entries.len() {
        if !order.contains(&i) {
            order.push(i);
        }
    }
    let mut taken: Vec<Option<T>> = entries.drain(..).map(Some).collect();
    for i in order {
        if let Some(e) = taken[i].take() {
            entries.push(e);
        }
    }
}

/// The text of `path` with every part that does not run on the way up blanked out (kept as
/// newlines, so lines and columns stay those of the file).
pub fn up_part(path: &Path, text: &str) -> String {
    let head: String = text.chars().take(4096).collect();
    let framework = classify(path, &head).framework;
    if crate::rails::is_rails_migration(path) {
        return crate::rails::sql_of(text);
    }
    // (marker that starts an up section, marker that starts a down section)
    let (up, down): (&[&str], &[&str]) = match framework {
        Framework::Dbmate => (&["-- migrate:up"], &["-- migrate:down"]),
        Framework::Goose => (
            &["-- +goose Up", "-- +goose up"],
            &["-- +goose Down", "-- +goose down"],
        ),
        Framework::Alembic => (&["-- Running upgrade"], &["-- Running downgrade"]),
        _ => return text.to_string(),
    };
    // Dbmate and goose files run nothing before their first marker; Alembic output runs
    // its preamble (BEGIN, CREATE TABLE alembic_version).
    let mut keep = framework == Framework::Alembic;
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let t = line.trim_start();
        if up.iter().any(|m| t.starts_with(m)) {
            keep = true;
        } else if down.iter().any(|m| t.starts_with(m)) {
            keep = false;
        }
        if keep {
            out.push_str(line);
        } else {
            out.extend(line.chars().map(|c| if c == '\n' { '\n' } else { ' ' }));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sets(files: &[(&str, &str)]) -> Vec<MigrationSet> {
        let paths: Vec<PathBuf> = files.iter().map(|(p, _)| PathBuf::from(p)).collect();
        migration_sets(&paths, |p| {
            files
                .iter()
                .find(|(f, _)| Path::new(f) == p)
                .map(|(_, t)| t.to_string())
        })
    }

    fn names(set: &MigrationSet) -> Vec<String> {
        set.files.iter().map(|p| p.display().to_string()).collect()
    }

    #[test]
    fn flyway_orders_by_version_then_repeatables() {
        let s = sets(&[
            ("f/R__views.sql", ""),
            ("f/V10__c.sql", ""),
            ("f/V2__b.sql", ""),
            ("f/V1_1__a.sql", ""),
            ("f/U2__b.sql", ""),
        ]);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].framework, Framework::Flyway);
        assert_eq!(
            names(&s[0]),
            [
                "f/V1_1__a.sql",
                "f/V2__b.sql",
                "f/V10__c.sql",
                "f/R__views.sql"
            ]
        );
    }

    #[test]
    fn folder_layouts_group_by_their_parent() {
        let s = sets(&[
            ("d/2024-02-01_b/up.sql", ""),
            ("d/2024-01-01_a/up.sql", ""),
            ("d/2024-01-01_a/down.sql", ""),
            ("p/20240201_x/migration.sql", ""),
            ("g/2_b.up.sql", ""),
            ("g/10_c.up.sql", ""),
            ("g/2_b.down.sql", ""),
        ]);
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].framework, Framework::Diesel);
        assert_eq!(
            names(&s[0]),
            ["d/2024-01-01_a/up.sql", "d/2024-02-01_b/up.sql"]
        );
        assert_eq!(names(&s[1]), ["g/2_b.up.sql", "g/10_c.up.sql"]);
        assert_eq!(s[2].framework, Framework::Prisma);
    }

    #[test]
    fn alembic_follows_the_revision_chain() {
        let s = sets(&[
            ("a/aaa_second.sql", "-- Running upgrade b1 -> c2\n"),
            ("a/zzz_first.sql", "-- Running upgrade  -> b1\n"),
        ]);
        assert_eq!(names(&s[0]), ["a/zzz_first.sql", "a/aaa_second.sql"]);
    }

    #[test]
    fn rails_structure_is_the_starting_schema() {
        let s = sets(&[
            ("app/db/structure.sql", "CREATE TABLE t (id int);"),
            ("app/db/migrate/20240102_b.sql", ""),
            ("app/db/migrate/20240101_a.sql", ""),
        ]);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].framework, Framework::Rails);
        assert_eq!(s[0].schema_files, [PathBuf::from("app/db/structure.sql")]);
        assert_eq!(names(&s[0]).len(), 2);
    }

    #[test]
    fn only_the_up_part_is_kept_in_place() {
        let t = "-- migrate:up\nCREATE INDEX i ON t (c);\n-- migrate:down\nDROP INDEX i;\n";
        let up = up_part(Path::new("1_x.sql"), t);
        assert_eq!(up.lines().count(), t.lines().count());
        assert!(up.contains("CREATE INDEX"));
        assert!(!up.contains("DROP INDEX"));
        let g = "-- +goose Up\nSELECT 1;\n-- +goose Down\nDROP TABLE t;\n";
        assert!(!up_part(Path::new("1_x.sql"), g).contains("DROP"));
    }
}
