//! A dialled number (DNIS) and the queue it leads to.

use callcenter_kit::{Aggregate, Name, Timestamp};

/// A telephone number: an optional `+` then 1 to 32 of `0-9 * #`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Checks and wraps a number.
    pub fn parse(value: &str) -> Result<Self, String> {
        let digits = value.strip_prefix('+').unwrap_or(value);
        let valid = !digits.is_empty()
            && digits.len() <= 32
            && digits
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'*' || b == b'#');
        if valid {
            Ok(Self(value.to_owned()))
        } else {
            Err("expected an optional + then 1 to 32 of 0-9 * #".into())
        }
    }

    /// The number as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number as an aggregate id (`+` becomes `p`, `*` `s`, `#` `h`).
    pub fn as_id(&self) -> Name {
        let id: String = self
            .0
            .chars()
            .map(|c| match c {
                '+' => 'p',
                '*' => 's',
                '#' => 'h',
                digit => digit,
            })
            .collect();
        Name::new(id).expect("a phone number maps to a valid name")
    }
}

/// A dialled number's configuration.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Number {
    /// The queue callers of this number join.
    pub queue_id: Option<Name>,
}

/// What can be asked of a number.
#[derive(Clone, Debug, PartialEq)]
pub enum NumberCommand {
    /// Makes the number lead to a queue.
    Assign {
        /// The queue.
        queue_id: Name,
        /// When.
        at: Timestamp,
    },
}

/// What a number records.
#[derive(Clone, Debug, PartialEq)]
pub enum NumberEvent {
    /// The number now leads to a queue.
    Assigned {
        /// The queue.
        queue_id: Name,
        /// When.
        at: Timestamp,
    },
}

/// Numbers refuse nothing yet; the type keeps the aggregate's shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {}

impl Aggregate for Number {
    const CONTEXT: &'static str = "telephony";
    const TYPE: &'static str = "number";
    type Command = NumberCommand;
    type Event = NumberEvent;
    type Error = NumberError;

    fn decide(&self, command: &NumberCommand) -> Result<Vec<NumberEvent>, NumberError> {
        match command {
            NumberCommand::Assign { queue_id, at } => {
                if self.queue_id.as_ref() == Some(queue_id) {
                    return Ok(vec![]);
                }
                Ok(vec![NumberEvent::Assigned {
                    queue_id: queue_id.clone(),
                    at: *at,
                }])
            }
        }
    }

    fn evolve(&mut self, event: &NumberEvent) {
        match event {
            NumberEvent::Assigned { queue_id, .. } => self.queue_id = Some(queue_id.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use callcenter_kit::testing::given;

    use super::*;

    #[test]
    fn phone_numbers_are_digits_with_an_optional_plus() {
        for good in ["4000", "+8613800138000", "*99#"] {
            assert!(PhoneNumber::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "+", "40 00", "abc", &"1".repeat(33)] {
            assert!(PhoneNumber::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            PhoneNumber::parse("+86*1#").unwrap().as_id().as_str(),
            "p86s1h"
        );
    }

    #[test]
    fn assigning_a_number_again_to_the_same_queue_changes_nothing() {
        let at = Timestamp::from_unix_millis(1);
        let general = Name::new("general").unwrap();
        let assigned = NumberEvent::Assigned {
            queue_id: general.clone(),
            at,
        };
        given::<Number>([assigned.clone()])
            .when(NumberCommand::Assign {
                queue_id: general,
                at,
            })
            .then([]);
        let repairs = Name::new("repairs").unwrap();
        given::<Number>([assigned])
            .when(NumberCommand::Assign {
                queue_id: repairs.clone(),
                at,
            })
            .then([NumberEvent::Assigned {
                queue_id: repairs,
                at,
            }]);
    }
}
