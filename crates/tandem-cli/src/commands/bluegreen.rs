//! `tandem bluegreen ...`: blue-green databases over logical replication (tandem-bluegreen).

use crate::cli::{BluegreenArgs, BluegreenCommand, Global};
use crate::diagnostics::{parse_error, pg_error};
use miette::Report;
use std::process::ExitCode;
use tandem_bluegreen::{Options, Progress, SwitchReport, SwitchSettings, VerifySettings};
use tandem_core::Migration;

/// Progress lines on stderr (results go to stdout).
struct Lines {
    quiet: bool,
}

impl Progress for Lines {
    fn step(&self, message: &str) {
        if !self.quiet {
            eprintln!("  {message}");
        }
    }
}

pub async fn run(args: &BluegreenArgs, g: &Global) -> Result<ExitCode, Report> {
    let (Some(blue), Some(green)) = (&g.url, &args.green_url) else {
        return Err(miette::miette!(
            help = "give both: --url postgres://... for blue (the live database) and --green-url postgres://... for green",
            "tandem bluegreen needs the blue and the green database"
        ));
    };
    let options = Options {
        blue_url: blue.clone(),
        green_url: green.clone(),
        schema: g.schema.clone(),
    };
    let progress = Lines { quiet: g.quiet };
    match &args.command {
        BluegreenCommand::Create { files } => {
            let migrations = files
                .iter()
                .map(|f| Migration::from_file(f).map_err(parse_error))
                .collect::<Result<Vec<_>, _>>()?;
            let report = tandem_bluegreen::create(&options, &migrations, &progress)
                .await
                .map_err(pg_error)?;
            println!(
                "green is created ({} schema statements) and receiving blue's rows",
                report.schema_statements
            );
            println!("  replicated as they are: {}", list(&report.direct));
            println!("  through the migration's up: {}", list(&report.staged));
            for w in &report.warnings {
                println!("  note: {w}");
            }
            println!("next: `tandem bluegreen status` until it says streaming, then `verify`, then `switchover`");
        }
        BluegreenCommand::Status { json } => {
            let s = tandem_bluegreen::status(&options).await.map_err(pg_error)?;
            if *json {
                println!("{}", to_json(&s)?);
            } else {
                println!("state: {}", s.state);
                if let (Some(a), Some(t)) = (s.active, &s.active_target) {
                    println!("active: {} ({t})", a.name());
                }
                println!(
                    "lag: {} bytes, {} s",
                    opt(s.lag_bytes),
                    s.lag_seconds
                        .map(|v| format!("{v:.3}"))
                        .unwrap_or_else(|| "?".into())
                );
                println!(
                    "initial copy: {} of {} tables done ({} rows in copies running)",
                    s.tables_ready, s.tables_total, s.rows_copying
                );
                if let Some(v) = s.verified {
                    println!("last verify: {}", if v { "equal" } else { "differences" });
                }
                if let Some(e) = &s.last_error {
                    println!("last error: {e}");
                }
            }
            if s.state == "broken" || s.state == "unreachable" {
                return Ok(ExitCode::from(3));
            }
        }
        BluegreenCommand::Verify { json, batch_size } => {
            let settings = VerifySettings {
                batch_size: *batch_size,
                ..VerifySettings::default()
            };
            let r = tandem_bluegreen::verify(&options, &settings, &progress)
                .await
                .map_err(pg_error)?;
            if *json {
                println!("{}", to_json(&r)?);
            } else {
                for t in &r.tables {
                    println!(
                        "{} -> {}: {} / {} rows, {} batch(es), {}",
                        t.source,
                        t.target,
                        t.rows_active,
                        t.rows_passive,
                        t.batches,
                        if t.differences.is_empty() {
                            "equal".to_string()
                        } else {
                            t.differences.join("; ")
                        }
                    );
                }
                println!(
                    "{}",
                    if r.ok {
                        "both sides hold the same rows"
                    } else {
                        "the sides differ"
                    }
                );
            }
            if !r.ok {
                return Ok(ExitCode::from(4));
            }
        }
        BluegreenCommand::Switchover(a) | BluegreenCommand::Switchback(a) => {
            let settings = SwitchSettings {
                max_lag_bytes: a.max_lag,
                max_lag_time: a.max_lag_time,
                max_transaction_age: a.max_transaction_age,
                require_verified: !a.skip_verify,
                write_grace: a.write_grace,
                lock_timeout: a.fence_timeout,
                catch_up_timeout: a.catch_up_timeout,
            };
            let r = if matches!(args.command, BluegreenCommand::Switchover(_)) {
                tandem_bluegreen::switchover(&options, &settings, &progress).await
            } else {
                tandem_bluegreen::switchback(&options, &settings, &progress).await
            }
            .map_err(pg_error)?;
            if a.json {
                println!("{}", to_json(&r)?);
            } else {
                print_switch(&r);
            }
        }
        BluegreenCommand::Cleanup => {
            let r = tandem_bluegreen::cleanup(&options)
                .await
                .map_err(pg_error)?;
            if r.removed.is_empty() {
                println!("nothing of tandem bluegreen was left on either side");
            }
            for line in &r.removed {
                println!("removed {line}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_switch(r: &SwitchReport) {
    println!(
        "{} is live; writes were unavailable for {:.0} ms",
        r.to.name(),
        r.window_ms
    );
    for (phase, ms) in &r.phases {
        println!("  {phase}: {ms:.1} ms");
    }
    println!(
        "  {}'s last write: LSN {}; {} sequence(s) copied; {} session(s) ended",
        r.from.name(),
        r.final_lsn,
        r.sequences_copied,
        r.sessions_terminated
    );
    println!("connect applications to: {}", r.new_url_without_password);
    println!(
        "{} now receives {}'s writes (through the migration's {}); `tandem bluegreen {}` goes back",
        r.from.name(),
        r.to.name(),
        if r.to.name() == "green" { "down" } else { "up" },
        if r.to.name() == "green" {
            "switchback"
        } else {
            "switchover"
        }
    );
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

fn opt(v: Option<i64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "?".into())
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String, Report> {
    serde_json::to_string_pretty(v).map_err(|e| miette::miette!("cannot write JSON: {e}"))
}
