//! The commands on MySQL and MariaDB: a `mysql://` or `mariadb://` URL selects them.

use crate::cli::{Command, Global};
use indicatif::{ProgressBar, ProgressStyle};
use miette::{miette, Report};
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Duration;
use tandem_core::Migration;
use tandem_mysql::engine::Options;
use tandem_mysql::online::LockPolicy;
use tandem_mysql::shadow::throttle::ThrottleConfig;
use tandem_mysql::shadow::CopyConfig;
use tandem_mysql::state::Status;
use tandem_mysql::{Engine, Event};

pub async fn run(command: Command, g: Global, url: &str) -> Result<ExitCode, Report> {
    let migration = match &command {
        Command::Start { file, .. } | Command::Validate { file } | Command::Plan { file, .. } => {
            Some(Migration::from_file(file).map_err(crate::diagnostics::parse_error)?)
        }
        _ => None,
    };
    let a = &g.mysql;
    let options = Options {
        lock: LockPolicy {
            // The server counts lock_wait_timeout in whole seconds.
            lock_wait_timeout: g.lock_timeout.max(Duration::from_secs(1)),
            retry_budget: g.lock_retry_budget,
        },
        copy: CopyConfig {
            chunk_time: a.chunk_time,
            throttle: ThrottleConfig {
                max_threads_running: a.max_threads_running,
                replicas: a.replicas.clone(),
                max_replica_lag: a.max_replica_lag,
            },
            cut_over_timeout: a.cut_over_timeout,
            ..CopyConfig::default()
        },
        force_copy: a.copy,
        postpone_cut_over: a.postpone_cut_over,
    };
    let engine = Engine::connect(url, options).await.map_err(error)?;
    let printer = Printer::new(g.quiet);
    let report = |e: Event| printer.event(e);
    match command {
        Command::Start { complete, .. } => {
            let m = migration.ok_or_else(|| miette!("no migration file"))?;
            let status = engine.start(&m, &report).await.map_err(error)?;
            printer.finish();
            if status == Status::ReadyForCutOver && complete {
                engine.complete(&report).await.map_err(error)?;
                println!("migration {} is complete", m.name);
            } else if status == Status::ReadyForCutOver {
                println!(
                    "migration {}: the copy is done and checked; run `tandem complete` to cut over",
                    m.name
                );
            } else {
                println!("migration {} is complete", m.name);
            }
        }
        Command::Complete => {
            engine.complete(&report).await.map_err(error)?;
            printer.finish();
            println!("the migration is complete");
        }
        Command::Rollback => {
            engine.rollback(&report).await.map_err(error)?;
            println!("the migration is rolled back");
        }
        Command::Status { json } => {
            let status = engine.status().await.map_err(error)?;
            show_status(status.as_ref(), json);
        }
        Command::Validate { .. } => {
            let m = migration.ok_or_else(|| miette!("no migration file"))?;
            let changes = engine.validate(&m).await.map_err(error)?;
            println!("{} is valid: {} change(s)", m.file, changes.len());
        }
        Command::Plan { json, .. } => {
            let m = migration.ok_or_else(|| miette!("no migration file"))?;
            let changes = engine.validate(&m).await.map_err(error)?;
            if json {
                let list: Vec<_> = changes
                    .iter()
                    .map(|c| serde_json::json!({"location": c.location, "sql": c.sql()}))
                    .collect();
                println!("{}", serde_json::Value::Array(list));
            } else {
                for c in &changes {
                    let how = if matches!(c.kind, tandem_mysql::plan::ChangeKind::Alter { .. }) {
                        "tried with ALGORITHM=INSTANT, then INPLACE/LOCK=NONE, else copied through a shadow table"
                    } else {
                        "run under lock_wait_timeout"
                    };
                    println!("{}\n    {};\n    -- {how}", c.location, c.sql());
                }
            }
        }
        Command::Pause | Command::Resume => {
            let pause = matches!(command, Command::Pause);
            let name = engine.set_paused(pause).await.map_err(error)?;
            println!(
                "migration {name}: copy {}",
                if pause { "paused" } else { "resumed" }
            );
        }
        other => {
            return Err(miette!(
                help = "on MySQL/MariaDB tandem has start, complete, rollback, status, validate, plan, pause and resume",
                "`{}` is not available on MySQL/MariaDB",
                command_name(&other)
            ))
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn command_name(c: &Command) -> String {
    format!("{c:?}")
        .split([' ', '{', '('])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

fn error(e: tandem_mysql::Error) -> Report {
    miette!("{e}")
}

fn show_status(status: Option<&tandem_mysql::StatusReport>, json: bool) {
    let Some(s) = status else {
        if json {
            println!("null");
        } else {
            println!("no migration has been started on this database");
        }
        return;
    };
    if json {
        println!(
            "{}",
            serde_json::json!({
                "migration": s.migration,
                "status": s.status,
                "changes_done": s.changes_done,
                "changes_total": s.changes_total,
                "table": s.table,
                "rows_copied": s.rows_copied,
                "rows_estimate": s.rows_estimate,
                "copy_done": s.copy_done,
                "cut_over": s.cut_over,
                "binlog_lag_bytes": s.binlog_lag_bytes,
                "eta_seconds": s.eta_seconds,
                "throttle": s.throttle,
                "paused": s.paused,
            })
        );
        return;
    }
    println!(
        "migration {}: {} ({} of {} changes done)",
        s.migration, s.status, s.changes_done, s.changes_total
    );
    if let Some(table) = &s.table {
        println!(
            "  copy of {table}: {} of ~{} rows{}{}",
            s.rows_copied,
            s.rows_estimate,
            if s.copy_done { ", copy done" } else { "" },
            if s.cut_over { ", cut over" } else { "" }
        );
        if let Some(lag) = s.binlog_lag_bytes {
            println!("  binlog lag: {lag} bytes");
        }
        if let Some(eta) = s.eta_seconds {
            println!("  ETA: {eta}s");
        }
        let throttle = if s.paused {
            "paused".to_string()
        } else if s.throttle.is_empty() {
            "not throttled".to_string()
        } else {
            s.throttle.clone()
        };
        println!("  throttle: {throttle}");
    }
}

/// Events on stderr: a progress bar for a copy on a terminal, log lines otherwise.
struct Printer {
    quiet: bool,
    terminal: bool,
    bar: Mutex<Option<ProgressBar>>,
    /// Without a terminal: when the last progress line was printed (one every 5 s).
    last_line: Mutex<Option<std::time::Instant>>,
}

impl Printer {
    fn new(quiet: bool) -> Printer {
        Printer {
            quiet,
            terminal: std::io::stderr().is_terminal(),
            bar: Mutex::new(None),
            last_line: Mutex::new(None),
        }
    }

    fn finish(&self) {
        if let Some(bar) = self.bar.lock().unwrap_or_else(|p| p.into_inner()).take() {
            bar.finish();
        }
    }

    fn event(&self, event: Event) {
        if self.quiet {
            return;
        }
        match event {
            Event::Copied {
                table,
                rows,
                estimate,
            } => {
                if self.terminal {
                    let mut bar = self.bar.lock().unwrap_or_else(|p| p.into_inner());
                    let b = bar.get_or_insert_with(|| {
                        let b = ProgressBar::new(estimate.max(1));
                        b.set_style(
                            ProgressStyle::with_template(
                                "    copy {msg} [{bar:30}] {human_pos}/{human_len} rows, {per_sec}, ETA {eta}",
                            )
                            .unwrap_or_else(|_| ProgressStyle::default_bar())
                            .progress_chars("=> "),
                        );
                        b.set_message(table);
                        b
                    });
                    b.set_length(estimate.max(rows).max(1));
                    b.set_position(rows);
                } else {
                    let mut last = self.last_line.lock().unwrap_or_else(|p| p.into_inner());
                    if last.is_none_or(|t| t.elapsed() >= Duration::from_secs(5)) {
                        eprintln!("    copy {table}: {rows} of ~{estimate} rows");
                        *last = Some(std::time::Instant::now());
                    }
                }
            }
            Event::Applied { location, how } => eprintln!("  {location}: done ({how})"),
            Event::CopyStarted {
                location,
                table,
                shadow,
                resumed,
            } => eprintln!(
                "  {location}: the server would copy `{table}` under a lock; {} the online copy into `{shadow}`",
                if resumed { "resuming" } else { "starting" }
            ),
            Event::Throttled { reason } => eprintln!("    throttled: {reason}"),
            Event::ChecksumPassed { table, chunks } => {
                self.finish();
                eprintln!("    checksum of `{table}` and its copy: {chunks} chunk(s), all equal")
            }
            Event::CutOverAttempt { table, attempt } if attempt > 1 => {
                eprintln!("    cut-over of `{table}`: attempt {attempt}")
            }
            Event::CutOverAttempt { .. } => {}
            Event::CutOver { table, old } => {
                eprintln!("    cut over: `{table}` has its new definition; the old table is kept as `{old}`")
            }
            Event::WaitingForCutOver { table } => {
                eprintln!("    `{table}`: copy done and checked; the cut-over waits for `tandem complete`")
            }
            Event::RolledBack { what } => eprintln!("  {what}"),
        }
    }
}
