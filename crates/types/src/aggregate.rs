//! The pure shape of an aggregate: a decision function and a fold.

/// An event-sourced aggregate: a decision function and a fold, with no I/O and no clock.
///
/// `decide` looks at the current state and a command and returns the new events (or why the
/// command is refused); `evolve` applies one event to the state and never fails. Time comes in
/// the command. How the events are stored is the service kit's business (its `PersistedEvent`),
/// so a domain builds on this trait without a log, a database or a broker.
pub trait Aggregate: Default + Clone + Send + Sync + 'static {
    /// The bounded context that owns the aggregate, such as `telephony`.
    const CONTEXT: &'static str;
    /// The aggregate's type name inside its context, such as `call`.
    const TYPE: &'static str;
    /// What can be asked of it.
    type Command: Send + Sync;
    /// What it records.
    type Event: Clone + std::fmt::Debug + PartialEq + Send + Sync;
    /// Why it refuses a command.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Decides what happens when `command` meets the current state.
    fn decide(&self, command: &Self::Command) -> Result<Vec<Self::Event>, Self::Error>;

    /// Applies one event to the state.
    fn evolve(&mut self, event: &Self::Event);

    /// Folds events into a state, starting from the default.
    fn replay<'a>(events: impl IntoIterator<Item = &'a Self::Event>) -> Self {
        let mut state = Self::default();
        for event in events {
            state.evolve(event);
        }
        state
    }
}
