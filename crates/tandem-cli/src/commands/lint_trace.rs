//! `tandem lint --trace`: one throwaway PostgreSQL (tandem-ephemeral), one fresh database
//! per migration set, the set's statements run in order by tandem-lint's tracer.

use miette::{miette, Report};
use tandem_lint::sets::{self, MigrationSet};
use tandem_lint::trace::{self, Traced};

pub async fn trace(found: &[MigrationSet]) -> Result<Vec<Traced>, Report> {
    let cluster = tandem_ephemeral::Cluster::start().map_err(|e| {
        miette!(
            help = "--trace needs PostgreSQL's server binaries: set TANDEM_PG_BIN to their folder",
            "cannot start a throwaway PostgreSQL for the trace: {e}"
        )
    })?;
    let admin = connect(&cluster, "postgres").await?;
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
