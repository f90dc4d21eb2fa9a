//! The documentation pages, generated from the rules' own declarations: `docs/lint/`.

use crate::locks::LOCK_TABLE;
use crate::rule::Rule;
use crate::rules::REGISTRY;

/// The page of one rule, `docs/lint/<id>.md`.
pub fn rule_page(r: &Rule) -> String {
    let lock = r.lock.map_or("none (correctness rule)".to_string(), |l| {
        let blocks = match (l.blocks_reads(), l.blocks_writes()) {
            (true, _) => "blocks reads and writes",
            (false, true) => "blocks writes",
            _ => "blocks neither reads nor writes",
        };
        format!("{l} ({blocks})")
    });
    let exempt = if r.exempt_new_tables {
        "\nStatements on a table created earlier in the same file are exempt: nobody uses that table yet.\n"
    } else {
        ""
    };
    format!(
        "<!-- Generated from crates/tandem-lint/src/rules; edit the rule, then run TANDEM_BLESS=1 cargo test -p tandem-lint docs. -->\n\
# `{id}`\n\n{summary}.\n\n- Severity: {sev}\n- Lock: {lock}\n\n## Why\n\n{rationale}\n{exempt}\n## Instead\n\n{help}\n\n\
## Flagged\n\n```sql\n{bad}\n```\n\n## Safe\n\n```sql\n{good}\n```\n\n\
To silence it for one statement, with a reason:\n\n```sql\n-- tandem-lint: ignore {id} <reason>\n```\n\n\
To turn it off, in `tandem.toml`:\n\n```toml\n[lint]\ndisable = [\"{id}\"]\n```\n",
        id = r.id,
        summary = capitalize(r.summary),
        sev = r.severity,
        rationale = r.rationale,
        help = r.help,
        bad = r.bad,
        good = r.good,
    )
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// `docs/lint/README.md`: the index of rules and the shared lock table.
pub fn index_page() -> String {
    let mut out = String::from(
        "<!-- Generated from crates/tandem-lint/src/rules; run TANDEM_BLESS=1 cargo test -p tandem-lint docs. -->\n\
# `tandem lint` rules\n\n`tandem lint PATH...` checks SQL migrations (and the `sql` operations of tandem migration files) \
for statements that lock or break production. Exit status: 0 nothing found, 1 errors or warnings, 2 usage or parse errors.\n\n\
| Rule | Severity | Lock | What it catches |\n|---|---|---|---|\n",
    );
    for r in REGISTRY {
        out.push_str(&format!(
            "| [`{id}`]({id}.md) | {} | {} | {} |\n",
            r.severity,
            r.lock.map_or("-".to_string(), |l| l.to_string()),
            r.summary,
            id = r.id
        ));
    }
    out.push_str("\n## Locks taken, as the rules know them\n\n| Statement | Lock | Blocks reads | Blocks writes |\n|---|---|---|---|\n");
    for (_, mode, label) in LOCK_TABLE {
        out.push_str(&format!(
            "| {label} | {mode} | {} | {} |\n",
            yes(mode.blocks_reads()),
            yes(mode.blocks_writes())
        ));
    }
    out.push_str(USAGE);
    out
}

/// How to run it: migration sets, `--url`, `--trace`, configuration.
const USAGE: &str = r#"
## Migration sets

`tandem lint` groups the files it finds into migration sets, one per framework folder, and
lints each set in the order its framework applies it. What a file teaches (tables created,
column types, indexes, validated NOT NULL checks) carries to the later files of its set and
never to another set. Where a file holds both directions, only the `up` part is linted.

| Framework | Layout recognised | Order | Not linted |
|---|---|---|---|
| Rails | `db/migrate/<version>_*.rb` (the SQL of `execute` heredocs and strings in `up`/`change`) and `db/migrate/<version>_*.sql`, with `db/structure.sql` read first as the starting schema | version | `structure.sql` itself, `def down`, Rails' Ruby DSL (`add_index`, ...) |
| Django | `sqlmigrate` output saved as `<NNNN>_*.sql` | number | |
| Alembic | `alembic upgrade --sql` output (`-- Running upgrade A -> B`) | the revision chain, whatever the file names | `-- Running downgrade` sections |
| Prisma | `migrations/<timestamp>_*/migration.sql` | folder name | |
| knex, sqlx | `<version>_*.sql` | version | |
| Flyway | `V<version>__*.sql`, then `R__*.sql` | version (`V1_2` = 1.2), then repeatables by name | `U<version>__*.sql` (undo) |
| diesel | `<timestamp>_*/up.sql` | folder name | `down.sql` |
| dbmate | `-- migrate:up` / `-- migrate:down` | version | the `down` section |
| golang-migrate | `<version>_*.up.sql` | version | `*.down.sql` |
| goose | `-- +goose Up` / `-- +goose Down` | version | the `Down` section |
| tandem | `.yaml`/`.json` migrations: their `sql` operations | file name | |

Files that match none are a plain set per folder, in file-name order.

`DO` blocks are linted too: their PL/pgSQL body is parsed with PostgreSQL's own PL/pgSQL
parser (libpg_query), and every SQL statement it runs (static SQL, and `EXECUTE` of a string
literal) is checked like a top-level one.

## Facts from the live database: `--url`

```sh
tandem --url postgres://readonly@db/app lint db/migrate
```

With `--url` (given on the command line; `DATABASE_URL` alone does not turn it on), the lint
reads every table's row estimate and size from `pg_class` and `pg_stat_user_tables` in a
read-only session. A finding on a table then says what it costs ("`orders` has ~48M rows,
9.2 GB: a scan or rewrite of it takes roughly 47 seconds at 200 MB/s"); on a table with fewer
rows than `small_table_rows` (default 10000; `--small-table-rows`) it is a **note**, which
does not fail the run. A table that does not exist in the database is new: the migration
creates it, so its locks block nobody.

## What the server really does: `--trace`

```sh
TANDEM_PG_BIN=/usr/lib/postgresql/15/bin tandem lint --trace db/migrate
```

`--trace` starts a throwaway PostgreSQL (initdb on a free loopback port, removed afterwards),
creates one database per migration set, and runs the set's statements in order (the schema
comes from the earlier files, and for Rails from `structure.sql`). After each statement it
observes what the server did: the locks held (`pg_locks`), the tables and indexes rewritten
(a new `relfilenode`), the tables scanned (`pg_stat_xact_user_tables`). It reports:

- `trace`: a statement that, on a table existing before its file, took a lock blocking writes
  or reads, rewrote the table, or scanned it, even where no rule saw it (a function called by
  the migration, dynamic SQL);
- `trace-contradicts`: a static finding that claims a rewrite or a scan the server did not do
  (a note);
- a note for each statement the throwaway database could not run.

Each statement runs alone, in its own transaction when PostgreSQL allows it, through the
extended protocol. Data is not copied: tables are empty, so the trace measures what happens,
not how long.

## Exit status

0: nothing but notes; 1: errors or warnings; 2: usage errors, unreadable files, SQL
PostgreSQL cannot parse.

## Configuration

```toml
[lint]
pg_version = 14               # or --pg-version
assume_in_transaction = false # or --assume-in-transaction: your tool wraps each file in a transaction
time_zone = "UTC"             # the migrations' session time zone (timestamp -> timestamptz is catalog-only in UTC)
small_table_rows = 10000      # with --url: below this, a finding is a note
disable = ["prefer-jsonb"]    # rules turned off
# enable = [...]              # only these rules
```

Per statement: `-- tandem-lint: ignore <rule>[,<rule>] <reason>` in or right before it.
`require-lock-timeout` is reported once per transaction (or per file outside one), at the
first statement that needs the timeout.
"#;

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// Every generated file: (path relative to `docs/lint/`, content).
pub fn all_pages() -> Vec<(String, String)> {
    let mut pages = vec![("README.md".to_string(), index_page())];
    pages.extend(
        REGISTRY
            .iter()
            .map(|r| (format!("{}.md", r.id), rule_page(r))),
    );
    pages
}
