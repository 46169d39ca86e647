//! Titles and summaries as plain text: tags, entities, control characters and whitespace
//! dealt with.

use super::repair;

/// HTML or text to plain text: tags and comments removed (script and style with their
/// content), entities decoded, whitespace collapsed to single spaces.
pub fn plain_text(html: &str) -> String {
    collapse(&strip_tags(html, false))
}

/// A title to plain text. Titles are text that sometimes carries a few HTML tags (`<b>`,
/// `<em>`), so only known HTML tags are removed: anything else in angle brackets, such as
/// `<!channel>` or `<https://x|y>`, is the publisher's text and stays, for the sinks to
/// escape.
pub fn plain_title(text: &str) -> String {
    collapse(&strip_tags(text, true))
}

/// HTML tags that appear inside titles in real feeds.
const TITLE_TAGS: &[&str] = &[
    "a", "abbr", "b", "big", "br", "cite", "code", "del", "em", "font", "i", "ins", "mark", "q",
    "s", "small", "span", "strike", "strong", "sub", "sup", "u",
];

fn collapse(stripped: &str) -> String {
    let known = drop_unknown_entities(stripped);
    let decoded = html_escape::decode_html_entities(&known);
    let decoded = repair::repair_mojibake(&decoded);
    let mut out = String::with_capacity(decoded.len());
    let mut space_pending = false;
    for c in decoded.chars() {
        if c.is_whitespace() || c == '\u{a0}' {
            space_pending = !out.is_empty();
        } else if !c.is_control() {
            // Control characters (NUL, escapes, C1) are never text: a title holding them
            // would reach logs and sinks as garbage or as terminal escapes.
            if space_pending {
                out.push(' ');
                space_pending = false;
            }
            out.push(c);
        }
    }
    out
}

/// Removes named entity references that HTML does not define (`&lol9;`, `&xxe;`): they are
/// what is left of a document's own DTD entities, which the XML reader never expands, and
/// they must not reach a title, a classifier or an alert as text. A `&` that starts no
/// reference ("AT&T", "&;") stays.
fn drop_unknown_entities(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains('&') {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let name_len = after
            .char_indices()
            .find(|&(_, c)| !c.is_ascii_alphanumeric())
            .map_or(after.len(), |(end, _)| end);
        let is_reference = name_len > 0
            && after.as_bytes()[0].is_ascii_alphabetic()
            && after[name_len..].starts_with(';');
        if is_reference {
            let reference = &rest[at..at + name_len + 2];
            // html-escape leaves a reference it does not know as it is.
            if html_escape::decode_html_entities(reference) != reference {
                out.push_str(reference);
            }
            rest = &rest[at + name_len + 2..];
        } else {
            out.push('&');
            rest = after;
        }
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

/// Removes markup. A `<` only opens a tag when a letter, `/`, `!` or `?` follows, so text
/// such as "x < y" survives. With `known_only`, only [`TITLE_TAGS`] and comments count.
fn strip_tags(html: &str, known_only: bool) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(pos) = rest.find('<') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let opens_tag = after
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || matches!(c, '/' | '!' | '?'));
        if !opens_tag {
            out.push('<');
            rest = after;
            continue;
        }
        if let Some(body) = after.strip_prefix("!--") {
            rest = body.find("-->").map_or("", |end| &body[end + 3..]);
            continue;
        }
        if known_only && !TITLE_TAGS.contains(&tag_name(after).as_str()) {
            out.push('<');
            rest = after;
            continue;
        }
        let Some(end) = after.find('>') else {
            // An unterminated tag: drop the rest, it is not text.
            rest = "";
            break;
        };
        let name = tag_name(after);
        rest = &after[end + 1..];
        if name == "script" || name == "style" {
            let closing = format!("</{name}");
            let lower = rest.to_ascii_lowercase();
            rest = lower
                .find(&closing)
                .and_then(|at| rest[at..].find('>').map(|gt| &rest[at + gt + 1..]))
                .unwrap_or("");
            continue;
        }
        // Block-level tags separate words ("<p>a</p><p>b</p>" is "a b", not "ab").
        if matches!(
            name.as_str(),
            "p" | "br" | "div" | "li" | "tr" | "td" | "h1" | "h2" | "h3" | "h4" | "blockquote"
        ) {
            out.push(' ');
        }
    }
    out.push_str(rest);
    out
}

/// The lower-cased element name after `<` or `</`, up to a space, `/` or `>`.
fn tag_name(after_lt: &str) -> String {
    after_lt
        .trim_start_matches('/')
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase()
}

pub(super) fn truncate_chars(text: String, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => {
            let mut cut = text[..at].to_string();
            cut.push('…');
            cut
        }
        None => text,
    }
}
