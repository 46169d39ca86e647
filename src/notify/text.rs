//! Text helpers the sink payloads share: feed text made plain, cut to a service's limit,
//! links kept to http(s), and the few facts every alert shows.

use crate::model::Alert;

/// Feed text on one line: control characters (line breaks, escape sequences) become spaces,
/// so a title cannot add lines, headers or terminal codes to a message.
pub fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// `text` cut to at most `max` characters, ending in `…` when cut.
pub fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// `text` cut to at most `max` bytes at a character boundary, ending in `…` when cut.
pub fn cut_bytes(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// Escapes `text` unit by unit with `escape_char`, stopping before the total would pass
/// `max` characters (with room for a closing `…`). Cutting after escaping could split an
/// escape in two and leave a lone escape character that swallows what follows.
pub fn escape_within(text: &str, max: usize, escape_char: impl Fn(char, &mut String)) -> String {
    let mut out = String::new();
    let mut count = 0;
    let mut unit = String::new();
    let total = text.chars().count();
    for (index, c) in text.chars().enumerate() {
        unit.clear();
        escape_char(c, &mut unit);
        let len = unit.chars().count();
        let room = if index + 1 == total {
            max
        } else {
            max.saturating_sub(1)
        };
        if count + len > room {
            out.push('…');
            return out;
        }
        out.push_str(&unit);
        count += len;
    }
    out
}

/// The article's link if it is http(s): a feed could carry `javascript:` or `file:` links.
pub fn http_link(link: Option<&str>) -> Option<url::Url> {
    let url = url::Url::parse(link?).ok()?;
    matches!(url.scheme(), "http" | "https").then_some(url)
}

/// `talks`, `channel` or `match`.
pub fn event(alert: &Alert) -> &'static str {
    alert.verdict.event.map_or("match", |e| e.as_str())
}

/// The reason people read first: the matched sentence, else the first reason.
pub fn main_reason(alert: &Alert) -> Option<&str> {
    alert
        .verdict
        .reasons
        .iter()
        .find(|r| r.starts_with("sentence:"))
        .or_else(|| alert.verdict.reasons.first())
        .map(String::as_str)
}

/// When the article was published, with its zone, or `undated`.
pub fn published(alert: &Alert) -> String {
    alert
        .article
        .published
        .map(|p| p.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "undated".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cutting_respects_the_limit_and_character_boundaries() {
        assert_eq!(cut("abcdef", 6), "abcdef");
        assert_eq!(cut("abcdefg", 6), "abcde…");
        assert_eq!(cut_bytes("ééé", 5), "é…");
        assert!(cut_bytes("ééé", 5).len() <= 5);
        let escape = |c: char, out: &mut String| {
            if c == '*' {
                out.push('\\');
            }
            out.push(c);
        };
        let out = escape_within("a*b*c*d", 5, escape);
        assert_eq!(out, "a\\*b…", "an escape is never split");
        assert_eq!(escape_within("a*", 3, escape), "a\\*");
    }
}
