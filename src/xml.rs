//! Small helpers for reading XML-like text leniently, where a strict parser has given up or
//! is more than the job needs (salvaged feeds, OPML exports).

/// The value of attribute `name` in a start tag, entities decoded; single or double quotes.
/// Only a whole attribute name matches (`base` does not match `xml:base`).
pub fn attribute(tag: &str, name: &str) -> Option<String> {
    for quote in ['"', '\''] {
        let pattern = format!("{name}={quote}");
        let mut from = 0;
        while let Some(pos) = tag[from..].find(&pattern) {
            let at = from + pos;
            from = at + 1;
            if at > 0 && !tag[..at].ends_with(char::is_whitespace) {
                continue;
            }
            let start = at + pattern.len();
            let end = start + tag[start..].find(quote)?;
            return Some(html_escape::decode_html_entities(&tag[start..end]).into_owned());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_attribute_names_only() {
        let tag = r#"<link xml:base="x" base='y' href="a&amp;b""#;
        assert_eq!(attribute(tag, "base").as_deref(), Some("y"));
        assert_eq!(attribute(tag, "href").as_deref(), Some("a&b"));
        assert_eq!(attribute(tag, "rel"), None);
    }
}
