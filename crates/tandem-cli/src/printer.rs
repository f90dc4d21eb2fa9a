//! How engine events look on the terminal: one line each, on stderr, so stdout stays clean
//! for results (`--json`).

use std::sync::atomic::{AtomicBool, Ordering};
use tandem_pg::{Event, Reporter};

pub struct Printer {
    quiet: AtomicBool,
}

impl Printer {
    pub fn new(quiet: bool) -> Printer {
        Printer {
            quiet: AtomicBool::new(quiet),
        }
    }
}

impl Reporter for Printer {
    fn event(&self, event: Event) {
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
        }
    }
}
