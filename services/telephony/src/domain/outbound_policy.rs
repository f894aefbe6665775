//! A tenant's rules for outbound calls: the do-not-call list and the calling hours
//! (DOMAIN.md §2: respect the customer's wishes, no harassment).
//!
//! - The do-not-call list blocks marketing and survey calls; a callback the customer asked for is
//!   still allowed.
//! - Calling hours, when set, apply to every outbound call: local time (the tenant's UTC offset)
//!   must fall on an allowed weekday, at or after the start minute and before the end minute.

use std::collections::BTreeSet;

use callcenter_kit::{Aggregate, Timestamp};

use super::number::PhoneNumber;

/// Why a call goes out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutboundPurpose {
    /// Calling back a customer who asked for it.
    Callback,
    /// A satisfaction survey (DOMAIN.md §5).
    Survey,
    /// Marketing.
    Marketing,
}

impl OutboundPurpose {
    /// Whether the do-not-call list applies to this purpose.
    pub fn respects_do_not_call(self) -> bool {
        !matches!(self, OutboundPurpose::Callback)
    }
}

/// When outbound calls may be placed, in the tenant's local time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallingHours {
    /// The tenant's offset from UTC in minutes (China: +480).
    pub utc_offset_minutes: i32,
    /// First allowed minute of the day (0..1440).
    pub start_minute: u16,
    /// First minute no longer allowed (start..=1440).
    pub end_minute: u16,
    /// Allowed weekdays, Monday first.
    pub weekdays: [bool; 7],
}

impl CallingHours {
    /// Checks the hours: offset within −12:00..+14:00, a non-empty window, at least one weekday.
    pub fn validate(&self) -> Result<(), String> {
        if !(-720..=840).contains(&self.utc_offset_minutes) {
            return Err("utc_offset_minutes must be between -720 and 840".into());
        }
        if self.start_minute >= self.end_minute || self.end_minute > 1440 {
            return Err("need 0 <= start_minute < end_minute <= 1440".into());
        }
        if !self.weekdays.iter().any(|allowed| *allowed) {
            return Err("at least one weekday must be allowed".into());
        }
        Ok(())
    }

    /// Whether `at` falls inside the hours.
    pub fn allows(&self, at: Timestamp) -> bool {
        let local_minutes =
            at.unix_millis().div_euclid(60_000) + i64::from(self.utc_offset_minutes);
        let day = local_minutes.div_euclid(1440);
        let minute_of_day = local_minutes.rem_euclid(1440);
        // 1970-01-01 was a Thursday: Monday-first index 3.
        let weekday = (day + 3).rem_euclid(7) as usize;
        self.weekdays[weekday]
            && minute_of_day >= i64::from(self.start_minute)
            && minute_of_day < i64::from(self.end_minute)
    }
}

/// A tenant's outbound rules.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OutboundPolicy {
    /// Numbers that must not get marketing or survey calls.
    pub do_not_call: BTreeSet<String>,
    /// When calls may go out; unrestricted when unset.
    pub calling_hours: Option<CallingHours>,
}

/// Why an outbound call may not be placed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundRefusal {
    /// The number is on the do-not-call list.
    #[error("{number} is on the do-not-call list")]
    DoNotCall {
        /// The number.
        number: String,
    },
    /// It is outside the tenant's calling hours.
    #[error("outside the calling hours")]
    OutsideCallingHours,
}

impl OutboundPolicy {
    /// Whether a call to `number` for `purpose` may be placed at `at`.
    pub fn permits(
        &self,
        number: &PhoneNumber,
        purpose: OutboundPurpose,
        at: Timestamp,
    ) -> Result<(), OutboundRefusal> {
        if purpose.respects_do_not_call() && self.do_not_call.contains(number.as_str()) {
            return Err(OutboundRefusal::DoNotCall {
                number: number.as_str().to_owned(),
            });
        }
        if let Some(hours) = &self.calling_hours
            && !hours.allows(at)
        {
            return Err(OutboundRefusal::OutsideCallingHours);
        }
        Ok(())
    }
}

/// What can be asked of the policy.
#[derive(Clone, Debug, PartialEq)]
pub enum OutboundPolicyCommand {
    /// Puts a number on the do-not-call list.
    AddDoNotCall {
        /// The number.
        number: PhoneNumber,
        /// When.
        at: Timestamp,
    },
    /// Takes a number off the list.
    RemoveDoNotCall {
        /// The number.
        number: PhoneNumber,
        /// When.
        at: Timestamp,
    },
    /// Sets (or clears, with `None`) the calling hours.
    SetCallingHours {
        /// The hours.
        hours: Option<CallingHours>,
        /// When.
        at: Timestamp,
    },
}

/// What the policy records.
#[derive(Clone, Debug, PartialEq)]
pub enum OutboundPolicyEvent {
    /// A number went on the do-not-call list.
    DoNotCallAdded {
        /// The number.
        number: PhoneNumber,
        /// When.
        at: Timestamp,
    },
    /// A number came off the list.
    DoNotCallRemoved {
        /// The number.
        number: PhoneNumber,
        /// When.
        at: Timestamp,
    },
    /// The calling hours changed.
    CallingHoursSet {
        /// The hours, or none.
        hours: Option<CallingHours>,
        /// When.
        at: Timestamp,
    },
}

/// Why the policy refuses a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundPolicyError {
    /// The calling hours do not make sense.
    #[error("invalid calling hours: {0}")]
    InvalidCallingHours(String),
}

impl Aggregate for OutboundPolicy {
    const CONTEXT: &'static str = "telephony";
    const TYPE: &'static str = "outbound_policy";
    type Command = OutboundPolicyCommand;
    type Event = OutboundPolicyEvent;
    type Error = OutboundPolicyError;

    fn decide(
        &self,
        command: &OutboundPolicyCommand,
    ) -> Result<Vec<OutboundPolicyEvent>, OutboundPolicyError> {
        match command {
            OutboundPolicyCommand::AddDoNotCall { number, at } => {
                if self.do_not_call.contains(number.as_str()) {
                    return Ok(vec![]);
                }
                Ok(vec![OutboundPolicyEvent::DoNotCallAdded {
                    number: number.clone(),
                    at: *at,
                }])
            }
            OutboundPolicyCommand::RemoveDoNotCall { number, at } => {
                if !self.do_not_call.contains(number.as_str()) {
                    return Ok(vec![]);
                }
                Ok(vec![OutboundPolicyEvent::DoNotCallRemoved {
                    number: number.clone(),
                    at: *at,
                }])
            }
            OutboundPolicyCommand::SetCallingHours { hours, at } => {
                if let Some(hours) = hours {
                    hours
                        .validate()
                        .map_err(OutboundPolicyError::InvalidCallingHours)?;
                }
                if self.calling_hours == *hours {
                    return Ok(vec![]);
                }
                Ok(vec![OutboundPolicyEvent::CallingHoursSet {
                    hours: hours.clone(),
                    at: *at,
                }])
            }
        }
    }

    fn evolve(&mut self, event: &OutboundPolicyEvent) {
        match event {
            OutboundPolicyEvent::DoNotCallAdded { number, .. } => {
                self.do_not_call.insert(number.as_str().to_owned());
            }
            OutboundPolicyEvent::DoNotCallRemoved { number, .. } => {
                self.do_not_call.remove(number.as_str());
            }
            OutboundPolicyEvent::CallingHoursSet { hours, .. } => {
                self.calling_hours = hours.clone();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use callcenter_kit::testing::{at, given};

    use super::*;

    fn number(value: &str) -> PhoneNumber {
        PhoneNumber::parse(value).unwrap()
    }

    /// 09:00–21:00 China time (UTC+8), Monday to Saturday.
    fn office_hours() -> CallingHours {
        CallingHours {
            utc_offset_minutes: 480,
            start_minute: 9 * 60,
            end_minute: 21 * 60,
            weekdays: [true, true, true, true, true, true, false],
        }
    }

    /// 2026-11-23 (a Monday) at `hour`:00 China time.
    fn monday_at(hour: i64) -> Timestamp {
        // 2026-11-23 00:00 UTC is 1_795_392_000_000 ms.
        Timestamp::from_unix_millis(1_795_392_000_000 + (hour - 8) * 3_600_000)
    }

    #[test]
    fn the_do_not_call_list_blocks_marketing_and_surveys_but_not_callbacks() {
        let mut policy = OutboundPolicy::default();
        policy.evolve(&OutboundPolicyEvent::DoNotCallAdded {
            number: number("13800138000"),
            at: at(0),
        });
        let listed = number("13800138000");
        for purpose in [OutboundPurpose::Marketing, OutboundPurpose::Survey] {
            assert_eq!(
                policy.permits(&listed, purpose, at(1)),
                Err(OutboundRefusal::DoNotCall {
                    number: "13800138000".into()
                })
            );
        }
        assert_eq!(
            policy.permits(&listed, OutboundPurpose::Callback, at(1)),
            Ok(())
        );
        assert_eq!(
            policy.permits(&number("13900139000"), OutboundPurpose::Marketing, at(1)),
            Ok(())
        );
    }

    #[test]
    fn calling_hours_apply_to_every_purpose_in_local_time() {
        let policy = OutboundPolicy {
            calling_hours: Some(office_hours()),
            ..OutboundPolicy::default()
        };
        let customer = number("13900139000");
        assert_eq!(
            policy.permits(&customer, OutboundPurpose::Callback, monday_at(10)),
            Ok(())
        );
        assert_eq!(
            policy.permits(&customer, OutboundPurpose::Callback, monday_at(8)),
            Err(OutboundRefusal::OutsideCallingHours)
        );
        assert_eq!(
            policy.permits(&customer, OutboundPurpose::Survey, monday_at(21)),
            Err(OutboundRefusal::OutsideCallingHours),
            "the end minute is excluded"
        );
        let sunday_noon = Timestamp::from_unix_millis(monday_at(12).unix_millis() - 86_400_000);
        assert_eq!(
            policy.permits(&customer, OutboundPurpose::Marketing, sunday_noon),
            Err(OutboundRefusal::OutsideCallingHours)
        );
    }

    #[test]
    fn numbers_are_listed_once_and_removed_again() {
        let added = OutboundPolicyEvent::DoNotCallAdded {
            number: number("1"),
            at: at(0),
        };
        given::<OutboundPolicy>([added.clone()])
            .when(OutboundPolicyCommand::AddDoNotCall {
                number: number("1"),
                at: at(1),
            })
            .then([]);
        let removed = given::<OutboundPolicy>([added])
            .when(OutboundPolicyCommand::RemoveDoNotCall {
                number: number("1"),
                at: at(2),
            })
            .then([OutboundPolicyEvent::DoNotCallRemoved {
                number: number("1"),
                at: at(2),
            }]);
        assert!(removed.do_not_call.is_empty());
    }

    #[test]
    fn nonsensical_calling_hours_are_refused() {
        let mut backwards = office_hours();
        backwards.start_minute = 22 * 60;
        let refused = given::<OutboundPolicy>([])
            .when(OutboundPolicyCommand::SetCallingHours {
                hours: Some(backwards),
                at: at(0),
            })
            .then_refused();
        assert!(matches!(
            refused,
            OutboundPolicyError::InvalidCallingHours(_)
        ));
        let mut no_days = office_hours();
        no_days.weekdays = [false; 7];
        assert!(no_days.validate().is_err());
        let mut far_east = office_hours();
        far_east.utc_offset_minutes = 900;
        assert!(far_east.validate().is_err());
    }
}
