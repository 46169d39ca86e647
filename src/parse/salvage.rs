//! A forgiving reader for documents feed-rs rejects or reads as empty: it finds `<item>` and
//! `<entry>` elements by name, whatever their namespace or the state of the rest of the
//! document, and takes what it can from each. JSON Feeds with odd field types get the same
//! treatment through `serde_json::Value`.

use crate::xml::attribute;

/// What a salvaged item offers, as raw text (entities already decoded, markup kept).
#[derive(Debug, Default, Clone, PartialEq)]
pub(super) struct RawItem {
    pub(super) id: Option<String>,
    pub(super) title: Option<String>,
    pub(super) link: Option<String>,
    pub(super) summary: Option<String>,
    pub(super) date: Option<String>,
}

/// A salvaged document.
#[derive(Debug, Default)]
pub(super) struct Salvaged {
    pub(super) title: Option<String>,
    pub(super) items: Vec<RawItem>,
    /// Items skipped because they could only become empty articles (wrong types).
    pub(super) malformed: usize,
}

const ITEM_NAMES: &[&str] = &["item", "entry"];
const ID_NAMES: &[&str] = &["guid", "id"];
const SUMMARY_NAMES: &[&str] = &["description", "summary", "content", "encoded"];
const DATE_NAMES: &[&str] = &[
    "pubDate",
    "published",
    "issued",
    "updated",
    "modified",
    "date",
    "created",
];

/// How many item or entry elements the document opens.
pub(super) fn count_items(text: &str) -> usize {
    item_starts(text).len()
}

/// Reads items from XML by element names alone.
pub(super) fn salvage_xml(text: &str) -> Salvaged {
    let starts = item_starts(text);
    let title = text_of(
        &text[..starts.first().copied().unwrap_or(text.len())],
        &["title"],
    );
    let mut items = Vec::with_capacity(starts.len());
    for (index, &start) in starts.iter().enumerate() {
        let next = starts.get(index + 1).copied().unwrap_or(text.len());
        let block = &text[start..next];
        let block = ITEM_NAMES
            .iter()
            .filter_map(|name| find_close(block, name))
            .min()
            .map_or(block, |end| &block[..end]);
        let open_end = block.find('>').unwrap_or(block.len());
        let open_tag = &block[..open_end];
        let item = RawItem {
            id: text_of(block, ID_NAMES).or_else(|| attribute(open_tag, "rdf:about")),
            title: text_of(block, &["title"]),
            link: link_of(block).or_else(|| attribute(open_tag, "rdf:about")),
            summary: text_of(block, SUMMARY_NAMES),
            date: text_of(block, DATE_NAMES),
        };
        items.push(item);
    }
    Salvaged {
        title,
        items,
        malformed: 0,
    }
}

/// Reads items from a JSON Feed whose fields feed-rs would not accept. An item that is not
/// an object, or that has neither a title nor a text as a string, would be an empty
/// article: it is skipped and counted in [`Salvaged::malformed`].
pub(super) fn salvage_json(text: &str) -> Option<Salvaged> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    let as_text = |v: Option<&serde_json::Value>| match v {
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let items = value.get("items")?.as_array()?;
    let read: Vec<RawItem> = items
        .iter()
        .filter(|item| item.is_object())
        .map(|item| RawItem {
            id: as_text(item.get("id")),
            title: as_text(item.get("title")),
            link: as_text(item.get("url")).or_else(|| as_text(item.get("external_url"))),
            summary: as_text(item.get("summary"))
                .or_else(|| as_text(item.get("content_text")))
                .or_else(|| as_text(item.get("content_html"))),
            date: as_text(item.get("date_published"))
                .or_else(|| as_text(item.get("date_modified"))),
        })
        .filter(|item| item.title.is_some() || item.summary.is_some())
        .collect();
    Some(Salvaged {
        title: as_text(value.get("title")),
        malformed: items.len() - read.len(),
        items: read,
    })
}

/// Byte offsets of every start tag whose local name is `item` or `entry`.
fn item_starts(text: &str) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut from = 0;
    while let Some(pos) = text[from..].find('<') {
        let at = from + pos;
        if ITEM_NAMES.contains(&local_name(&text[at + 1..])) {
            starts.push(at);
        }
        from = at + 1;
    }
    starts
}

/// The local name (after any prefix) of the tag whose text starts right after `<`; empty
/// for closing tags, comments and declarations.
fn local_name(after_lt: &str) -> &str {
    let end = after_lt
        .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
        .unwrap_or(after_lt.len());
    let name = &after_lt[..end];
    if name.starts_with(['!', '?']) {
        return "";
    }
    name.rsplit(':').next().unwrap_or("")
}

/// The offset of the first closing tag with this local name.
fn find_close(block: &str, name: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(pos) = block[from..].find("</") {
        let at = from + pos;
        if local_name(&block[at + 2..]) == name {
            return Some(at);
        }
        from = at + 2;
    }
    None
}

/// The text of the first element (by local name, in the order of `names`) in `block`.
fn text_of(block: &str, names: &[&str]) -> Option<String> {
    names
        .iter()
        .filter_map(|name| element_text(block, name))
        .find(|text| !text.trim().is_empty())
}

fn element_text(block: &str, name: &str) -> Option<String> {
    let mut from = 0;
    while let Some(pos) = block[from..].find('<') {
        let at = from + pos;
        from = at + 1;
        if local_name(&block[at + 1..]) != name {
            continue;
        }
        let open_end = at + block[at..].find('>')?;
        if block[..open_end].ends_with('/') {
            continue;
        }
        let body_start = open_end + 1;
        let body = &block[body_start..];
        let body = match find_close(body, name) {
            Some(end) => &body[..end],
            // A truncated document: an unterminated CDATA section, else up to the next
            // tag, or the end.
            None if body.trim_start().starts_with("<![CDATA[") => body,
            None => &body[..body.find('<').unwrap_or(body.len())],
        };
        return Some(element_body_text(body));
    }
    None
}

/// CDATA kept verbatim, everything else with its XML entities decoded.
fn element_body_text(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some(start) = rest.find("<![CDATA[") {
        out.push_str(&html_escape::decode_html_entities(&rest[..start]));
        let inner = &rest[start + 9..];
        match inner.find("]]>") {
            Some(end) => {
                out.push_str(&inner[..end]);
                rest = &inner[end + 3..];
            }
            None => {
                out.push_str(inner);
                rest = "";
            }
        }
    }
    out.push_str(&html_escape::decode_html_entities(rest));
    out
}

/// An item's link: an Atom `<link href>` (alternate or unmarked first), else RSS `<link>`
/// text.
fn link_of(block: &str) -> Option<String> {
    let mut fallback = None;
    let mut from = 0;
    while let Some(pos) = block[from..].find('<') {
        let at = from + pos;
        from = at + 1;
        if local_name(&block[at + 1..]) != "link" {
            continue;
        }
        let Some(end) = block[at..].find('>') else {
            break;
        };
        let tag = &block[at..at + end];
        if let Some(href) = attribute(tag, "href") {
            match attribute(tag, "rel").as_deref() {
                None | Some("alternate") => return Some(href),
                _ => {
                    fallback.get_or_insert(href);
                }
            }
        }
    }
    element_text(block, "link")
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .or(fallback)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_rss_still_gives_its_items() {
        let salvaged = salvage_xml(
            "<rss><channel><title>Wire &amp; Co</title><item><title>A &amp; B</title><link>http://x/1</link>\
             <description><![CDATA[<p>lead</p>]]></description><pubDate>Fri, 10 Jan 2020 10:00:00 GMT</pubDate></item>\
             <item><title><![CDATA[Cut",
        );
        assert_eq!(salvaged.title.as_deref(), Some("Wire & Co"));
        assert_eq!(salvaged.items.len(), 2);
        assert_eq!(salvaged.items[0].title.as_deref(), Some("A & B"));
        assert_eq!(salvaged.items[0].link.as_deref(), Some("http://x/1"));
        assert_eq!(salvaged.items[0].summary.as_deref(), Some("<p>lead</p>"));
        assert_eq!(salvaged.items[1].title.as_deref(), Some("Cut"));
    }

    #[test]
    fn atom_links_and_rdf_about_are_read() {
        let salvaged = salvage_xml(
            "<feed><entry><title>T</title><link rel=\"self\" href=\"http://x/self\"/>\
             <link href=\"http://x/page\"/><id>urn:1</id></entry></feed>\
             <rdf:RDF><item rdf:about=\"http://x/2\"><title>U</title></item></rdf:RDF>",
        );
        assert_eq!(salvaged.items[0].link.as_deref(), Some("http://x/page"));
        assert_eq!(salvaged.items[0].id.as_deref(), Some("urn:1"));
        assert_eq!(salvaged.items[1].link.as_deref(), Some("http://x/2"));
        assert_eq!(salvaged.items[1].id.as_deref(), Some("http://x/2"));
    }

    #[test]
    fn channel_items_lists_are_not_items() {
        assert_eq!(count_items("<items><rdf:Seq/></items><item/><entry>"), 2);
    }

    #[test]
    fn json_feeds_with_odd_types_are_read() {
        let salvaged = salvage_json(
            r#"{"title": "J", "items": [{"id": 7, "title": "T", "url": "http://x/7"}]}"#,
        )
        .unwrap();
        assert_eq!(salvaged.items[0].id.as_deref(), Some("7"));
    }
}
