//! Lenient date parsing: RFC 3339 and RFC 2822 first, then the broken forms real feeds use.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// Formats without a time zone, read as UTC.
const NAIVE_FORMATS: &[&str] = &[
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%d %b %Y %H:%M:%S",
    "%d %B %Y %H:%M:%S",
    "%a, %d %b %Y %H:%M:%S",
    "%a, %d %b %Y %H:%M",
    "%d %b %Y %H:%M",
    "%B %d, %Y %H:%M:%S",
    "%b %d, %Y %H:%M:%S",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
];

/// Date-only formats, read as midnight UTC.
const DATE_FORMATS: &[&str] = &[
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%d %b %Y",
    "%d %B %Y",
    "%B %d, %Y",
    "%b %d, %Y",
    "%a, %d %b %Y",
];

/// Time-zone abbreviations that RFC 2822 does not know but feeds use.
const ZONES: &[(&str, i32)] = &[
    ("UTC", 0),
    ("Z", 0),
    ("BST", 3600),
    ("CET", 3600),
    ("CEST", 7200),
    ("EET", 7200),
    ("EEST", 10800),
    ("MSK", 10800),
    ("IRST", 12600),
    ("IST", 19800),
    ("JST", 32400),
    ("KST", 32400),
    ("AEST", 36000),
    ("HKT", 28800),
    ("SGT", 28800),
];

/// Parses a feed date in any common form. Two-digit years are read as 19xx/20xx by the
/// RFC 2822 rule; a missing time zone means UTC.
pub fn parse_date(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(date) = DateTime::parse_from_rfc3339(text) {
        return Some(date.with_timezone(&Utc));
    }
    if let Ok(date) = DateTime::parse_from_rfc2822(text) {
        return Some(date.with_timezone(&Utc));
    }
    // A zone abbreviation RFC 2822 does not know: parse the rest and apply the offset.
    if let Some((rest, zone)) = text.rsplit_once(' ')
        && let Some((_, offset)) = ZONES
            .iter()
            .find(|(name, _)| zone.eq_ignore_ascii_case(name))
    {
        return parse_naive(rest).map(|date| date - chrono::Duration::seconds(i64::from(*offset)));
    }
    // A numeric offset on an otherwise naive form ("2020-01-10 14:33:00 +0330").
    for format in [
        "%Y-%m-%d %H:%M:%S %z",
        "%Y/%m/%d %H:%M:%S %z",
        "%Y-%m-%d %H:%M %z",
    ] {
        if let Ok(date) = DateTime::parse_from_str(text, format) {
            return Some(date.with_timezone(&Utc));
        }
    }
    parse_naive(text)
}

fn parse_naive(text: &str) -> Option<DateTime<Utc>> {
    for format in NAIVE_FORMATS {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, format) {
            return Some(Utc.from_utc_datetime(&naive));
        }
    }
    for format in DATE_FORMATS {
        if let Ok(date) = NaiveDate::parse_from_str(text, format) {
            return Some(Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0)?));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ymdhm(date: DateTime<Utc>) -> String {
        date.format("%Y-%m-%d %H:%M").to_string()
    }

    #[test]
    fn common_and_broken_forms_are_read() {
        let cases = [
            ("2020-01-10T14:33:00Z", "2020-01-10 14:33"),
            ("Fri, 10 Jan 2020 14:33:00 GMT", "2020-01-10 14:33"),
            ("Fri, 10 Jan 20 14:33:00 GMT", "2020-01-10 14:33"),
            ("2020/1/10 14:33", "2020-01-10 14:33"),
            ("2020-01-10 14:33:00", "2020-01-10 14:33"),
            ("2020-01-10T14:33:00", "2020-01-10 14:33"),
            ("Fri, 10 Jan 2020 16:33:00 CEST", "2020-01-10 14:33"),
            ("10 January 2020", "2020-01-10 00:00"),
            ("2020-01-10 18:03:00 +0330", "2020-01-10 14:33"),
        ];
        for (text, expected) in cases {
            assert_eq!(
                parse_date(text).map(ymdhm).as_deref(),
                Some(expected),
                "{text}"
            );
        }
        assert_eq!(parse_date("yesterday-ish"), None);
        assert_eq!(parse_date(""), None);
    }
}
