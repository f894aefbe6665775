//! Days and times of day as people write them: days are day numbers (days since 1970-01-01) in
//! the center's local calendar, written `YYYY-MM-DD`; times of day are seconds since midnight,
//! written `HH:MM` or `HH:MM:SS`. A center's local time is UTC plus its offset.

pub use callcenter_types::calendar::{DAY_SECONDS, civil, day_from_civil};

/// The day of the week of a day number: 0 Monday … 6 Sunday (1970-01-01 was a Thursday).
pub fn weekday(day: i64) -> usize {
    (day + 3).rem_euclid(7) as usize
}

/// Days of the week, written `mon` … `sun`.
pub const WEEKDAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// A set of days of the week (a shift's pattern: weekdays, the weekend, every day).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Weekdays(u8);

impl Weekdays {
    /// Every day.
    pub const ALL: Weekdays = Weekdays(0b111_1111);

    /// Whether the set holds the day of the week of a day number.
    pub fn contains_day(self, day: i64) -> bool {
        self.0 & (1 << weekday(day)) != 0
    }

    /// Reads day names (`mon` … `sun`); none is every day.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<Self, String> {
        if names.is_empty() {
            return Ok(Self::ALL);
        }
        let mut bits = 0;
        for name in names {
            let index = WEEKDAY_NAMES
                .iter()
                .position(|known| *known == name.as_ref())
                .ok_or_else(|| format!("{:?} is not one of mon … sun", name.as_ref()))?;
            bits |= 1 << index;
        }
        Ok(Self(bits))
    }

    /// Its day names (none for every day).
    pub fn names(self) -> Vec<&'static str> {
        if self == Self::ALL {
            return Vec::new();
        }
        WEEKDAY_NAMES
            .iter()
            .enumerate()
            .filter(|(index, _)| self.0 & (1 << index) != 0)
            .map(|(_, name)| *name)
            .collect()
    }
}

/// Reads `YYYY-MM-DD`.
pub fn parse_day(text: &str) -> Result<i64, String> {
    let invalid = || format!("{text:?} is not a date YYYY-MM-DD");
    let mut parts = text.split('-');
    let (Some(y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid());
    };
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return Err(invalid());
    }
    let year: i64 = y.parse().map_err(|_| invalid())?;
    let month: u32 = m.parse().map_err(|_| invalid())?;
    let day: u32 = d.parse().map_err(|_| invalid())?;
    if !(1..=12).contains(&month) || day == 0 {
        return Err(invalid());
    }
    let number = day_from_civil(year, month, day);
    // 31 February and the like come back as another date.
    if civil(number) != (year, month, day) {
        return Err(invalid());
    }
    Ok(number)
}

/// Writes `YYYY-MM-DD`.
pub fn format_day(day: i64) -> String {
    let (y, m, d) = civil(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Reads `HH:MM` or `HH:MM:SS` (00:00 to 23:59:59) as seconds since midnight.
pub fn parse_time_of_day(text: &str) -> Result<u32, String> {
    let invalid = || format!("{text:?} is not a time of day HH:MM or HH:MM:SS");
    let parts: Vec<&str> = text.split(':').collect();
    if !(2..=3).contains(&parts.len()) || parts.iter().any(|part| part.len() != 2) {
        return Err(invalid());
    }
    let mut fields = [0u32; 3];
    for (field, part) in fields.iter_mut().zip(&parts) {
        *field = part.parse().map_err(|_| invalid())?;
    }
    let [h, m, s] = fields;
    if h > 23 || m > 59 || s > 59 {
        return Err(invalid());
    }
    Ok(h * 3_600 + m * 60 + s)
}

/// Writes `HH:MM`, or `HH:MM:SS` when the seconds are not zero.
pub fn format_time_of_day(seconds: u32) -> String {
    let (h, m, s) = (seconds / 3_600, seconds / 60 % 60, seconds % 60);
    if s == 0 {
        format!("{h:02}:{m:02}")
    } else {
        format!("{h:02}:{m:02}:{s:02}")
    }
}

/// The local day of an instant (Unix milliseconds) at a UTC offset in minutes.
pub fn local_day(unix_millis: i64, utc_offset_minutes: i32) -> i64 {
    (unix_millis / 1_000 + i64::from(utc_offset_minutes) * 60).div_euclid(DAY_SECONDS)
}

/// The instant (Unix milliseconds) of a local day and time of day at a UTC offset in minutes.
pub fn instant(day: i64, seconds_of_day: i64, utc_offset_minutes: i32) -> i64 {
    (day * DAY_SECONDS + seconds_of_day - i64::from(utc_offset_minutes) * 60) * 1_000
}

/// Monday 00:00 of the local week of an instant (both Unix milliseconds) at a UTC offset in
/// minutes: where a week's plan starts.
pub fn week_start(unix_millis: i64, utc_offset_minutes: i32) -> i64 {
    let today = local_day(unix_millis, utc_offset_minutes);
    instant(today - weekday(today) as i64, 0, utc_offset_minutes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-02, a Monday.
    const NOV_2: i64 = 20_759;

    #[test]
    fn the_calendar_is_the_civil_one() {
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(NOV_2), (2026, 11, 2));
        assert_eq!(civil(NOV_2 + 29), (2026, 12, 1));
        for day in -800_000..800_000 {
            let (y, m, d) = civil(day);
            assert_eq!(day_from_civil(y, m, d), day);
        }
    }

    #[test]
    fn a_week_starts_at_the_local_monday_midnight() {
        // Monday 2026-11-30 00:30 in Beijing is still Sunday in UTC; Sunday 23:30 local belongs
        // to the week before.
        let monday = instant(NOV_2 + 28, 0, 480);
        assert_eq!(week_start(instant(NOV_2 + 28, 1_800, 480), 480), monday);
        assert_eq!(week_start(instant(NOV_2 + 34, 84_600, 480), 480), monday);
        assert_eq!(
            week_start(instant(NOV_2 + 27, 84_600, 480), 480),
            instant(NOV_2 + 21, 0, 480)
        );
    }

    #[test]
    fn days_and_times_are_read_as_people_write_them() {
        assert_eq!(parse_day("2026-11-02"), Ok(NOV_2));
        assert_eq!(format_day(NOV_2), "2026-11-02");
        assert_eq!(parse_day("2028-02-29").map(civil), Ok((2028, 2, 29)));
        for bad in [
            "2026-02-29",
            "2026-13-01",
            "2026-1-01",
            "26-11-02",
            "2026-11-02-1",
            "",
        ] {
            assert!(parse_day(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_time_of_day("08:30"), Ok(30_600));
        assert_eq!(parse_time_of_day("22:00:05"), Ok(79_205));
        assert_eq!(format_time_of_day(30_600), "08:30");
        assert_eq!(format_time_of_day(79_205), "22:00:05");
        for bad in ["24:00", "8:30", "08:60", "08:30:60", "0830", "08:30:00:00"] {
            assert!(parse_time_of_day(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn shifts_follow_weekday_and_weekend_patterns() {
        assert_eq!(weekday(NOV_2), 0, "2 November 2026 is a Monday");
        let weekend = Weekdays::parse(&["sat", "sun"]).expect("days");
        assert!(!weekend.contains_day(NOV_2));
        assert!(weekend.contains_day(NOV_2 + 5) && weekend.contains_day(NOV_2 + 6));
        assert_eq!(weekend.names(), ["sat", "sun"]);
        assert_eq!(Weekdays::parse::<&str>(&[]), Ok(Weekdays::ALL));
        assert!(Weekdays::ALL.names().is_empty());
        assert!(Weekdays::parse(&["monday"]).is_err());
    }

    #[test]
    fn a_center_keeps_its_own_local_time() {
        // 2026-11-02 08:30 in Beijing (UTC+8) is 00:30 UTC the same day.
        let at = instant(NOV_2, 30_600, 480);
        assert_eq!(at, (NOV_2 * DAY_SECONDS + 1_800) * 1_000);
        assert_eq!(local_day(at, 480), NOV_2);
        // 23:30 UTC on 1 November is already 2 November in Beijing.
        assert_eq!(local_day(instant(NOV_2 - 1, 84_600, 0), 480), NOV_2);
    }
}
