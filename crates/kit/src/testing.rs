//! Given/when/then for aggregates: given past events, when a command, then these events or this
//! refusal. Pure, so domain rules are tested without any infrastructure.

use callcenter_eventlog::{Name, Timestamp};

use crate::aggregate::Aggregate;

/// A fixed instant (2025-11-22 08:26:40 UTC) that domain tests count from.
pub const TEST_EPOCH: Timestamp = Timestamp::from_unix_millis(1_763_800_000_000);

/// The instant `seconds` after [`TEST_EPOCH`], for commands and events in tests.
pub fn at(seconds: i64) -> Timestamp {
    Timestamp::from_unix_millis(TEST_EPOCH.unix_millis() + seconds * 1000)
}

/// A [`Name`] from a literal that is known to be valid (panics otherwise).
#[track_caller]
pub fn name(value: &str) -> Name {
    Name::new(value).expect("a valid name in a test")
}

/// Starts a scenario from past events.
pub fn given<A: Aggregate>(history: impl IntoIterator<Item = A::Event>) -> Given<A> {
    let history: Vec<A::Event> = history.into_iter().collect();
    Given {
        state: A::replay(&history),
    }
}

/// A state built from past events.
#[derive(Debug)]
pub struct Given<A> {
    state: A,
}

impl<A: Aggregate> Given<A> {
    /// Decides a command against the state.
    pub fn when(self, command: A::Command) -> Then<A> {
        let result = self.state.decide(&command);
        Then {
            state: self.state,
            result,
        }
    }

    /// The state itself, for assertions about `evolve`.
    pub fn state(&self) -> &A {
        &self.state
    }
}

/// The outcome of a decision, to assert on.
#[derive(Debug)]
pub struct Then<A: Aggregate> {
    state: A,
    result: Result<Vec<A::Event>, A::Error>,
}

impl<A: Aggregate> Then<A> {
    /// Asserts that the command produced exactly these events, and returns the state after them.
    #[track_caller]
    pub fn then(self, expected: impl IntoIterator<Item = A::Event>) -> A {
        let expected: Vec<A::Event> = expected.into_iter().collect();
        match self.result {
            Ok(events) => {
                assert_eq!(events, expected, "the command produced other events");
                let mut state = self.state;
                for event in &events {
                    state.evolve(event);
                }
                state
            }
            Err(error) => {
                panic!("expected events {expected:?}, but the command was refused: {error}")
            }
        }
    }

    /// Asserts that the command was accepted; returns its events and the state after them, for
    /// scenarios whose events are easier to check through the state.
    #[track_caller]
    pub fn accepted(self) -> (Vec<A::Event>, A) {
        match self.result {
            Ok(events) => {
                let mut state = self.state;
                for event in &events {
                    state.evolve(event);
                }
                (events, state)
            }
            Err(error) => {
                panic!("expected the command to be accepted, but it was refused: {error}")
            }
        }
    }

    /// Asserts that the command was refused, and returns the reason for further checks.
    #[track_caller]
    pub fn then_refused(self) -> A::Error {
        match self.result {
            Ok(events) => panic!("expected a refusal, but the command produced {events:?}"),
            Err(error) => error,
        }
    }

    /// Asserts that the command was refused for exactly this reason.
    #[track_caller]
    pub fn then_error(self, expected: A::Error)
    where
        A::Error: PartialEq,
    {
        let error = self.then_refused();
        assert_eq!(error, expected, "refused for another reason");
    }
}
