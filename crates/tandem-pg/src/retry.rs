//! Waiting for locks: the one place that decides which failures are worth another try and how
//! long to wait between tries. The executor's DDL steps and the backfill's batches both run
//! through [`on_lock_failure`], so they back off the same way and stay within the same budget.

use crate::events::{Event, Reporter};
use std::time::{Duration, Instant};
use tokio_postgres::error::SqlState;

/// How patient tandem is with locks.
#[derive(Debug, Clone)]
pub struct LockSettings {
    /// How long one statement may wait for a lock: also the longest any other session queues
    /// behind tandem's waiting statement.
    pub lock_timeout: Duration,
    /// How long tandem keeps retrying one step before it gives up.
    pub retry_budget: Duration,
}

impl Default for LockSettings {
    fn default() -> Self {
        LockSettings {
            lock_timeout: Duration::from_millis(500),
            retry_budget: Duration::from_secs(60),
        }
    }
}

/// The delay before retry `attempt` (1-based): exponential from 100 ms, capped at 5 s, with
/// "equal jitter" (half fixed, half random) so that retries of several runners spread out.
pub(crate) fn backoff(attempt: u32) -> Duration {
    let exp = 100u64.saturating_mul(1u64 << attempt.saturating_sub(1).min(16));
    let capped = exp.min(5_000);
    let half = capped / 2;
    Duration::from_millis(half + fastrand::u64(0..=half))
}

/// Whether a statement failed only because it met someone else's lock (its `lock_timeout`
/// expired, it was chosen as a deadlock victim, or a serialization conflict): running it again
/// later can succeed, and nothing it did was kept.
pub(crate) fn is_lock_failure(e: &tokio_postgres::Error) -> bool {
    matches!(e.code(), Some(c) if *c == SqlState::LOCK_NOT_AVAILABLE
        || *c == SqlState::T_R_DEADLOCK_DETECTED
        || *c == SqlState::T_R_SERIALIZATION_FAILURE)
}

/// Why [`on_lock_failure`] stopped trying.
pub(crate) enum GaveUp<E> {
    /// The attempt failed for a reason waiting does not cure.
    Failed(E),
    /// Every attempt met a lock, and the next wait would overrun the budget.
    Budget {
        last: E,
        attempts: u32,
        waited: Duration,
    },
}

/// Runs `attempt` until it succeeds, retrying it after a backoff while it fails on a lock
/// (as `lock_failure` tells from its error), for at most `settings.retry_budget`. Each retry is
/// reported as [`Event::LockRetry`] under `description`.
pub(crate) async fn on_lock_failure<T, E>(
    settings: &LockSettings,
    reporter: &dyn Reporter,
    description: &str,
    lock_failure: impl Fn(&E) -> bool,
    mut attempt: impl AsyncFnMut() -> Result<T, E>,
) -> Result<T, GaveUp<E>> {
    let begun = Instant::now();
    let mut tries = 0u32;
    loop {
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(e) if lock_failure(&e) => {
                tries += 1;
                let delay = backoff(tries);
                if begun.elapsed() + delay > settings.retry_budget {
                    return Err(GaveUp::Budget {
                        last: e,
                        attempts: tries,
                        waited: begun.elapsed(),
                    });
                }
                reporter.event(Event::LockRetry {
                    description: description.to_string(),
                    attempt: tries,
                    waited: begun.elapsed(),
                    next_delay: delay,
                });
                tokio::time::sleep(delay).await;
            }
            Err(e) => return Err(GaveUp::Failed(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        for attempt in 1..30 {
            let d = backoff(attempt).as_millis() as u64;
            let full = (100u64 << (attempt - 1).min(16)).min(5_000);
            assert!(
                d >= full / 2 && d <= full,
                "attempt {attempt}: {d} not in [{}, {full}]",
                full / 2
            );
        }
    }

    /// Keeps the events it is given.
    #[derive(Default)]
    struct Kept(std::sync::Mutex<Vec<Event>>);

    impl Reporter for Kept {
        fn event(&self, event: Event) {
            self.0.lock().unwrap().push(event);
        }
    }

    fn settings(budget_ms: u64) -> LockSettings {
        LockSettings {
            lock_timeout: Duration::from_millis(10),
            retry_budget: Duration::from_millis(budget_ms),
        }
    }

    #[tokio::test]
    async fn lock_failures_are_retried_and_reported_until_the_attempt_succeeds() {
        let kept = Kept::default();
        let mut tries = 0;
        let outcome: Result<u32, GaveUp<&str>> = on_lock_failure(
            &settings(10_000),
            &kept,
            "step 1",
            |e: &&str| *e == "lock",
            async || {
                tries += 1;
                if tries < 3 {
                    Err("lock")
                } else {
                    Ok(tries)
                }
            },
        )
        .await;
        assert!(matches!(outcome, Ok(3)));
        let events = kept.0.lock().unwrap();
        let attempts: Vec<u32> = events
            .iter()
            .filter_map(|e| match e {
                Event::LockRetry {
                    description,
                    attempt,
                    ..
                } if description == "step 1" => Some(*attempt),
                _ => None,
            })
            .collect();
        assert_eq!(attempts, vec![1, 2]);
    }

    #[tokio::test]
    async fn other_failures_are_not_retried() {
        let kept = Kept::default();
        let mut tries = 0;
        let outcome: Result<(), GaveUp<&str>> = on_lock_failure(
            &settings(10_000),
            &kept,
            "step",
            |e: &&str| *e == "lock",
            async || {
                tries += 1;
                Err("syntax")
            },
        )
        .await;
        assert!(matches!(outcome, Err(GaveUp::Failed("syntax"))));
        assert_eq!(tries, 1);
        assert!(kept.0.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn the_budget_ends_the_retries_before_a_wait_would_overrun_it() {
        let kept = Kept::default();
        let mut tries = 0;
        // The first backoff is at least 50 ms: a 20 ms budget allows no retry.
        let outcome: Result<(), GaveUp<&str>> = on_lock_failure(
            &settings(20),
            &kept,
            "step",
            |e: &&str| *e == "lock",
            async || {
                tries += 1;
                Err("lock")
            },
        )
        .await;
        match outcome {
            Err(GaveUp::Budget { last, attempts, .. }) => {
                assert_eq!((last, attempts), ("lock", 1));
            }
            _ => panic!("expected the budget to run out"),
        }
        assert_eq!(tries, 1);
    }
}
