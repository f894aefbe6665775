//! Keeps a background loop (projection, reactor, distributor) running through failures.

use std::fmt::Display;
use std::future::Future;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

/// The first pause after a failure; it doubles with each failure in a row.
const FIRST_PAUSE: Duration = Duration::from_millis(100);
/// The longest pause.
const LONGEST_PAUSE: Duration = Duration::from_secs(10);
/// An attempt that ran this long counts as healthy: the next failure starts from the first pause.
const HEALTHY_RUN: Duration = Duration::from_secs(30);

/// The pause before each restart of a loop that keeps failing: it doubles with each failure in
/// a row, up to a limit, and starts again from the first pause after a healthy run.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    pause: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { pause: FIRST_PAUSE }
    }
}

impl Backoff {
    /// The pause after a failure of an attempt that ran for `ran_for`.
    pub fn after_failure(&mut self, ran_for: Duration) -> Duration {
        if ran_for >= HEALTHY_RUN {
            self.pause = FIRST_PAUSE;
        }
        let pause = self.pause;
        self.pause = (self.pause * 2).min(LONGEST_PAUSE);
        pause
    }
}

/// Runs `attempt` until it returns `Ok` or `shutdown` is cancelled. After each failure it logs
/// the error under `component`, passes it to `on_failure`, and waits a pause that grows with
/// failures in a row.
pub async fn run_with_restarts<F, Fut, E>(
    component: &str,
    shutdown: &CancellationToken,
    mut attempt: F,
    mut on_failure: impl FnMut(&E),
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: Display,
{
    let mut backoff = Backoff::default();
    while !shutdown.is_cancelled() {
        let started = Instant::now();
        let Err(error) = attempt().await else {
            return;
        };
        let pause = backoff.after_failure(started.elapsed());
        tracing::warn!(component, %error, retry_in = ?pause, "failed, restarting");
        on_failure(&error);
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(pause) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn failures_are_retried_with_a_growing_pause_until_success() {
        let attempts = AtomicUsize::new(0);
        let mut failures = Vec::new();
        let shutdown = CancellationToken::new();
        let started = tokio::time::Instant::now();
        run_with_restarts(
            "test",
            &shutdown,
            || async {
                match attempts.fetch_add(1, Ordering::SeqCst) {
                    0..=2 => Err("broken"),
                    _ => Ok(()),
                }
            },
            |error: &&str| failures.push(error.to_string()),
        )
        .await;
        assert_eq!(attempts.load(Ordering::SeqCst), 4);
        assert_eq!(failures.len(), 3);
        // 100 + 200 + 400 ms of pauses.
        assert_eq!(started.elapsed(), Duration::from_millis(700));
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_ends_the_pause() {
        let shutdown = CancellationToken::new();
        let stopper = shutdown.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(150)).await;
            stopper.cancel();
        });
        run_with_restarts(
            "test",
            &shutdown,
            || async { Err::<(), _>("always") },
            |_| {},
        )
        .await;
        assert!(shutdown.is_cancelled());
    }
}
