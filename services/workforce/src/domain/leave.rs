//! Leave and shift swaps with the handbook's rules (DOMAIN.md §7). Each refusal names its rule.
//!
//! Leave, by kind and length (in half days):
//! - **sick leave** is reported at once (by the day it starts); half a day or more needs a
//!   doctor's certificate; two days or more are approved by the director, less by the supervisor;
//! - **personal leave** is asked two days ahead; half a day is approved by the supervisor, two
//!   days or more by the director (an extension is a new request under the same rules);
//! - **vacation** is asked a month (30 days) ahead, and no second person's vacation is approved
//!   for the same period (among the people the caller compares with: a team or a center).
//!
//! Swaps of shifts:
//! - at most **one swapped shift a month**, and it is paid back within the same month;
//! - a swap of **two consecutive shifts** at most twice a year, asked a month ahead.
//!
//! Days are day numbers (days since 1970-01-01); months and years are the calendar's.

use super::calendar::{civil, format_day};

/// What kind of leave.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum LeaveKind {
    /// Sick leave.
    Sick,
    /// Personal leave.
    Personal,
    /// Vacation.
    Vacation,
}

/// A leave request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LeaveRequest {
    /// Which kind.
    pub kind: LeaveKind,
    /// The first day.
    pub start: i64,
    /// How long, in half days (1: half a day; 4: two days).
    pub half_days: u32,
    /// The day it is asked (or, for sick leave, reported).
    pub asked_on: i64,
    /// Whether a doctor's certificate comes with it.
    pub certificate: bool,
}

impl LeaveKind {
    /// Its name, as people and the HTTP API write it.
    pub fn as_str(self) -> &'static str {
        match self {
            LeaveKind::Sick => "sick",
            LeaveKind::Personal => "personal",
            LeaveKind::Vacation => "vacation",
        }
    }
}

impl LeaveRequest {
    /// Whether it covers a day.
    pub fn covers(&self, day: i64) -> bool {
        self.start <= day && day <= self.end()
    }

    /// The last day it covers.
    pub fn end(&self) -> i64 {
        self.start + i64::from(self.half_days.max(1).div_ceil(2)) - 1
    }
}

/// Who approves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Approver {
    /// The team's supervisor.
    Supervisor,
    /// The center's director.
    Director,
}

impl Approver {
    /// Its name, as people and the HTTP API write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Approver::Supervisor => "supervisor",
            Approver::Director => "director",
        }
    }
}

/// Why a request is refused: the rule it breaks.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LeaveRefusal {
    /// Leave of no length.
    #[error("leave of at least half a day")]
    NoLength,
    /// More than a year in one request.
    #[error("at most a year ({MAX_LEAVE_HALF_DAYS} half days) in one request")]
    TooLong,
    /// Sick leave reported after it started.
    #[error("sick leave is reported at once, by the day it starts")]
    SickReportedLate,
    /// Sick leave of half a day or more without a certificate.
    #[error("sick leave of half a day or more needs a doctor's certificate")]
    CertificateRequired,
    /// Personal leave asked less than two days ahead.
    #[error("personal leave is asked two days ahead")]
    PersonalNotice,
    /// Vacation asked less than a month ahead.
    #[error("vacation is asked a month ahead")]
    VacationNotice,
    /// Another person's vacation overlaps.
    #[error(
        "no second person's vacation in the same period (another is approved from {} to {})",
        format_day(*.from),
        format_day(*.to)
    )]
    VacationOverlap {
        /// The other vacation's first day.
        from: i64,
        /// Its last day.
        to: i64,
    },
}

impl LeaveRefusal {
    /// The rule's code, for programs.
    pub fn rule(&self) -> &'static str {
        match self {
            LeaveRefusal::NoLength => "no_length",
            LeaveRefusal::TooLong => "at_most_a_year",
            LeaveRefusal::SickReportedLate => "sick_reported_at_once",
            LeaveRefusal::CertificateRequired => "sick_leave_certificate",
            LeaveRefusal::PersonalNotice => "personal_leave_two_days_ahead",
            LeaveRefusal::VacationNotice => "vacation_a_month_ahead",
            LeaveRefusal::VacationOverlap { .. } => "one_vacation_at_a_time",
        }
    }
}

/// The longest leave one request may ask for, in half days (a year).
pub const MAX_LEAVE_HALF_DAYS: u32 = 730;

/// Half days from which the director approves (two days).
const DIRECTOR_FROM_HALF_DAYS: u32 = 4;

/// Who approves `request`, or the rule it breaks. `others_vacations`: the approved vacations of
/// the other people it is compared with, as (first day, last day).
pub fn decide_leave(
    request: &LeaveRequest,
    others_vacations: &[(i64, i64)],
) -> Result<Approver, LeaveRefusal> {
    if request.half_days == 0 {
        return Err(LeaveRefusal::NoLength);
    }
    if request.half_days > MAX_LEAVE_HALF_DAYS {
        return Err(LeaveRefusal::TooLong);
    }
    match request.kind {
        LeaveKind::Sick => {
            if request.asked_on > request.start {
                return Err(LeaveRefusal::SickReportedLate);
            }
            if !request.certificate {
                return Err(LeaveRefusal::CertificateRequired);
            }
        }
        LeaveKind::Personal => {
            if request.start - request.asked_on < 2 {
                return Err(LeaveRefusal::PersonalNotice);
            }
        }
        LeaveKind::Vacation => {
            if request.start - request.asked_on < 30 {
                return Err(LeaveRefusal::VacationNotice);
            }
            if let Some((from, to)) = others_vacations
                .iter()
                .find(|(from, to)| *from <= request.end() && request.start <= *to)
            {
                return Err(LeaveRefusal::VacationOverlap {
                    from: *from,
                    to: *to,
                });
            }
        }
    }
    Ok(if request.half_days >= DIRECTOR_FROM_HALF_DAYS {
        Approver::Director
    } else {
        Approver::Supervisor
    })
}

/// A swap of shifts asked by one person.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SwapRequest {
    /// The (first) day whose shift is given away.
    pub day: i64,
    /// Whether two consecutive shifts are swapped (`day` and the next).
    pub consecutive: bool,
    /// The day the shift is paid back (worked for the colleague).
    pub payback_day: i64,
    /// The day it is asked.
    pub asked_on: i64,
}

/// Why a swap is refused: the rule it breaks.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SwapRefusal {
    /// A second swapped shift in the month.
    #[error("at most one swapped shift a month")]
    OnePerMonth,
    /// Paid back in another month.
    #[error("a swapped shift is paid back within the month")]
    PaybackInMonth,
    /// A third swap of two consecutive shifts in the year.
    #[error("two consecutive shifts are swapped at most twice a year")]
    TwiceAYear,
    /// Two consecutive shifts asked less than a month ahead.
    #[error("a swap of two consecutive shifts is asked a month ahead")]
    ConsecutiveNotice,
    /// The swapped shift or its payback day is over when the swap is asked.
    #[error("a swap is asked before its days, not after")]
    DayPassed,
}

impl SwapRefusal {
    /// The rule's code, for programs.
    pub fn rule(&self) -> &'static str {
        match self {
            SwapRefusal::OnePerMonth => "one_swap_a_month",
            SwapRefusal::PaybackInMonth => "paid_back_within_the_month",
            SwapRefusal::TwiceAYear => "consecutive_swaps_twice_a_year",
            SwapRefusal::ConsecutiveNotice => "consecutive_swap_a_month_ahead",
            SwapRefusal::DayPassed => "swap_day_passed",
        }
    }
}

/// Whether the person may swap, given their swaps approved before (any order), or the rule it
/// breaks.
pub fn decide_swap(request: &SwapRequest, approved: &[SwapRequest]) -> Result<(), SwapRefusal> {
    if request.day < request.asked_on || request.payback_day < request.asked_on {
        return Err(SwapRefusal::DayPassed);
    }
    let (year, month, _) = civil(request.day);
    let (payback_year, payback_month, _) = civil(request.payback_day);
    if (payback_year, payback_month) != (year, month) {
        return Err(SwapRefusal::PaybackInMonth);
    }
    if request.consecutive {
        if request.day - request.asked_on < 30 {
            return Err(SwapRefusal::ConsecutiveNotice);
        }
        let this_year = approved
            .iter()
            .filter(|swap| swap.consecutive && civil(swap.day).0 == year)
            .count();
        if this_year >= 2 {
            return Err(SwapRefusal::TwiceAYear);
        }
    } else if approved.iter().any(|swap| {
        let (y, m, _) = civil(swap.day);
        !swap.consecutive && (y, m) == (year, month)
    }) {
        return Err(SwapRefusal::OnePerMonth);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-02, a Monday.
    const NOV_2: i64 = 20_759;

    fn leave(kind: LeaveKind, half_days: u32, ahead: i64) -> LeaveRequest {
        LeaveRequest {
            kind,
            start: NOV_2 + 40,
            half_days,
            asked_on: NOV_2 + 40 - ahead,
            certificate: false,
        }
    }

    #[test]
    fn personal_leave_is_asked_two_days_ahead_half_a_day_by_the_supervisor_two_days_by_the_director()
     {
        let half_day = leave(LeaveKind::Personal, 1, 2);
        assert_eq!(decide_leave(&half_day, &[]), Ok(Approver::Supervisor));
        let two_days = leave(LeaveKind::Personal, 4, 3);
        assert_eq!(decide_leave(&two_days, &[]), Ok(Approver::Director));
        let tomorrow = leave(LeaveKind::Personal, 2, 1);
        assert_eq!(
            decide_leave(&tomorrow, &[]),
            Err(LeaveRefusal::PersonalNotice)
        );
    }

    #[test]
    fn leave_is_at_least_half_a_day_and_at_most_a_year_in_one_request() {
        assert_eq!(
            decide_leave(&leave(LeaveKind::Personal, 0, 5), &[]),
            Err(LeaveRefusal::NoLength)
        );
        assert_eq!(
            decide_leave(&leave(LeaveKind::Personal, MAX_LEAVE_HALF_DAYS, 5), &[]),
            Ok(Approver::Director)
        );
        assert_eq!(
            decide_leave(&leave(LeaveKind::Personal, MAX_LEAVE_HALF_DAYS + 1, 5), &[]),
            Err(LeaveRefusal::TooLong)
        );
    }

    #[test]
    fn sick_leave_is_reported_at_once_with_a_certificate() {
        let mut sick = leave(LeaveKind::Sick, 1, 0);
        assert_eq!(
            decide_leave(&sick, &[]),
            Err(LeaveRefusal::CertificateRequired)
        );
        sick.certificate = true;
        assert_eq!(decide_leave(&sick, &[]), Ok(Approver::Supervisor));
        sick.half_days = 4;
        assert_eq!(decide_leave(&sick, &[]), Ok(Approver::Director));
        sick.asked_on = sick.start + 1;
        assert_eq!(
            decide_leave(&sick, &[]),
            Err(LeaveRefusal::SickReportedLate)
        );
    }

    #[test]
    fn vacation_is_asked_a_month_ahead_and_never_two_people_at_once() {
        let vacation = leave(LeaveKind::Vacation, 10, 30);
        assert_eq!(decide_leave(&vacation, &[]), Ok(Approver::Director));
        assert_eq!(
            decide_leave(&leave(LeaveKind::Vacation, 10, 29), &[]),
            Err(LeaveRefusal::VacationNotice)
        );
        // Five days from day 40 (to day 44); another's vacation on days 44 to 50 overlaps.
        let other = (NOV_2 + 44, NOV_2 + 50);
        assert_eq!(
            decide_leave(&vacation, &[other]),
            Err(LeaveRefusal::VacationOverlap {
                from: other.0,
                to: other.1
            })
        );
        assert_eq!(
            decide_leave(&vacation, &[(NOV_2 + 45, NOV_2 + 50)]),
            Ok(Approver::Director)
        );
    }

    #[test]
    fn one_swapped_shift_a_month_paid_back_within_the_month() {
        let swap = SwapRequest {
            day: NOV_2 + 3,
            consecutive: false,
            payback_day: NOV_2 + 10,
            asked_on: NOV_2,
        };
        assert_eq!(decide_swap(&swap, &[]), Ok(()));
        let second = SwapRequest {
            day: NOV_2 + 20,
            payback_day: NOV_2 + 25,
            ..swap
        };
        assert_eq!(decide_swap(&second, &[swap]), Err(SwapRefusal::OnePerMonth));
        let paid_in_december = SwapRequest {
            payback_day: NOV_2 + 30,
            ..swap
        };
        assert_eq!(
            decide_swap(&paid_in_december, &[]),
            Err(SwapRefusal::PaybackInMonth)
        );
        // December is another month.
        let december = SwapRequest {
            day: NOV_2 + 35,
            payback_day: NOV_2 + 40,
            ..swap
        };
        assert_eq!(decide_swap(&december, &[swap]), Ok(()));
    }

    #[test]
    fn two_consecutive_shifts_at_most_twice_a_year_asked_a_month_ahead() {
        let consecutive = |day: i64| SwapRequest {
            day,
            consecutive: true,
            payback_day: day + 5,
            asked_on: day - 30,
        };
        // 2027: January, March, then May.
        let (january, march, may) = (NOV_2 + 70, NOV_2 + 125, NOV_2 + 185);
        assert_eq!(decide_swap(&consecutive(january), &[]), Ok(()));
        assert_eq!(
            decide_swap(&consecutive(march), &[consecutive(january)]),
            Ok(())
        );
        assert_eq!(
            decide_swap(
                &consecutive(may),
                &[consecutive(january), consecutive(march)]
            ),
            Err(SwapRefusal::TwiceAYear)
        );
        let late = SwapRequest {
            asked_on: january - 10,
            ..consecutive(january)
        };
        assert_eq!(decide_swap(&late, &[]), Err(SwapRefusal::ConsecutiveNotice));
    }
}
