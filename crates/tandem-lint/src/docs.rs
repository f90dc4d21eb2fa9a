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
    out.push_str("\n## Configuration\n\n```toml\n[lint]\npg_version = 14             # or --pg-version\nassume_in_transaction = false # true if your tool wraps each file in a transaction\ndisable = [\"prefer-jsonb\"]     # rules turned off\n# enable = [...]              # only these rules\n```\n\nPer statement: `-- tandem-lint: ignore <rule>[,<rule>] <reason>` in or right before it.\n");
    out
}

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
