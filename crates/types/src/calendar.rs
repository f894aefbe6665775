//! The proleptic Gregorian calendar and RFC 3339 instants: day numbers (days since 1970-01-01)
//! to dates and back, and instants (Unix seconds and nanoseconds) to text and back.

/// Seconds in a day.
pub const DAY_SECONDS: i64 = 86_400;

/// The calendar date (year, month 1–12, day 1–31) of a day number (Howard Hinnant's
/// days-to-civil algorithm).
pub fn civil(day: i64) -> (i64, u32, u32) {
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    (year_of_era + era * 400 + i64::from(month <= 2), month, day)
}

/// The day number of a calendar date (the inverse of [`civil`]).
pub fn day_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = year - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The days of `month` in `year`.
pub fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// RFC 3339 text in UTC of an instant, with 3, 6 or 9 fractional digits (as few as keep every
/// digit), such as `2026-11-22T16:30:07.123Z`.
pub fn format_rfc3339(unix_seconds: i64, nanos: u32) -> String {
    let (year, month, day) = civil(unix_seconds.div_euclid(DAY_SECONDS));
    let second_of_day = unix_seconds.rem_euclid(DAY_SECONDS);
    let fraction = if nanos.is_multiple_of(1_000_000) {
        format!("{:03}", nanos / 1_000_000)
    } else if nanos.is_multiple_of(1000) {
        format!("{:06}", nanos / 1000)
    } else {
        format!("{nanos:09}")
    };
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{fraction}Z",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60,
    )
}

/// The instant (Unix seconds, nanoseconds) of RFC 3339 text such as `2026-11-22T16:30:07Z` or
/// `2026-11-22T08:30:07.5-08:00`; `Err` says what is wrong.
pub fn parse_rfc3339(text: &str) -> Result<(i64, u32), String> {
    const EXPECTED: &str = "expected an RFC 3339 date-time such as 2026-12-01T08:30:00Z";
    let bytes = text.as_bytes();
    let digits = |from: usize, count: usize| -> Result<u32, String> {
        let part = bytes.get(from..from + count).ok_or(EXPECTED)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return Err(EXPECTED.to_owned());
        }
        Ok(part.iter().fold(0, |n, b| n * 10 + u32::from(b - b'0')))
    };
    let separators = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
    if separators
        .iter()
        .any(|(at, sep)| bytes.get(*at) != Some(sep))
        || !matches!(bytes.get(10), Some(b'T' | b't' | b' '))
    {
        return Err(EXPECTED.to_owned());
    }
    let (year, month, day) = (i64::from(digits(0, 4)?), digits(5, 2)?, digits(8, 2)?);
    let (hour, minute, second) = (digits(11, 2)?, digits(14, 2)?, digits(17, 2)?);
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return Err(format!("{text:?} is not a date in the calendar"));
    }
    if hour > 23 || minute > 59 || second > 60 {
        return Err(format!("{text:?} is not a time of day"));
    }
    let mut at = 19;
    let mut nanos = 0u32;
    if bytes.get(at) == Some(&b'.') {
        let start = at + 1;
        at = start;
        while bytes.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        let count = at - start;
        if count == 0 || count > 9 {
            return Err("expected 1 to 9 fractional digits".to_owned());
        }
        nanos = digits(start, count)? * 10u32.pow((9 - count) as u32);
    }
    let offset_seconds = match bytes.get(at) {
        Some(b'Z' | b'z') if at + 1 == bytes.len() => 0,
        Some(sign @ (b'+' | b'-')) if at + 6 == bytes.len() && bytes[at + 3] == b':' => {
            let (hours, minutes) = (digits(at + 1, 2)?, digits(at + 4, 2)?);
            if hours > 23 || minutes > 59 {
                return Err(EXPECTED.to_owned());
            }
            let seconds = i64::from(hours * 3600 + minutes * 60);
            if *sign == b'+' { seconds } else { -seconds }
        }
        _ => return Err(EXPECTED.to_owned()),
    };
    // A leap second is read as the last second of its minute.
    let second = second.min(59);
    let unix_seconds = day_from_civil(year, month, day) * DAY_SECONDS
        + i64::from(hour * 3600 + minute * 60 + second)
        - offset_seconds;
    Ok((unix_seconds, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_numbers_and_dates_convert_both_ways() {
        for day in [-800_000, -1, 0, 1, 59, 365, 11_016, 20_788, 2_932_896] {
            let (year, month, date) = civil(day);
            assert_eq!(day_from_civil(year, month, date), day);
        }
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(20_788), (2026, 12, 1));
        assert_eq!(civil(11_016), (2000, 2, 29));
    }

    #[test]
    fn instants_print_in_utc_with_the_digits_they_need() {
        assert_eq!(format_rfc3339(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            format_rfc3339(1_796_113_807, 123_000_000),
            "2026-12-01T08:30:07.123Z"
        );
        assert_eq!(
            format_rfc3339(1_796_113_807, 123_400_000),
            "2026-12-01T08:30:07.123400Z"
        );
        assert_eq!(format_rfc3339(-1, 5), "1969-12-31T23:59:59.000000005Z");
    }

    #[test]
    fn instants_are_read_in_any_offset_and_precision() {
        let utc = parse_rfc3339("2026-12-01T08:30:07Z").unwrap();
        assert_eq!(utc, (1_796_113_807, 0));
        assert_eq!(parse_rfc3339("2026-12-01T16:30:07+08:00").unwrap(), utc);
        assert_eq!(
            parse_rfc3339("2026-12-01t08:30:07.5z").unwrap(),
            (1_796_113_807, 500_000_000)
        );
        assert_eq!(
            parse_rfc3339(&format_rfc3339(1_796_113_807, 7)).unwrap(),
            (1_796_113_807, 7)
        );
    }

    #[test]
    fn what_is_not_an_instant_is_refused() {
        for text in [
            "",
            "2026-12-01",
            "2026-12-01T08:30:07",
            "2026-13-01T08:30:07Z",
            "2026-02-29T08:30:07Z",
            "2026-12-01T24:00:00Z",
            "2026-12-01T08:30:07.Z",
            "2026-12-01T08:30:07.1234567890Z",
            "2026-12-01T08:30:07+0800",
            "1796113807",
        ] {
            assert!(parse_rfc3339(text).is_err(), "{text:?} was accepted");
        }
        assert!(parse_rfc3339("2028-02-29T00:00:00Z").is_ok());
    }
}
