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

/// Golden payloads: stored events as releases wrote them, kept in a file and read back by every
/// later release, so that a renumbered field or a changed meaning fails the build.
///
/// The file has one line per payload: `event_type schema_version occurred_at_ms payload_hex`
/// (`-` for an empty payload). Lines are only ever added: with `UPDATE_GOLDEN=1`, a sample whose
/// type has no line at its current version gets one; nothing is rewritten.
pub mod golden {
    use std::fmt::Write as _;
    use std::path::Path;
    use std::sync::Arc;

    use bytes::Bytes;
    use callcenter_eventlog::{
        CommitMetadata, RecordedCommit, RecordedEvent, StreamKey, Timestamp, TraceContext,
    };

    use super::TEST_EPOCH;
    use crate::aggregate::PersistedEvent;

    /// One stored payload of the file.
    #[derive(Clone, Debug, PartialEq, Eq)]
    struct Line {
        event_type: String,
        schema_version: u32,
        occurred_at_ms: i64,
        payload: Vec<u8>,
    }

    fn parse(text: &str) -> Vec<Line> {
        text.lines()
            .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
            .map(|line| {
                let parts: Vec<&str> = line.split_whitespace().collect();
                assert_eq!(parts.len(), 4, "a golden line has four parts: {line}");
                let payload = if parts[3] == "-" {
                    Vec::new()
                } else {
                    (0..parts[3].len())
                        .step_by(2)
                        .map(|at| u8::from_str_radix(&parts[3][at..at + 2], 16).expect("hex"))
                        .collect()
                };
                Line {
                    event_type: parts[0].to_owned(),
                    schema_version: parts[1].parse().expect("a version"),
                    occurred_at_ms: parts[2].parse().expect("an instant"),
                    payload,
                }
            })
            .collect()
    }

    fn format(line: &Line) -> String {
        let mut hex = String::with_capacity(line.payload.len() * 2);
        for byte in &line.payload {
            let _ = write!(hex, "{byte:02x}");
        }
        if hex.is_empty() {
            hex.push('-');
        }
        format!(
            "{} {} {} {hex}\n",
            line.event_type, line.schema_version, line.occurred_at_ms
        )
    }

    fn recorded(stream: &StreamKey, line: &Line) -> RecordedEvent {
        RecordedEvent {
            commit: Arc::new(RecordedCommit {
                position: 1,
                stream: stream.clone(),
                metadata: CommitMetadata {
                    request_id: "golden".into(),
                    correlation_id: "golden".into(),
                    causation_id: "golden".into(),
                    actor: "golden".into(),
                    trace: TraceContext::default(),
                },
            }),
            version: 1,
            event_id: "golden".into(),
            event_type: line.event_type.clone(),
            schema_version: line.schema_version,
            occurred_at: Timestamp::from_unix_millis(line.occurred_at_ms),
            payload: Bytes::from(line.payload.clone()),
        }
    }

    /// Checks the golden payloads of one aggregate's events in `path`: every type of its list
    /// (`event_types`) has a sample, every sample's type has a
    /// payload at its current schema version, every payload still reads as the sample of its
    /// type (payloads of an older version as the `older` event given for that type and
    /// version).
    #[track_caller]
    pub fn check<E: PersistedEvent + PartialEq + std::fmt::Debug>(
        path: &Path,
        stream: &StreamKey,
        event_types: &[&str],
        samples: &[E],
        older: &[(&str, u32, E)],
    ) {
        let sampled: Vec<String> = samples.iter().map(|s| s.encode().event_type).collect();
        for event_type in event_types {
            assert!(
                sampled.iter().any(|sampled| sampled == event_type),
                "{event_type} has no sample: every stored event type needs a golden payload"
            );
        }
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let mut lines = parse(&text);
        let mut added = String::new();
        for sample in samples {
            let encoded = sample.encode();
            let known = lines.iter().any(|line| {
                line.event_type == encoded.event_type
                    && line.schema_version == encoded.schema_version
            });
            if known {
                continue;
            }
            let line = Line {
                event_type: encoded.event_type.clone(),
                schema_version: encoded.schema_version,
                occurred_at_ms: encoded.occurred_at.unwrap_or(TEST_EPOCH).unix_millis(),
                payload: encoded.payload.to_vec(),
            };
            assert!(
                std::env::var_os("UPDATE_GOLDEN").is_some(),
                "{} has no golden payload of {} v{}: run the test with UPDATE_GOLDEN=1 to add it",
                path.display(),
                encoded.event_type,
                encoded.schema_version
            );
            added.push_str(&format(&line));
            lines.push(line);
        }
        if !added.is_empty() {
            std::fs::write(path, format!("{text}{added}")).expect("write the golden payloads");
        }
        for line in &lines {
            let event = recorded(stream, line);
            let decoded = E::decode(&event)
                .unwrap_or_else(|error| panic!("a golden payload no longer reads: {error}"));
            let current = samples
                .iter()
                .find(|sample| sample.encode().event_type == line.event_type)
                .unwrap_or_else(|| panic!("no sample of {}", line.event_type));
            let current_version = current.encode().schema_version;
            if line.schema_version == current_version {
                // Decoding into the sample catches a renumbered or retyped field (it would read
                // as its default); bytes are not compared, as maps encode in any order.
                assert_eq!(
                    &decoded, current,
                    "{} v{}",
                    line.event_type, line.schema_version
                );
            } else {
                let expected = older
                    .iter()
                    .find(|(event_type, version, _)| {
                        *event_type == line.event_type && *version == line.schema_version
                    })
                    .map(|(_, _, expected)| expected)
                    .unwrap_or_else(|| {
                        panic!(
                            "say what {} v{} reads as now (an older version)",
                            line.event_type, line.schema_version
                        )
                    });
                assert_eq!(
                    &decoded, expected,
                    "{} v{} upcast",
                    line.event_type, line.schema_version
                );
            }
        }
    }
}
