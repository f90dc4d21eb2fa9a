//! Writes a benchmark corpus of realistic migration files: `gen-corpus DIR [STATEMENTS]`.
//! Deterministic, so runs compare.

use std::path::PathBuf;

const TEMPLATES: &[&str] = &[
    "CREATE TABLE t{n} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, account_id bigint NOT NULL, email text, created_at timestamptz NOT NULL DEFAULT now());",
    "ALTER TABLE accounts ADD COLUMN c{n} text;",
    "CREATE INDEX CONCURRENTLY idx_{n} ON orders (customer_id, created_at) WHERE deleted_at IS NULL;",
    "CREATE INDEX idx_plain_{n} ON orders (status);",
    "ALTER TABLE orders ADD CONSTRAINT fk_{n} FOREIGN KEY (customer_id) REFERENCES customers (id) NOT VALID;",
    "ALTER TABLE orders VALIDATE CONSTRAINT fk_{n};",
    "ALTER TABLE users ALTER COLUMN name TYPE varchar(255);",
    "UPDATE users SET plan = 'free' WHERE id IN (SELECT id FROM users WHERE plan IS NULL LIMIT 1000);",
    "ALTER TABLE users ADD COLUMN settings_{n} jsonb NOT NULL DEFAULT '{{}}'::jsonb;",
    "INSERT INTO feature_flags (name, enabled) VALUES ('flag_{n}', false) ON CONFLICT (name) DO NOTHING;",
    "ALTER TABLE orders ADD CONSTRAINT chk_{n} CHECK (total >= 0);",
    "DROP INDEX CONCURRENTLY IF EXISTS old_idx_{n};",
    "ALTER TABLE users RENAME COLUMN nick_{n} TO nickname_{n};",
    "SET lock_timeout = '2s';",
    "CREATE OR REPLACE FUNCTION touch_{n}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.updated_at := now(); RETURN NEW; END $$;",
    "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_indexes WHERE indexname = 'do_idx_{n}') THEN CREATE INDEX do_idx_{n} ON orders (status); END IF; END $$;",
    "UPDATE orders o SET region = c.region FROM customers c WHERE o.customer_id = c.id AND o.id BETWEEN {n} AND {n} + 1000;",
    "COMMENT ON COLUMN users.email IS 'primary contact address {n}';",
    "SELECT u.id, count(o.id) FROM users u LEFT JOIN orders o ON o.user_id = u.id WHERE u.created_at > now() - interval '30 days' GROUP BY u.id HAVING count(o.id) > {n};",
];

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next().map(PathBuf::from) else {
        eprintln!("usage: gen-corpus DIR [STATEMENTS]");
        std::process::exit(2);
    };
    let total: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(10_000);
    const PER_FILE: usize = 50;
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("error: {}: {e}", dir.display());
        std::process::exit(2);
    }
    let mut n = 0;
    let mut file = 0;
    while n < total {
        let mut sql = String::new();
        for _ in 0..PER_FILE.min(total - n) {
            let t = TEMPLATES[(n * 7 + file) % TEMPLATES.len()];
            sql.push_str(&t.replace("{n}", &n.to_string()).replace("{{}}", "{}"));
            sql.push('\n');
            n += 1;
        }
        let path = dir.join(format!("{:05}_migration.sql", file));
        if let Err(e) = std::fs::write(&path, sql) {
            eprintln!("error: {}: {e}", path.display());
            std::process::exit(2);
        }
        file += 1;
    }
    println!("{n} statements in {file} files under {}", dir.display());
}
