//! When a runner acknowledges what it has applied: at once when the log is quiet, and at most
//! every [`ACK_AT_MOST_EVERY`] (or every [`ACK_EVERY_EVENTS`] events) while it streams past.
//!
//! An acknowledgement is a round trip to the event log, and each consumer used to send one per
//! batch: with commits arriving one at a time under load, that was one round trip per commit
//! per consumer (`just bench capacity` counts the NATS server's messages per call).
//! Holding it back is safe because acknowledgements are cumulative and a runner may be handed
//! a commit again after a restart anyway: at most the last [`ACK_AT_MOST_EVERY`] of commits come
//! again, and views skip what they already folded.

use std::time::{Duration, Instant};

use callcenter_eventlog::{Position, StoreError, Subscription};

/// The longest a runner holds an acknowledgement while commits keep coming.
pub const ACK_AT_MOST_EVERY: Duration = Duration::from_millis(200);
/// Events applied after which a runner acknowledges even within [`ACK_AT_MOST_EVERY`] (well
/// under the JetStream consumer's window of unacknowledged commits).
pub const ACK_EVERY_EVENTS: usize = 5_000;

/// How long a stopping runner waits for its last acknowledgement.
const SHUTDOWN_ACK_WAIT: Duration = Duration::from_secs(2);

/// The acknowledgement a runner owes, and when it last sent one.
#[derive(Debug)]
pub(crate) struct AckPacer {
    owed: Option<Position>,
    events: usize,
    sent_at: Instant,
}

impl Default for AckPacer {
    fn default() -> Self {
        Self {
            owed: None,
            events: 0,
            sent_at: Instant::now() - ACK_AT_MOST_EVERY,
        }
    }
}

impl AckPacer {
    /// `events` events through `position` were applied.
    pub(crate) fn applied(&mut self, position: Position, events: usize) {
        self.owed = Some(position);
        self.events += events;
    }

    /// The position to acknowledge now, if one is due; `quiet` says the log had nothing more.
    pub(crate) fn due(&mut self, quiet: bool) -> Option<Position> {
        let due =
            quiet || self.events >= ACK_EVERY_EVENTS || self.sent_at.elapsed() >= ACK_AT_MOST_EVERY;
        if !due {
            return None;
        }
        self.take()
    }

    /// The position owed, whether due or not (at shutdown).
    pub(crate) fn take(&mut self) -> Option<Position> {
        let owed = self.owed.take()?;
        self.events = 0;
        self.sent_at = Instant::now();
        Some(owed)
    }

    /// Best effort at shutdown: acknowledges what is owed, waiting at most
    /// [`SHUTDOWN_ACK_WAIT`] (what stays unacknowledged comes again and is skipped).
    pub(crate) async fn ack_at_shutdown(&mut self, subscription: &mut dyn Subscription) {
        if let Some(position) = self.take() {
            let _ = tokio::time::timeout(SHUTDOWN_ACK_WAIT, subscription.ack(position)).await;
        }
    }

    /// Acknowledges on `subscription` what is due.
    pub(crate) async fn ack_due(
        &mut self,
        subscription: &mut dyn Subscription,
        quiet: bool,
    ) -> Result<(), StoreError> {
        match self.due(quiet) {
            Some(position) => subscription.ack(position).await,
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_acknowledgement_is_sent_at_once_when_quiet_and_paced_while_commits_stream() {
        let mut pacer = AckPacer::default();
        assert_eq!(pacer.due(false), None, "nothing owed");
        pacer.applied(10, 1);
        assert_eq!(
            pacer.due(false),
            Some(10),
            "the first after a pause goes at once"
        );
        pacer.applied(11, 1);
        assert_eq!(pacer.due(false), None, "held back while commits stream");
        pacer.applied(12, 1);
        assert_eq!(pacer.due(true), Some(12), "the log went quiet: sent");
        pacer.applied(13, ACK_EVERY_EVENTS);
        assert_eq!(pacer.due(false), Some(13), "many events: sent");
        pacer.applied(14, 1);
        assert_eq!(pacer.take(), Some(14), "taken at shutdown");
        assert_eq!(pacer.take(), None);
    }
}
