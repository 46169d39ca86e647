//! Reads the feed list of an OPML export (what feed readers produce), for `feeds import`.

use crate::xml::attribute;

/// One feed found in an OPML file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outline {
    /// The feed's URL (`xmlUrl`).
    pub url: String,
    /// Its title (`title`, else `text`).
    pub title: Option<String>,
}

/// Every `<outline>` with an `xmlUrl`, in file order, each URL once. Tolerant of the
/// attribute order, quoting and nesting that readers produce.
pub fn feeds(text: &str) -> Vec<Outline> {
    let mut out: Vec<Outline> = Vec::new();
    let mut rest = text;
    while let Some(pos) = rest.find("<outline") {
        let after = &rest[pos..];
        let end = after.find('>').unwrap_or(after.len());
        let tag = &after[..end];
        if let Some(url) = attribute(tag, "xmlUrl").filter(|u| !u.trim().is_empty()) {
            let url = url.trim().to_string();
            if !out.iter().any(|o| o.url == url) {
                let title = attribute(tag, "title")
                    .or_else(|| attribute(tag, "text"))
                    .map(|t| t.trim().to_string())
                    .filter(|t| !t.is_empty());
                out.push(Outline { url, title });
            }
        }
        rest = &after[end.min(after.len())..];
        if rest.is_empty() {
            break;
        }
        rest = &rest[1.min(rest.len())..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outlines_with_feed_urls_are_read() {
        let opml = r#"<?xml version="1.0"?><opml version="2.0"><body>
            <outline text="News">
              <outline type="rss" text="World &amp; Co" xmlUrl="https://a.example/rss?x=1&amp;y=2"/>
              <outline title='Desk' xmlUrl='https://b.example/atom' type="rss"></outline>
              <outline text="dup" xmlUrl="https://a.example/rss?x=1&amp;y=2"/>
            </outline></body></opml>"#;
        assert_eq!(
            feeds(opml),
            vec![
                Outline {
                    url: "https://a.example/rss?x=1&y=2".into(),
                    title: Some("World & Co".into())
                },
                Outline {
                    url: "https://b.example/atom".into(),
                    title: Some("Desk".into())
                },
            ]
        );
    }
}
