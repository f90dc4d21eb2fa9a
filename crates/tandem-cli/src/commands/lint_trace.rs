//! `tandem lint --trace`: one throwaway PostgreSQL (tandem-ephemeral), one fresh database
//! per migration set, the set's statements run in order by tandem-lint's tracer.

use miette::{miette, Report};
use tandem_lint::sets::{self, MigrationSet};
use tandem_lint::trace::{self, Traced};

/// `url`: the live database whose schema (without rows) each set starts from, read with
/// `pg_dump --schema-only`.
pub async fn trace(found: &[MigrationSet], url: Option<&str>) -> Result<Vec<Traced>, Report> {
    let cluster = tandem_ephemeral::Cluster::start().map_err(|e| {
        miette!(
            help = "--trace needs PostgreSQL's server binaries: set TANDEM_PG_BIN to their folder",
            "cannot start a throwaway PostgreSQL for the trace: {e}"
        )
    })?;
    let admin = connect(&cluster, "postgres").await?;
    let live_schema = match url {
        Some(url) => Some(dump_schema(cluster.bin_dir(), url)?),
        None => None,
    };
    let mut out = Vec::new();
    for (n, set) in found.iter().enumerate() {
        let db = format!("tandem_trace_{n}");
        admin
            .execute(
                &format!("CREATE DATABASE {}", tandem_core::quote::ident(&db)),
                &[],
            )
            .await
            .map_err(|e| miette!("cannot create the trace database: {e}"))?;
        let client = connect(&cluster, &db).await?;
        if let Some(dump) = &live_schema {
            load_schema(&client, dump).await;
        }
        // A migration that sleeps or loops must not hold the lint forever (the tables are
        // empty: real work takes milliseconds here).
        client
            .execute("SET statement_timeout = '60s'", &[])
            .await
            .map_err(|e| miette!("cannot set up the trace database: {e}"))?;
        let mut files = Vec::new();
        for path in &set.schema_files {
            if let Ok(text) = std::fs::read_to_string(path) {
                files.push((path.display().to_string(), text));
            }
        }
        let schema_count = files.len();
        for path in &set.files {
            if !tandem_lint::input::is_migration_file(path) {
                if let Ok(text) = std::fs::read_to_string(path) {
                    files.push((path.display().to_string(), sets::up_part(path, &text)));
                }
            }
        }
        let traced = trace::trace_set(&client, &files)
            .await
            .map_err(|e| miette!("{e}"))?;
        // The schema dump only sets the stage.
        let schema_names: Vec<&String> = files[..schema_count].iter().map(|(n, _)| n).collect();
        out.extend(
            traced
                .into_iter()
                .filter(|t| !schema_names.contains(&&t.file)),
        );
    }
    Ok(out)
}

async fn connect(
    cluster: &tandem_ephemeral::Cluster,
    db: &str,
) -> Result<tokio_postgres::Client, Report> {
    let (client, conn) = tokio_postgres::connect(&cluster.url(db), tokio_postgres::NoTls)
        .await
        .map_err(|e| miette!("cannot connect to the trace database: {e}"))?;
    tokio::spawn(conn);
    Ok(client)
}

/// The live database's schema as SQL, by the cluster's own `pg_dump` (read-only).
fn dump_schema(bin_dir: &std::path::Path, url: &str) -> Result<String, Report> {
    let out = std::process::Command::new(bin_dir.join("pg_dump"))
        .args([
            "--schema-only",
            "--no-owner",
            "--no-privileges",
            "--dbname",
            url,
        ])
        .output()
        .map_err(|e| miette!("cannot run pg_dump from {}: {e}", bin_dir.display()))?;
    if !out.status.success() {
        return Err(miette!(
            help = "pg_dump must be at least the server's major version: set TANDEM_PG_BIN to a matching PostgreSQL",
            "pg_dump could not read the schema of --url: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    String::from_utf8(out.stdout).map_err(|e| miette!("pg_dump wrote text that is not UTF-8: {e}"))
}

/// Creates the dumped schema statement by statement (parsed, one per call). A statement the
/// throwaway server refuses (an extension it lacks) is skipped: the trace then reports the
/// migration statements that need it as not run.
async fn load_schema(client: &tokio_postgres::Client, dump: &str) {
    let Ok(stmts) = tandem_lint::parse::parse(dump) else {
        return;
    };
    for stmt in stmts.iter().filter(|s| s.in_do_block.is_none()) {
        let _ = client.execute(stmt.text(dump), &[]).await;
    }
    // pg_dump empties search_path and sets other session settings for its own statements.
    let _ = client.execute("RESET ALL", &[]).await;
}
