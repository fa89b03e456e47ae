//! The lexicon `datetime` format: RFC 3339 that is also ISO 8601.
//!
//! `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)`: upper-case `T` and `Z`, a mandatory
//! timezone, `-00:00` refused, exact zero padding. Values must also be real instants: month,
//! day (with leap years), hour, minute and second in range (no leap second `:60`, as in the
//! Go and TypeScript references), and not before year 0 once normalised to UTC.
//!
//! Also owns how a stored instant is presented ([`format_datetime`]): every valid datetime is
//! stored as its instant and shown as RFC 3339 UTC with microseconds, clamped to
//! `0000-01-01T00:00:00Z..=9999-12-31T23:59:59.999999Z` (an offset can carry a valid value
//! past year 9999, and stored times may come from elsewhere). Formatting never fails.

use chrono::{DateTime, FixedOffset, Utc};

use super::{Format, SyntaxError};

/// Longest datetime accepted (generous: room for a long fraction).
const DATETIME_MAX_LEN: usize = 64;

/// Reads exactly `N` ASCII digits at `at` as a number.
fn digits<const N: usize>(b: &[u8], at: usize) -> Option<u32> {
    let slice = b.get(at..at + N)?;
    slice.iter().try_fold(0u32, |acc, d| d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0')))
}

fn days_in_month(year: u32, month: u32) -> u32 {
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Whether `s` is a valid atproto datetime (see the module docs).
pub fn is_valid_datetime(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() > DATETIME_MAX_LEN || b.len() < 20 {
        return false;
    }
    let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if separators.iter().any(|&(i, c)| b[i] != c) {
        return false;
    }
    let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = (
        digits::<4>(b, 0),
        digits::<2>(b, 5),
        digits::<2>(b, 8),
        digits::<2>(b, 11),
        digits::<2>(b, 14),
        digits::<2>(b, 17),
    ) else {
        return false;
    };
    let mut at = 19;
    if b[at] == b'.' {
        let fraction = b[at + 1..].iter().take_while(|d| d.is_ascii_digit()).count();
        if fraction == 0 {
            return false;
        }
        at += 1 + fraction;
    }
    let offset_minutes: i64 = match &b[at..] {
        b"Z" => 0,
        [sign @ (b'+' | b'-'), tz @ ..] if tz.len() == 5 && tz[2] == b':' => {
            let (Some(h), Some(m)) = (digits::<2>(tz, 0), digits::<2>(tz, 3)) else {
                return false;
            };
            if h > 23 || m > 59 || (*sign == b'-' && h == 0 && m == 0) {
                return false;
            }
            let minutes = i64::from(h * 60 + m);
            if *sign == b'-' { -minutes } else { minutes }
        }
        _ => return false,
    };
    let in_range = (1..=12).contains(&month)
        && (1..=days_in_month(year, month)).contains(&day)
        && hour <= 23
        && minute <= 59
        && second <= 59;
    // Only 0000-01-01 with a positive offset can fall before year 0 in UTC.
    let before_year_zero =
        year == 0 && month == 1 && day == 1 && i64::from(hour * 60 + minute) < offset_minutes;
    in_range && !before_year_zero
}

/// Validates `s` as a datetime and parses it, keeping its offset.
pub fn parse_datetime(s: &str) -> Result<DateTime<FixedOffset>, SyntaxError> {
    if !is_valid_datetime(s) {
        return Err(SyntaxError::new(Format::Datetime, s));
    }
    DateTime::parse_from_rfc3339(s).map_err(|_| SyntaxError::new(Format::Datetime, s))
}

/// 0000-01-01T00:00:00Z in µs since the Unix epoch: the earliest instant presented.
pub const PRESENTABLE_MIN_US: i64 = -62_167_219_200_000_000;
/// 9999-12-31T23:59:59.999999Z in µs since the Unix epoch: the latest instant presented.
pub const PRESENTABLE_MAX_US: i64 = 253_402_300_799_999_999;

/// `t` moved into the presentable range (`0000-01-01T00:00:00Z..=9999-12-31T23:59:59.999999Z`)
/// and truncated to whole microseconds.
pub fn clamp_presentable(t: DateTime<Utc>) -> DateTime<Utc> {
    let us = t.timestamp_micros().clamp(PRESENTABLE_MIN_US, PRESENTABLE_MAX_US);
    // Every value in the clamped range is a valid chrono instant.
    DateTime::from_timestamp_micros(us).unwrap_or(DateTime::UNIX_EPOCH)
}

/// How an instant is presented: `YYYY-MM-DDTHH:MM:SS.ffffffZ`, clamped with
/// [`clamp_presentable`], so the result is always a valid atproto datetime of exactly 27 bytes
/// that every RFC 3339 parser reads back.
pub fn format_datetime(t: DateTime<Utc>) -> String {
    clamp_presentable(t).format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_instant_presents_as_a_valid_datetime() {
        let at = |us: i64| DateTime::from_timestamp_micros(us).expect("in chrono's range");
        let cases = [
            (at(0), "1970-01-01T00:00:00.000000Z"),
            (at(1_700_000_000_123_456), "2023-11-14T22:13:20.123456Z"),
            (at(PRESENTABLE_MIN_US), "0000-01-01T00:00:00.000000Z"),
            (at(PRESENTABLE_MAX_US), "9999-12-31T23:59:59.999999Z"),
            (at(PRESENTABLE_MIN_US - 1), "0000-01-01T00:00:00.000000Z"),
            (at(PRESENTABLE_MAX_US + 1), "9999-12-31T23:59:59.999999Z"),
            (DateTime::<Utc>::MIN_UTC, "0000-01-01T00:00:00.000000Z"),
            (DateTime::<Utc>::MAX_UTC, "9999-12-31T23:59:59.999999Z"),
            (at(-30_610_224_000_000_000), "1000-01-01T00:00:00.000000Z"),
        ];
        for (t, expected) in cases {
            let shown = format_datetime(t);
            assert_eq!(shown, expected, "{t:?}");
            assert!(is_valid_datetime(&shown), "{shown}");
        }
        // An offset carries this valid value into year 10000: it is stored as its instant and
        // presented at the end of the range.
        let past_9999 = parse_datetime("9999-12-31T23:59:59-05:00").expect("valid");
        assert_eq!(format_datetime(past_9999.with_timezone(&Utc)), "9999-12-31T23:59:59.999999Z");
        let early = parse_datetime("0000-01-01T00:00:00-01:00").expect("valid");
        assert_eq!(format_datetime(early.with_timezone(&Utc)), "0000-01-01T01:00:00.000000Z");
    }

    #[test]
    fn datetimes() {
        let cases = [
            ("2024-02-29T12:00:00Z", true),
            ("2023-02-29T12:00:00Z", false),
            ("2000-02-29T12:00:00Z", true),
            ("1900-02-29T12:00:00Z", false),
            ("2024-04-31T00:00:00Z", false),
            ("2024-01-01T23:59:60Z", false),
            ("2024-01-01T00:00:00.Z", false),
            ("2024-01-01T00:00:00+24:00", false),
            ("2024-01-01T00:00:00-00:00", false),
            ("2024-01-01T00:00:00+00:00", true),
            ("0000-01-01T01:00:00+01:00", true),
            ("0000-01-01T00:59:00+01:00", false),
            ("0000-01-01T00:00:00-01:00", true),
        ];
        for (value, expected) in cases {
            assert_eq!(is_valid_datetime(value), expected, "{value:?}");
        }
    }

    #[test]
    fn parse_keeps_offset_and_long_fractions() {
        let cases = [
            ("1985-04-12T23:20:50.123-07:00", 482_221_250),
            ("1985-04-12T23:20:50.1235678912345Z", 482_196_050),
        ];
        for (value, unix) in cases {
            let parsed = parse_datetime(value).expect(value);
            assert_eq!(parsed.timestamp(), unix, "{value}");
        }
        assert!(parse_datetime("1985-04-12").is_err());
    }
}
