//! Durations as people write and read them: the one strict parser for the config and the
//! command line, and the rounded form for logs and messages. Imports nothing of ours.
//!
//! The parser accepts exactly the units the README lists. humantime, which it replaces for
//! reading, also takes months (`"5M"`), weeks and spelled-out words (`"2 days"`), so a
//! typo of `"5m"` became five months; a unit outside the list is refused with the list.

use std::time::Duration;

/// The units a duration may use, as the messages list them.
pub const UNITS: &str = "ms, s, m, h, d";

/// Why a text is not a duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Empty or blank.
    #[error("is empty; use a number with a unit, e.g. \"90s\", \"5m\", \"2h\" (units: {UNITS})")]
    Empty,
    /// A number with no unit after it.
    #[error("`{0}` has no unit; write it with one, e.g. \"{0}s\" or \"{0}m\" (units: {UNITS})")]
    NoUnit(String),
    /// A unit that is not in [`UNITS`].
    #[error(
        "`{unit}` in `{text}` is not a unit; use one of {UNITS}, e.g. \"90s\", \"5m\", \"1h30m\""
    )]
    UnknownUnit {
        /// The whole text.
        text: String,
        /// The unit as written.
        unit: String,
    },
    /// Something other than a whole number where a number belongs.
    #[error(
        "`{0}` is not a duration; use whole numbers with a unit, e.g. \"90s\", \"5m\", \"1h30m\" (units: {UNITS})"
    )]
    NotANumber(String),
    /// Larger than any clock can wait.
    #[error("`{0}` is too long")]
    TooLong(String),
}

/// Parses `"90s"`, `"5m"`, `"2h"`, `"3d"`, `"250ms"` or a sum of them (`"1h30m"`, `"1h 30m"`).
/// Units are case-sensitive (`"5M"` is refused, not read as months or minutes).
///
/// # Errors
/// [`DurationError`] naming what is wrong and listing the units.
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(DurationError::Empty);
    }
    let mut total = Duration::ZERO;
    let mut rest = trimmed;
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            return Err(DurationError::NotANumber(text.to_string()));
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| DurationError::TooLong(text.to_string()))?;
        // A space may stand between a number and its unit, so "2 days" is refused for its
        // unit, which is what the writer needs to hear.
        rest = rest[digits..].trim_start();
        let unit_len = rest.len() - rest.trim_start_matches(|c: char| c.is_alphabetic()).len();
        let unit = &rest[..unit_len];
        rest = rest[unit_len..].trim_start();
        let part = match unit {
            "" if trimmed.len() == digits => return Err(DurationError::NoUnit(trimmed.into())),
            "" => return Err(DurationError::NotANumber(text.to_string())),
            "ms" => Some(Duration::from_millis(number)),
            "s" => Some(Duration::from_secs(number)),
            "m" => number.checked_mul(60).map(Duration::from_secs),
            "h" => number.checked_mul(3600).map(Duration::from_secs),
            "d" => number.checked_mul(86_400).map(Duration::from_secs),
            other => {
                return Err(DurationError::UnknownUnit {
                    text: text.to_string(),
                    unit: other.to_string(),
                });
            }
        };
        total = part
            .and_then(|part| total.checked_add(part))
            .ok_or_else(|| DurationError::TooLong(text.to_string()))?;
    }
    Ok(total)
}

/// A duration rounded for people: `"840ms"`, `"1.96s"`, `"2m 5s"`, `"3h 10m"`, `"2d 4h"`.
/// Two units at most, because `retry_in=1s 955ms 68us 717ns` tells nobody anything more.
pub fn human(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis < 1000 {
        return format!("{millis}ms");
    }
    if millis < 60_000 {
        let seconds = format!("{:.2}", duration.as_secs_f64());
        let seconds = seconds.trim_end_matches('0').trim_end_matches('.');
        return format!("{seconds}s");
    }
    // Round to the nearest second before splitting, so 119.6 s is "2m", not "1m 59s".
    let secs = (millis + 500) / 1000;
    let (big, small, big_unit, small_unit) = if secs < 3600 {
        (secs / 60, secs % 60, "m", "s")
    } else if secs < 86_400 {
        let minutes = (secs + 30) / 60;
        (minutes / 60, minutes % 60, "h", "m")
    } else {
        let hours = (secs + 1800) / 3600;
        (hours / 24, hours % 24, "d", "h")
    };
    if small == 0 {
        format!("{big}{big_unit}")
    } else {
        format!("{big}{big_unit} {small}{small_unit}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_units_and_sums_of_them_parse() {
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse("3d"), Ok(Duration::from_secs(3 * 86_400)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse(" 1h 30m "), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("5 m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn other_units_are_refused_with_the_list() {
        for text in ["5M", "2 days", "1w", "3 hours", "10sec", "1y"] {
            let err = parse(text).expect_err(text).to_string();
            assert!(err.contains("ms, s, m, h, d"), "{text}: {err}");
        }
        assert!(matches!(parse("5M"), Err(DurationError::UnknownUnit { unit, .. }) if unit == "M"));
        assert!(
            matches!(parse("2 days"), Err(DurationError::UnknownUnit { unit, .. }) if unit == "days")
        );
    }

    #[test]
    fn numbers_without_units_and_junk_are_refused() {
        assert_eq!(parse("90"), Err(DurationError::NoUnit("90".into())));
        assert_eq!(parse(""), Err(DurationError::Empty));
        assert!(matches!(parse("1.5h"), Err(DurationError::NotANumber(_))));
        assert!(matches!(parse("-5m"), Err(DurationError::NotANumber(_))));
        assert!(matches!(parse("5m30"), Err(DurationError::NotANumber(_))));
        assert!(matches!(
            parse("99999999999999999999d"),
            Err(DurationError::TooLong(_))
        ));
    }

    #[test]
    fn durations_are_rounded_for_people() {
        assert_eq!(human(Duration::from_nanos(1_955_068_717)), "1.96s");
        assert_eq!(human(Duration::from_millis(840)), "840ms");
        assert_eq!(human(Duration::from_secs(2)), "2s");
        assert_eq!(human(Duration::from_millis(2500)), "2.5s");
        assert_eq!(human(Duration::from_secs(125)), "2m 5s");
        assert_eq!(human(Duration::from_millis(119_600)), "2m");
        assert_eq!(human(Duration::from_secs(3600)), "1h");
        assert_eq!(
            human(Duration::from_secs(3 * 3600 + 10 * 60 + 20)),
            "3h 10m"
        );
        assert_eq!(human(Duration::from_secs(2 * 86_400 + 4 * 3600)), "2d 4h");
    }
}
