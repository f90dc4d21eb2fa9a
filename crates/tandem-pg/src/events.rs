//! What the engine reports while it works. The library never prints; the binary decides how
//! events look (lines on a terminal, JSON, nothing).

use std::time::Duration;
use tandem_core::plan::{Phase, TableLock};

#[derive(Debug, Clone)]
pub enum Event {
    WaitingForRunner {
        elapsed: Duration,
        holder: Option<String>,
    },
    PhaseStarted {
        phase: Phase,
        migration: String,
        total: usize,
        resuming_at: usize,
    },
    StepStarted {
        phase: Phase,
        index: usize,
        total: usize,
        description: String,
        locks: Vec<TableLock>,
    },
    StepDone {
        phase: Phase,
        index: usize,
        total: usize,
        elapsed: Duration,
    },
    LockRetry {
        description: String,
        attempt: u32,
        waited: Duration,
        next_delay: Duration,
    },
    PhaseDone {
        phase: Phase,
        migration: String,
        elapsed: Duration,
    },
    /// Something the user should know that does not stop the command.
    Warning(String),
    /// A backfill batch committed (reported at most every half second, and at the end).
    BackfillProgress {
        table: String,
        rows_done: i64,
        rows_estimate: i64,
        rows_per_second: f64,
        finished: bool,
    },
}

pub trait Reporter: Send + Sync {
    fn event(&self, event: Event);
}

/// Reports nothing.
pub struct Silent;

impl Reporter for Silent {
    fn event(&self, _event: Event) {}
}
