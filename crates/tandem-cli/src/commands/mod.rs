//! The commands that talk to a database.

pub mod bluegreen;
#[cfg(feature = "lint")]
pub mod lint;
#[cfg(feature = "lint")]
mod lint_mysql;
#[cfg(feature = "lint")]
mod lint_trace;
pub mod mysql;
mod show;
pub mod url;

use crate::cli::{Cli, Command};
use crate::diagnostics::{parse_error, pg_error};
use crate::printer::Printer;
use miette::Report;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use tandem_core::Migration;
use tandem_pg::{ConnectOptions, Engine, LockSettings, Settings, StartOutcome};

pub async fn run(cli: Cli) -> Result<ExitCode, Report> {
    let g = cli.global;
    if let Command::Demo(args) = &cli.command {
        return crate::demo::run(args, g.quiet).await;
    }
    if let Command::Bluegreen(args) = &cli.command {
        return bluegreen::run(args, &g).await;
    }
    // A mysql:// or mariadb:// URL selects the MySQL backend.
    if let Some(url) = g.url.clone().filter(|u| tandem_mysql::is_mysql_url(u)) {
        return mysql::run(cli.command, g, &url).await;
    }
    // Parse files before connecting: a bad file is reported without touching the database.
    let migration = match &cli.command {
        Command::Start { file, .. } | Command::Validate { file } | Command::Plan { file, .. } => {
            Some(Migration::from_file(file).map_err(parse_error)?)
        }
        _ => None,
    };
    let migrations = match &cli.command {
        Command::Migrate { dir, .. } => load_dir(dir)?,
        _ => Vec::new(),
    };
    let settings = Settings {
        schema: g.schema.clone(),
        locks: LockSettings {
            lock_timeout: g.lock_timeout,
            retry_budget: g.lock_retry_budget,
        },
        wait_for_runner: g.wait_for_runner,
        backfill: tandem_pg::BackfillSettings {
            batch_time: g.backfill_batch_time,
            batch_size: g.backfill_batch_size,
            pause: g.backfill_pause,
        },
    };
    let reporter = Arc::new(Printer::new(g.quiet));
    let mut engine = Engine::connect(&ConnectOptions { url: g.url.clone() }, settings, reporter)
        .await
        .map_err(pg_error)?;
    if let Some(role) = &g.role {
        engine.set_role(role).await.map_err(pg_error)?;
    }
    let m = || {
        migration
            .as_ref()
            .ok_or_else(|| miette::miette!("no migration file"))
    };
    match cli.command {
        Command::Init => {
            engine.init().await.map_err(pg_error)?;
            println!("tandem's state schema is ready on {}", engine.target());
        }
        Command::Start { complete, .. } => {
            let m = m()?;
            let outcome = engine.start(m).await.map_err(pg_error)?;
            if outcome == StartOutcome::AlreadyStarted {
                println!("migration {} was already started", m.name);
            }
            if complete {
                engine.complete().await.map_err(pg_error)?;
                println!("migration {} is complete", m.name);
            } else {
                let status = engine.status().await.map_err(pg_error)?;
                show::started(&status);
            }
        }
        Command::Complete => {
            let done = engine.complete().await.map_err(pg_error)?;
            if done.already {
                println!(
                    "migration {} was already complete: nothing to do",
                    done.migration
                );
            } else {
                println!("migration {} is complete", done.migration);
            }
        }
        Command::Rollback => {
            let done = engine.rollback().await.map_err(pg_error)?;
            if done.already {
                println!(
                    "migration {} was already rolled back: nothing to do",
                    done.migration
                );
            } else {
                println!("migration {} is rolled back", done.migration);
            }
        }
        Command::Migrate { complete, .. } => {
            let applied = engine
                .migrate(&migrations, complete)
                .await
                .map_err(pg_error)?;
            if applied.is_empty() {
                println!("nothing to apply: every migration is applied");
            } else {
                println!(
                    "applied {} migration(s): {}",
                    applied.len(),
                    applied.join(", ")
                );
            }
        }
        Command::Verify => {
            let name = engine.verify().await.map_err(pg_error)?;
            println!("migration {name}: every row verified");
        }
        Command::Status { json } => {
            let status = engine.status().await.map_err(pg_error)?;
            show::status(&status, json);
        }
        Command::Url { migration, format } => {
            let status = engine.status().await.map_err(pg_error)?;
            let history = engine.history().await.map_err(pg_error)?;
            let version = url::version_schema_for(&status, &history, migration.as_deref())?;
            let path = url::search_path(&version, &status.schema);
            match format {
                url::UrlFormat::SearchPath => println!("{path}"),
                url::UrlFormat::Options => println!("{}", url::options(&path)),
                url::UrlFormat::Url => println!(
                    "{}",
                    url::connection_url(g.url.as_deref(), &url::options(&path))
                ),
            }
        }
        Command::History { json } => {
            let history = engine.history().await.map_err(pg_error)?;
            show::history(&history, json);
        }
        Command::Validate { .. } => {
            let m = m()?;
            let planned = engine.plan(m).await.map_err(pg_error)?;
            println!(
                "{} is valid: {} operation(s); start runs {} step(s), complete {}, rollback {}",
                m.file,
                m.operations.len(),
                planned.plan.start.len(),
                planned.plan.complete.len(),
                planned.plan.rollback.len()
            );
        }
        Command::Plan { json, .. } => {
            let planned = engine.plan(m()?).await.map_err(pg_error)?;
            show::plan(&planned.plan, json);
        }
        #[cfg(feature = "lint")]
        Command::Lint(_) | Command::Convert(_) => {}
        Command::Demo(_) | Command::Bluegreen(_) => {}
        Command::Pause | Command::Resume => {
            return Err(miette::miette!(
                help = "pause and resume act on a MySQL/MariaDB table copy (a mysql:// URL)",
                "there is nothing to pause on PostgreSQL"
            ))
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Every migration file of a folder, in file-name order, all parsed before any runs.
fn load_dir(dir: &Path) -> Result<Vec<Migration>, Report> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        miette::miette!(
            help = "give the folder that holds the migration files",
            "cannot read the folder {}: {e}",
            dir.display()
        )
    })?;
    let mut files: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("yaml") | Some("yml") | Some("json")
                )
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(miette::miette!(
            help = "migration files end in .yaml, .yml or .json",
            "no migration files in {}",
            dir.display()
        ));
    }
    files
        .iter()
        .map(|f| Migration::from_file(f).map_err(parse_error))
        .collect()
}
