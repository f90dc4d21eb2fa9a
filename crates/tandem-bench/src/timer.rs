//! A [`Reporter`] that times tandem's own steps, so the benchmark measures the backfill alone
//! and not the DDL, the version schema or the bookkeeping around it.

use std::sync::Mutex;
use std::time::{Duration, Instant};
use tandem_pg::{Event, Reporter};

/// Which step is which: the descriptions the planner gives them (tandem-core's `sync.rs`).
const BACKFILL_PREFIX: &str = "backfill ";
const VERIFY_PREFIX: &str = "verify every row";

#[derive(Debug, Default)]
struct State {
    /// The step running now: its index, description and when it began.
    current: Option<(usize, String, Instant)>,
    backfill: Option<Duration>,
    verify: Option<Duration>,
}

/// Step times of one `tandem start`. One per run: nothing is reset.
#[derive(Debug, Default)]
pub struct StepTimer {
    // A mutex because `Reporter::event` takes `&self` and must be `Sync`; it is never contended.
    state: Mutex<State>,
}

/// What one `tandem start` took.
#[derive(Debug, Clone, Copy)]
pub struct StepTimes {
    pub backfill: Option<Duration>,
    pub verify: Option<Duration>,
}

impl StepTimer {
    pub fn times(&self) -> StepTimes {
        let state = self.lock();
        StepTimes {
            backfill: state.backfill,
            verify: state.verify,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave `State` half-written in a way that
        // matters here, so a poisoned lock is used as is rather than turned into a second panic.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Reporter for StepTimer {
    fn event(&self, event: Event) {
        // The instant is taken before locking so that the lock never adds to a measurement.
        let now = Instant::now();
        let mut state = self.lock();
        match event {
            Event::StepStarted {
                index, description, ..
            } => state.current = Some((index, description, now)),
            Event::StepDone { index, .. } => {
                // Our own instants rather than the event's `elapsed`, so that all three methods
                // are timed by the same clock readings in this process; the two agree to within
                // the cost of emitting an event.
                if let Some((started_index, description, began)) = state.current.take() {
                    if started_index == index {
                        let took = now.duration_since(began);
                        if description.starts_with(BACKFILL_PREFIX) {
                            state.backfill = Some(state.backfill.unwrap_or_default() + took);
                        } else if description.starts_with(VERIFY_PREFIX) {
                            state.verify = Some(state.verify.unwrap_or_default() + took);
                        }
                    }
                }
            }
            _ => {}
        }
    }
}
