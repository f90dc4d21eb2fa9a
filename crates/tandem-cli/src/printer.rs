//! How engine events look on the terminal: one line each, on stderr, so stdout stays clean
//! for results (`--json`).

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tandem_pg::{Event, Reporter};

pub struct Printer {
    quiet: AtomicBool,
    /// On a terminal: a progress bar per backfill. Without one: a log line every few seconds.
    terminal: bool,
    bar: Mutex<Option<ProgressBar>>,
    last_line: Mutex<Option<Instant>>,
}

impl Printer {
    pub fn new(quiet: bool) -> Printer {
        Printer {
            quiet: AtomicBool::new(quiet),
            terminal: std::io::stderr().is_terminal(),
            bar: Mutex::new(None),
            last_line: Mutex::new(None),
        }
    }

    fn backfill(&self, table: &str, done: i64, estimate: i64, rate: f64, finished: bool) {
        if self.terminal {
            let mut bar = self.bar.lock().unwrap_or_else(|p| p.into_inner());
            let b = bar.get_or_insert_with(|| {
                let b = ProgressBar::new(estimate.max(1) as u64);
                b.set_style(
                    ProgressStyle::with_template("    backfill {msg} [{bar:30}] {human_pos}/{human_len} rows, {per_sec}, ETA {eta}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                );
                b.set_message(table.to_string());
                b
            });
            b.set_length(estimate.max(done).max(1) as u64);
            b.set_position(done.max(0) as u64);
            if finished {
                b.finish();
                *bar = None;
            }
            return;
        }
        let mut last = self.last_line.lock().unwrap_or_else(|p| p.into_inner());
        if finished || last.is_none_or(|t| t.elapsed() >= Duration::from_secs(5)) {
            let eta = if rate > 0.0 && estimate > done {
                format!(", ETA {:.0}s", (estimate - done) as f64 / rate)
            } else {
                String::new()
            };
            eprintln!(
                "    backfill {table}: {done} of ~{estimate} rows, {rate:.0} rows/s{eta}{}",
                if finished { " (done)" } else { "" }
            );
            *last = if finished { None } else { Some(Instant::now()) };
        }
    }
}

impl Reporter for Printer {
    fn event(&self, event: Event) {
        if let Event::Warning(message) = &event {
            // Shown even with --quiet: it is about the user's migration.
            eprintln!("warning: {message}");
            return;
        }
        if self.quiet.load(Ordering::Relaxed) {
            return;
        }
        match event {
            Event::WaitingForRunner { elapsed, holder } => eprintln!(
                "waiting for another tandem ({}) for {:.0}s",
                holder.unwrap_or_else(|| "unknown".into()),
                elapsed.as_secs_f64()
            ),
            Event::PhaseStarted { phase, migration, total, resuming_at } => {
                if resuming_at > 0 && resuming_at < total {
                    eprintln!("{phase} {migration}: resuming at step {} of {total}", resuming_at + 1);
                } else {
                    eprintln!("{phase} {migration}: {total} steps");
                }
            }
            Event::StepStarted { index, total, description, locks, .. } => {
                let locks = if locks.is_empty() {
                    String::new()
                } else {
                    format!(
                        "  [{}]",
                        locks
                            .iter()
                            .map(|l| format!("{} on {}", l.mode, l.relation))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                eprintln!("  {}/{total} {description}{locks}", index + 1);
            }
            Event::StepDone { .. } => {}
            Event::LockRetry { description, attempt, waited, next_delay } => eprintln!(
                "    lock not available for `{description}` (attempt {attempt}, {:.1}s so far); retrying in {} ms",
                waited.as_secs_f64(),
                next_delay.as_millis()
            ),
            Event::PhaseDone { phase, migration, elapsed } => {
                eprintln!("{phase} {migration}: done in {:.2}s", elapsed.as_secs_f64())
            }
            Event::Warning(_) => {}
            Event::BackfillProgress { table, rows_done, rows_estimate, rows_per_second, finished } => {
                self.backfill(&table, rows_done, rows_estimate, rows_per_second, finished)
            }
        }
    }
}
