//! Rewrites that let feed-rs read feeds it would reject or read as empty: Atom 0.3, MIME
//! types where Atom 1.0 wants `text`/`html`/`xhtml`, a default namespace on `<rss>`, and
//! bare ampersands.

use std::borrow::Cow;

const ATOM_03_NS: &str = "http://purl.org/atom/ns#";
const ATOM_10_NS: &str = "http://www.w3.org/2005/Atom";

/// Atom 0.3 as Atom 1.0: the namespace, and the elements that were renamed.
pub(super) fn atom03_to_atom10(text: &str) -> Cow<'_, str> {
    if !text.contains(ATOM_03_NS) {
        return Cow::Borrowed(text);
    }
    let mut out = text.replace(ATOM_03_NS, ATOM_10_NS);
    for (old, new) in [
        ("issued", "published"),
        ("modified", "updated"),
        ("tagline", "subtitle"),
        ("copyright", "rights"),
    ] {
        out = out
            .replace(&format!("<{old}>"), &format!("<{new}>"))
            .replace(&format!("<{old} "), &format!("<{new} "))
            .replace(&format!("</{old}>"), &format!("</{new}>"));
    }
    Cow::Owned(out)
}

/// Text constructs whose `type` is a MIME type or empty (`text/html`, `application/xhtml+xml`,
/// `type=""`), which feed-rs rejects for the whole feed, get the Atom 1.0 name instead.
pub(super) fn normalise_text_types(text: &str) -> Cow<'_, str> {
    const ELEMENTS: &[&str] = &["title", "subtitle", "summary", "rights", "content"];
    let mut out = String::new();
    let mut rest = text;
    let mut changed = false;
    while let Some(pos) = rest.find('<') {
        let (before, tag_start) = rest.split_at(pos);
        out.push_str(before);
        let Some(end) = tag_start.find('>') else {
            out.push_str(tag_start);
            rest = "";
            break;
        };
        let tag = &tag_start[..=end];
        let name: String = tag[1..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == ':' || *c == '-')
            .collect();
        let local = name.rsplit(':').next().unwrap_or("");
        let rewritten = if ELEMENTS.contains(&local) {
            rewrite_type(tag, local == "content")
        } else {
            None
        };
        match rewritten {
            Some(new_tag) => {
                out.push_str(&new_tag);
                changed = true;
            }
            None => out.push_str(tag),
        }
        rest = &tag_start[end + 1..];
    }
    out.push_str(rest);
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(text)
    }
}

fn rewrite_type(tag: &str, is_content: bool) -> Option<String> {
    let (quote, start) = ["type=\"", "type='"].iter().find_map(|pattern| {
        tag.find(pattern)
            .map(|at| (pattern.as_bytes()[5] as char, at))
    })?;
    let value_start = start + 6;
    let value_end = value_start + tag[value_start..].find(quote)?;
    let value = tag[value_start..value_end].trim().to_ascii_lowercase();
    let atom = match value.as_str() {
        "text" | "html" | "xhtml" => return None,
        "text/plain" | "" => "text",
        "text/html" => "html",
        "application/xhtml+xml" => "xhtml",
        // <content> may carry any media type; feed-rs accepts that there.
        _ if is_content => return None,
        _ => "text",
    };
    Some(format!(
        "{}type=\"{atom}\"{}",
        &tag[..start],
        &tag[value_end + 1..]
    ))
}

/// `<rss xmlns="http://backend.userland.com/rss2">` puts every element in a namespace
/// feed-rs does not know, so it reads no items; the default namespace is dropped.
pub(super) fn drop_rss_default_namespace(text: &str) -> Cow<'_, str> {
    let Some(start) = text.find("<rss") else {
        return Cow::Borrowed(text);
    };
    let Some(end) = text[start..].find('>').map(|e| start + e) else {
        return Cow::Borrowed(text);
    };
    let tag = &text[start..end];
    let Some(attr) = tag
        .find(" xmlns=\"")
        .or_else(|| tag.find("\txmlns=\""))
        .or_else(|| tag.find("\nxmlns=\""))
    else {
        return Cow::Borrowed(text);
    };
    let value_start = attr + 8;
    let Some(value_len) = tag[value_start..].find('"') else {
        return Cow::Borrowed(text);
    };
    let attr_end = value_start + value_len + 1;
    Cow::Owned(format!(
        "{}{}{}",
        &text[..start + attr],
        &tag[attr_end..],
        &text[end..]
    ))
}

/// An RSS item or channel with `<dc:title>` but no `<title>` gets the Dublin Core title as
/// its title (feed-rs reads only `<title>`).
pub(super) fn dc_title_as_title(text: &str) -> Cow<'_, str> {
    if !text.contains("<dc:title") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    // The channel's own part runs up to the first item; then each item in turn.
    loop {
        let (part, next) = match rest.find("<item") {
            Some(0) => match rest.find("</item>") {
                Some(end) => rest.split_at(end + 7),
                None => (rest, ""),
            },
            Some(start) => rest.split_at(start),
            None => (rest, ""),
        };
        if part.contains("<dc:title") && !part.contains("<title") {
            out.push_str(&part.replacen("<dc:title", "<title", 1).replacen(
                "</dc:title>",
                "</title>",
                1,
            ));
        } else {
            out.push_str(part);
        }
        if next.is_empty() {
            break;
        }
        rest = next;
    }
    Cow::Owned(out)
}

/// Text that was UTF-8 read as windows-1252 and encoded again ("donâ€™t", "Ã©") is decoded
/// once more; numeric references to C1 controls (`&#146;`), which mean windows-1252
/// characters, become those characters. Genuine Latin-1 text ("Genève") is left alone: it
/// only changes when the round trip gives valid UTF-8.
pub(super) fn repair_mojibake(text: &str) -> Cow<'_, str> {
    let c1 = text.chars().any(|c| ('\u{80}'..='\u{9f}').contains(&c));
    let suspicious = c1 || text.contains(['Ã', 'Â', 'â', 'Å', 'Ð', 'Ñ']);
    if !suspicious {
        return Cow::Borrowed(text);
    }
    let mut fixed: Cow<'_, str> = Cow::Borrowed(text);
    if c1 {
        fixed = Cow::Owned(
            text.chars()
                .map(|c| {
                    if ('\u{80}'..='\u{9f}').contains(&c) {
                        let byte = [c as u8];
                        let (decoded, _, _) = encoding_rs::WINDOWS_1252.decode(&byte);
                        decoded.chars().next().unwrap_or(c)
                    } else {
                        c
                    }
                })
                .collect(),
        );
    }
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1252.encode(&fixed);
    if !unmappable
        && let Ok(decoded) = std::str::from_utf8(&bytes)
        && decoded.chars().count() < fixed.chars().count()
    {
        return Cow::Owned(decoded.to_string());
    }
    fixed
}

/// Replaces `&` that does not start an entity or character reference with `&amp;`.
pub(super) fn escape_bare_ampersands(text: &str) -> Cow<'_, str> {
    let mut out = String::with_capacity(text.len() + 16);
    let mut changed = false;
    let mut rest = text;
    while let Some(pos) = rest.find('&') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if starts_reference(after) {
            out.push('&');
        } else {
            out.push_str("&amp;");
            changed = true;
        }
        rest = after;
    }
    out.push_str(rest);
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(text)
    }
}

fn starts_reference(after: &str) -> bool {
    let Some(end) = after.find(';') else {
        return false;
    };
    let name = &after[..end];
    if name.is_empty() || name.len() > 32 {
        return false;
    }
    match name.strip_prefix('#') {
        Some(number) => match number.strip_prefix(['x', 'X']) {
            Some(hex) => !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit()),
            None => !number.is_empty() && number.chars().all(|c| c.is_ascii_digit()),
        },
        None => name.chars().all(|c| c.is_ascii_alphanumeric()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atom03_becomes_atom10() {
        let out = atom03_to_atom10(
            "<feed xmlns=\"http://purl.org/atom/ns#\"><entry><issued>x</issued></entry></feed>",
        );
        assert_eq!(
            out,
            "<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry><published>x</published></entry></feed>"
        );
    }

    #[test]
    fn mime_types_become_atom_types() {
        assert_eq!(
            normalise_text_types(
                "<title type=\"text/html\">a</title><summary type=\"\">b</summary>"
            ),
            "<title type=\"html\">a</title><summary type=\"text\">b</summary>"
        );
        assert!(matches!(
            normalise_text_types("<title type=\"html\">a</title>"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn rss_default_namespace_is_dropped() {
        assert_eq!(
            drop_rss_default_namespace(
                "<rss version=\"2.0\" xmlns=\"http://backend.userland.com/rss2\"><channel/></rss>"
            ),
            "<rss version=\"2.0\"><channel/></rss>"
        );
    }

    #[test]
    fn double_encoded_utf8_is_repaired_and_latin1_left_alone() {
        assert_eq!(repair_mojibake("donâ€™t"), "don\u{2019}t");
        assert_eq!(repair_mojibake("caf\u{c3}\u{a9}"), "café");
        assert_eq!(repair_mojibake("don\u{92}t"), "don\u{2019}t");
        assert_eq!(repair_mojibake("Genève"), "Genève");
        assert!(matches!(repair_mojibake("plain text"), Cow::Borrowed(_)));
    }

    #[test]
    fn dc_title_stands_in_for_a_missing_title() {
        assert_eq!(
            dc_title_as_title(
                "<channel><title>C</title><item><dc:title>I</dc:title></item></channel>"
            ),
            "<channel><title>C</title><item><title>I</title></item></channel>"
        );
        assert_eq!(
            dc_title_as_title("<item><title>T</title><dc:title>D</dc:title></item>"),
            "<item><title>T</title><dc:title>D</dc:title></item>"
        );
    }

    #[test]
    fn bare_ampersands_are_escaped() {
        assert_eq!(
            escape_bare_ampersands("a & b &amp; c &#38; d &nbsp; e?x=1&y=2"),
            "a &amp; b &amp; c &#38; d &nbsp; e?x=1&amp;y=2"
        );
    }
}
