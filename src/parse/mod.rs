//! Turns feed bytes (RSS 0.9x/1.0/2.0, Atom, JSON Feed) into [`Article`]s with stable keys
//! and plain-text titles and summaries.
//!
//! feed-rs does the parsing. Around it, this module fixes what it does not: the charset is
//! decided here (BOM, then HTTP `charset`, then the XML declaration, then UTF-8 or
//! windows-1252) and the text handed over is always UTF-8; an HTML page is reported as such
//! instead of as "no root element"; an `<rss>` root with a missing or odd version is read as
//! RSS 2.0; a panic inside the parser becomes that feed's error. Keys never depend on
//! feed-rs's generated ids, which are random for items with neither guid nor link.

mod charset;
mod date;
mod links;
mod repair;
mod salvage;
mod text;

pub use charset::decode_to_utf8;
pub use date::parse_date;
pub use links::canonical_link;
use links::{pick_link, resolve_link};
use text::truncate_chars;
pub use text::{plain_text, plain_title};

use crate::model::Article;
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use feed_rs::model::Entry;
use std::borrow::Cow;
use std::panic::{AssertUnwindSafe, catch_unwind};
use url::Url;
use xxhash_rust::xxh3::xxh3_128;

/// Longest summary kept: enough for the classifier and an alert, bounded for the store.
const MAX_SUMMARY_CHARS: usize = 2000;
/// Longest title kept; real headlines are far shorter, junk can be megabytes.
const MAX_TITLE_CHARS: usize = 500;
/// Publishers' clocks and time zones are often wrong by hours; more than this in the
/// future is a broken date, replaced by the first-seen time.
const MAX_FUTURE_SKEW_HOURS: i64 = 24;

/// Which feed a body came from, for keys, links and messages.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    /// The feed's configured name.
    pub name: &'a str,
    /// The feed's URL: the base for relative links and part of every store key.
    pub url: &'a Url,
}

/// A parsed feed.
#[derive(Debug)]
pub struct ParsedFeed {
    /// The feed's own title, if it has one.
    pub title: Option<String>,
    /// Its entries, in feed order.
    pub articles: Vec<Article>,
    /// When the strict parser could not read it all and the items were read leniently:
    /// why.
    pub recovered: Option<String>,
    /// RSS `<ttl>`: how long, by the publisher's word, the feed may be cached.
    pub ttl: Option<std::time::Duration>,
    /// Entries left out because the feed held more than the limit (the oldest ones).
    pub skipped: usize,
    /// Entries left out because their fields had the wrong types (a JSON Feed item that
    /// is not an object, or has neither a title nor a text), instead of becoming empty
    /// articles.
    pub malformed: usize,
}

/// Why a body could not be read as a feed. Each variant names the feed.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// The body is empty.
    #[error("feed `{feed}`: the document is empty")]
    Empty {
        /// Feed name.
        feed: String,
    },
    /// The body is an HTML page, typically an error or login page served with 200.
    #[error("feed `{feed}`: not a feed (got an HTML page; check the URL)")]
    Html {
        /// Feed name.
        feed: String,
    },
    /// feed-rs rejected it.
    #[error("feed `{feed}`: {reason}")]
    Invalid {
        /// Feed name.
        feed: String,
        /// feed-rs's message, with what we sniffed.
        reason: String,
    },
    /// The parser panicked on these bytes; the panic was contained.
    #[error("feed `{feed}`: the parser crashed on this document ({message})")]
    Panicked {
        /// Feed name.
        feed: String,
        /// The panic message.
        message: String,
    },
}

/// Parses a feed body. `content_type` is the HTTP header, if any; `now` is the first-seen
/// time given to every article.
///
/// # Errors
/// A [`ParseError`] naming the feed; never panics.
pub fn parse_feed(
    bytes: &[u8],
    content_type: Option<&str>,
    source: Source<'_>,
    now: DateTime<Utc>,
) -> Result<ParsedFeed, ParseError> {
    parse_feed_limited(bytes, content_type, source, now, usize::MAX)
}

/// [`parse_feed`], keeping at most `max_items` entries: the newest by date (undated ones
/// after dated ones, in feed order), returned in feed order. Only the kept entries become
/// articles; [`ParsedFeed::skipped`] counts the others.
///
/// # Errors
/// A [`ParseError`] naming the feed; never panics.
pub fn parse_feed_limited(
    bytes: &[u8],
    content_type: Option<&str>,
    source: Source<'_>,
    now: DateTime<Utc>,
    max_items: usize,
) -> Result<ParsedFeed, ParseError> {
    let limit = Limit {
        source,
        now,
        max_items,
    };
    let text = decode_to_utf8(bytes, content_type);
    let trimmed = text.trim_start();
    if trimmed.is_empty() {
        return Err(ParseError::Empty {
            feed: source.name.to_string(),
        });
    }
    if looks_like_html(trimmed) {
        return Err(ParseError::Html {
            feed: source.name.to_string(),
        });
    }
    let prepared = prepare(&text);
    let strict = parse_strict(&prepared, source);
    let expected = salvage::count_items(&prepared);
    match strict {
        Ok(feed) if feed.entries.len() >= expected => Ok(from_feed_rs(&feed, limit)),
        Ok(feed) => {
            // feed-rs read fewer items than the document has (RSS 1.0 items without a
            // link, unknown namespaces): take the lenient reading if it finds more.
            let salvaged = salvage::salvage_xml(&prepared);
            if salvaged.items.len() > feed.entries.len() {
                let reason = format!(
                    "the strict parser read {} of {} items",
                    feed.entries.len(),
                    salvaged.items.len()
                );
                Ok(from_salvage(salvaged, limit, reason))
            } else {
                Ok(from_feed_rs(&feed, limit))
            }
        }
        Err(StrictError::Panicked(message)) => Err(ParseError::Panicked {
            feed: source.name.to_string(),
            message,
        }),
        Err(StrictError::Rejected(err)) if is_channelless_rss(&err, &prepared) => {
            // `<rss></rss>` with no channel: a feed with nothing in it, not a broken one.
            Ok(ParsedFeed {
                title: None,
                articles: Vec::new(),
                recovered: None,
                ttl: None,
                skipped: 0,
                malformed: 0,
            })
        }
        Err(StrictError::Rejected(err)) => {
            let reason = describe_parse_error(&err, trimmed);
            let salvaged = if prepared.trim_start().starts_with(['{', '[']) {
                salvage::salvage_json(&prepared).unwrap_or_default()
            } else {
                salvage::salvage_xml(&prepared)
            };
            if salvaged.items.is_empty() {
                return Err(ParseError::Invalid {
                    feed: source.name.to_string(),
                    reason,
                });
            }
            Ok(from_salvage(salvaged, limit, reason))
        }
    }
}

/// What every entry is read with: its feed, the first-seen time, and how many to keep.
#[derive(Clone, Copy)]
struct Limit<'a> {
    source: Source<'a>,
    now: DateTime<Utc>,
    max_items: usize,
}

/// Which entries to keep, by their dates in feed order: all when they fit, else the
/// `max` newest (undated ones after every dated one, earlier in the feed first), as
/// indices in feed order.
fn newest(dates: &[Option<DateTime<Utc>>], max: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..dates.len()).collect();
    if dates.len() > max {
        // A stable sort: equal dates, and undated entries, keep their feed order.
        order.sort_by_key(|&index| std::cmp::Reverse(dates[index]));
        order.truncate(max);
        order.sort_unstable();
    }
    order
}

/// The rewrites applied before the strict parser sees a document.
fn prepare(text: &str) -> String {
    let text = normalise_rss_root(text);
    let text = repair::drop_rss_default_namespace(&text);
    let text = repair::atom03_to_atom10(&text);
    let text = repair::dc_title_as_title(&text);
    repair::normalise_text_types(&text).into_owned()
}

enum StrictError {
    Rejected(feed_rs::parser::ParseFeedError),
    Panicked(String),
}

/// feed-rs on the prepared text; on an XML error, once more with bare `&` escaped.
fn parse_strict(text: &str, source: Source<'_>) -> Result<feed_rs::model::Feed, StrictError> {
    match parse_once(text, source) {
        Err(StrictError::Rejected(feed_rs::parser::ParseFeedError::XmlReader(_))) => {
            match repair::escape_bare_ampersands(text) {
                std::borrow::Cow::Owned(repaired) => parse_once(&repaired, source),
                std::borrow::Cow::Borrowed(_) => parse_once(text, source),
            }
        }
        other => other,
    }
}

fn parse_once(text: &str, source: Source<'_>) -> Result<feed_rs::model::Feed, StrictError> {
    let parser = feed_rs::parser::Builder::new()
        .base_uri(Some(source.url.as_str()))
        // An empty id marks "the source gave none"; article_key then derives a stable one.
        .id_generator(|_links, _title, _uri| String::new())
        .timestamp_parser(date::parse_date)
        .build();
    match catch_unwind(AssertUnwindSafe(|| parser.parse(text.as_bytes()))) {
        Ok(Ok(feed)) => Ok(feed),
        Ok(Err(err)) => Err(StrictError::Rejected(err)),
        Err(panic) => Err(StrictError::Panicked(
            panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string()),
        )),
    }
}

fn from_feed_rs(feed: &feed_rs::model::Feed, limit: Limit<'_>) -> ParsedFeed {
    let dates: Vec<_> = feed
        .entries
        .iter()
        .map(|entry| entry.published.or(entry.updated))
        .collect();
    let kept = newest(&dates, limit.max_items);
    ParsedFeed {
        title: feed
            .title
            .as_ref()
            .map(|t| truncate_chars(plain_title(&t.content), MAX_TITLE_CHARS)),
        skipped: feed.entries.len() - kept.len(),
        articles: kept
            .into_iter()
            .map(|index| entry_to_article(&feed.entries[index], limit.source, limit.now))
            .collect(),
        recovered: None,
        malformed: 0,
        ttl: feed
            .ttl
            .map(|minutes| std::time::Duration::from_secs(u64::from(minutes) * 60)),
    }
}

fn from_salvage(salvaged: salvage::Salvaged, limit: Limit<'_>, reason: String) -> ParsedFeed {
    let Limit { source, now, .. } = limit;
    let dates: Vec<_> = salvaged
        .items
        .iter()
        .map(|item| item.date.as_deref().and_then(date::parse_date))
        .collect();
    let kept = newest(&dates, limit.max_items);
    let skipped = salvaged.items.len() - kept.len();
    let malformed = salvaged.malformed;
    let mut items: Vec<Option<salvage::RawItem>> = salvaged.items.into_iter().map(Some).collect();
    ParsedFeed {
        title: salvaged
            .title
            .map(|t| truncate_chars(plain_title(&t), MAX_TITLE_CHARS)),
        articles: kept
            .into_iter()
            .filter_map(|index| items[index].take().map(|item| (item, dates[index])))
            .map(|(item, date)| {
                let link = item
                    .link
                    .as_deref()
                    .and_then(|l| resolve_link(l, source.url));
                build_article(
                    item.id.as_deref().unwrap_or(""),
                    item.title.as_deref().unwrap_or(""),
                    item.summary.as_deref().unwrap_or(""),
                    link,
                    date,
                    source,
                    now,
                )
            })
            .collect(),
        recovered: Some(format!("{reason}; items read leniently")),
        ttl: None,
        skipped,
        malformed,
    }
}

fn describe_parse_error(err: &feed_rs::parser::ParseFeedError, text: &str) -> String {
    use feed_rs::parser::{ParseErrorKind, ParseFeedError};
    match err {
        ParseFeedError::ParseError(ParseErrorKind::NoFeedRoot) => {
            let start: String = text.chars().take(40).collect();
            format!(
                "no RSS, Atom or JSON Feed root element (the document starts with {:?})",
                start
            )
        }
        other => format!("not a valid feed: {other}"),
    }
}

fn is_channelless_rss(err: &feed_rs::parser::ParseFeedError, text: &str) -> bool {
    use feed_rs::parser::{ParseErrorKind, ParseFeedError};
    matches!(err, ParseFeedError::ParseError(ParseErrorKind::NoFeedRoot))
        && find_rss_tag(text).is_some()
        && !text.contains("<channel")
        && !text.contains("<item")
}

fn looks_like_html(text: &str) -> bool {
    let head: String = text
        .chars()
        .take(64)
        .collect::<String>()
        .to_ascii_lowercase();
    head.starts_with("<!doctype html") || head.starts_with("<html")
}

/// feed-rs accepts only `version="2.0"`, `"0.91"`, `"0.92"` or none at all on `<rss>`;
/// real feeds also say `2.00`, `0.94`, `2.0.1` or nothing. They are all RSS 2.0 in practice.
/// It also needs a `<channel>`; items placed straight under `<rss>` are wrapped in one.
fn normalise_rss_root(text: &str) -> Cow<'_, str> {
    let Some(start) = find_rss_tag(text) else {
        return Cow::Borrowed(text);
    };
    let Some(end_rel) = text[start..].find('>') else {
        return Cow::Borrowed(text);
    };
    let tag_end = start + end_rel;
    let tag = &text[start..tag_end];
    let version = crate::xml::attribute(tag, "version");
    let version_ok = matches!(version.as_deref(), Some("2.0" | "0.91" | "0.92"));
    let needs_channel = !text.contains("<channel") && text.contains("<item");
    if version_ok && !needs_channel {
        return Cow::Borrowed(text);
    }
    let new_tag = match version {
        _ if version_ok => tag.to_string(),
        Some(old) => tag
            .replacen(&format!("version=\"{old}\""), "version=\"2.0\"", 1)
            .replacen(&format!("version='{old}'"), "version=\"2.0\"", 1),
        None => format!("<rss version=\"2.0\"{}", &tag[4..]),
    };
    let mut out = String::with_capacity(text.len() + 32);
    out.push_str(&text[..start]);
    out.push_str(&new_tag);
    let rest = &text[tag_end..];
    match (needs_channel, rest.rfind("</rss>")) {
        (true, Some(close)) => {
            // `rest` starts with the `>` that closes the root tag.
            out.push_str(">\n<channel>");
            out.push_str(&rest[1..close]);
            out.push_str("</channel>");
            out.push_str(&rest[close..]);
        }
        _ => out.push_str(rest),
    }
    Cow::Owned(out)
}

fn find_rss_tag(text: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(pos) = text[from..].find("<rss") {
        let at = from + pos;
        let next = text[at + 4..].chars().next();
        if matches!(next, Some(c) if c.is_whitespace() || c == '>') {
            return Some(at);
        }
        from = at + 4;
    }
    None
}

/// Every entry becomes an article, even one with nothing but an author: a feed that has
/// items must never look empty. Such an entry gets a content-hash key and cannot alert.
fn entry_to_article(entry: &Entry, source: Source<'_>, now: DateTime<Utc>) -> Article {
    let title = entry.title.as_ref().map_or("", |t| t.content.as_str());
    let summary_html = entry
        .summary
        .as_ref()
        .map(|s| s.content.as_str())
        .filter(|s| !s.trim().is_empty())
        .or_else(|| entry.content.as_ref().and_then(|c| c.body.as_deref()))
        .unwrap_or("");
    build_article(
        &entry.id,
        title,
        summary_html,
        pick_link(&entry.links, source.url),
        entry.published.or(entry.updated),
        source,
        now,
    )
}

/// An article from an item's parts, whichever reader found them: plain-text title and
/// summary, a link (else an http(s) id), a sane date, and a stable key.
fn build_article(
    id: &str,
    title: &str,
    summary_html: &str,
    link: Option<String>,
    date: Option<DateTime<Utc>>,
    source: Source<'_>,
    now: DateTime<Utc>,
) -> Article {
    let title = truncate_chars(plain_title(title), MAX_TITLE_CHARS);
    let summary = truncate_chars(plain_text(summary_html), MAX_SUMMARY_CHARS);
    // RSS guids are permalinks unless marked otherwise; with no <link>, an http(s) guid is
    // the best link there is.
    let link = link.or_else(|| {
        let id = id.trim();
        let url = Url::parse(id).ok()?;
        matches!(url.scheme(), "http" | "https").then(|| url.to_string())
    });
    let published = date.filter(|date| *date <= now + ChronoDuration::hours(MAX_FUTURE_SKEW_HOURS));
    let key = article_key(id, link.as_deref(), &title, &summary, published);
    Article {
        key,
        feed: source.name.to_string(),
        feed_url: source.url.as_str().to_string(),
        title,
        link,
        summary,
        published,
        first_seen: now,
    }
}

/// The stable identity of an entry: the source's own id, else its canonical link, else a
/// hash of its title, date and summary.
fn article_key(
    id: &str,
    link: Option<&str>,
    title: &str,
    summary: &str,
    published: Option<DateTime<Utc>>,
) -> String {
    let id = id.trim();
    if !id.is_empty() {
        return format!("id:{id}");
    }
    if let Some(link) = link {
        return format!("link:{}", canonical_link(link));
    }
    let date = published.map(|d| d.timestamp()).unwrap_or(0);
    let basis = format!("{title}\0{date}\0{summary}");
    format!("hash:{:032x}", xxh3_128(basis.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_resolve_against_the_feed_or_are_dropped_when_not_urls() {
        let base = Url::parse("https://example.org/news/rss.xml").unwrap();
        assert_eq!(
            resolve_link("/a/1", &base).as_deref(),
            Some("https://example.org/a/1")
        );
        assert_eq!(
            resolve_link(" https://x.test/a ", &base).as_deref(),
            Some("https://x.test/a")
        );
        // Found by the feed_bytes fuzzer in a feedparser fixture: the link went out as is.
        assert_eq!(resolve_link("http://example.c[o.test/", &base), None);
        assert_eq!(resolve_link("", &base), None);
    }

    #[test]
    fn control_characters_never_reach_text() {
        assert_eq!(
            plain_title("Talks\u{0}resume \u{1b}[31min Oman"),
            "Talksresume [31min Oman"
        );
        assert_eq!(plain_text("a \u{0} b\u{7f}"), "a b");
    }

    #[test]
    fn plain_text_strips_and_decodes() {
        assert_eq!(
            plain_text("<p>Talks&nbsp;resume</p><p>in <b>Muscat</b> &amp; Geneva</p>"),
            "Talks resume in Muscat & Geneva"
        );
        assert_eq!(plain_text("x < y and a<b"), "x < y and a");
        assert_eq!(plain_text("a<script>alert(1)</script>b"), "ab");
        assert_eq!(plain_text("a<!-- c -->b"), "ab");
    }

    #[test]
    fn entity_references_html_does_not_define_are_dropped() {
        assert_eq!(
            plain_title("Iran &lol9; and US &xxe;agree&amp; talk &eacute;t&#233;"),
            "Iran and US agree& talk été"
        );
        assert_eq!(plain_text("<p>&lol9;&lol9;</p>"), "");
        assert_eq!(plain_title("AT&T and R&D, &; & x"), "AT&T and R&D, &; & x");
        // Escaped in the feed, it is the publisher's text.
        assert_eq!(plain_title("&amp;lol9;"), "&lol9;");
    }

    fn source_url() -> Url {
        Url::parse("https://feeds.example/f").unwrap()
    }

    #[test]
    fn a_dtds_entities_never_reach_titles_or_summaries() {
        let doc = r#"<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY lol "lol"><!ENTITY lol9 "&lol;&lol;"><!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><title>B</title>
<item><guid>1</guid><title>&lol9; US and Iran hold talks &xxe;</title><description>&lol9;text</description></item>
</channel></rss>"#;
        let url = source_url();
        let source = Source {
            name: "b",
            url: &url,
        };
        let parsed = parse_feed(doc.as_bytes(), None, source, Utc::now()).unwrap();
        assert_eq!(parsed.articles[0].title, "US and Iran hold talks");
        assert_eq!(parsed.articles[0].summary, "text");
    }

    #[test]
    fn json_feed_items_of_the_wrong_types_are_skipped_and_counted() {
        let doc = r#"{"version":"https://jsonfeed.org/version/1.1","title":"J","items":[
            {"id":"a","title":"US and Iran talk","url":"https://j.example/a"},
            {"id":2,"title":["x"],"url":{}}, 7, "str",
            {"id":"c","title":{"t":1},"content_text":false},
            {"id":"d","content_text":"Only a text"}]}"#;
        let url = source_url();
        let source = Source {
            name: "j",
            url: &url,
        };
        let parsed = parse_feed(doc.as_bytes(), None, source, Utc::now()).unwrap();
        let titles: Vec<&str> = parsed.articles.iter().map(|a| a.title.as_str()).collect();
        assert_eq!(titles, ["US and Iran talk", ""]);
        assert_eq!(parsed.articles[1].summary, "Only a text");
        assert_eq!(parsed.malformed, 4);
        assert!(parsed.recovered.is_some());
    }

    #[test]
    fn titles_keep_unknown_angle_brackets() {
        assert_eq!(
            plain_title("<b>Talks</b> <!channel> <https://x|y> &amp; more"),
            "Talks <!channel> <https://x|y> & more"
        );
        assert_eq!(plain_text("<!channel> text"), "text");
    }

    #[test]
    fn canonical_links_drop_tracking_and_fragments() {
        assert_eq!(
            canonical_link("HTTPS://Example.org/a?utm_source=x&id=3#top"),
            "https://example.org/a?id=3"
        );
    }

    #[test]
    fn the_newest_entries_are_kept_in_feed_order_undated_ones_last() {
        let at = |secs| DateTime::from_timestamp(secs, 0);
        let dates = [at(10), None, at(30), at(20), None, at(30)];
        assert_eq!(newest(&dates, 6), vec![0, 1, 2, 3, 4, 5], "all fit");
        assert_eq!(
            newest(&dates, 3),
            vec![2, 3, 5],
            "the newest, in feed order"
        );
        assert_eq!(
            newest(&dates, 5),
            vec![0, 1, 2, 3, 5],
            "undated: earlier first"
        );
        assert_eq!(newest(&[None, None, None], 2), vec![0, 1]);
        assert!(newest(&dates, 0).is_empty());
    }

    #[test]
    fn rss_root_versions_are_normalised() {
        assert_eq!(
            normalise_rss_root("<rss><channel/></rss>"),
            "<rss version=\"2.0\"><channel/></rss>"
        );
        assert_eq!(
            normalise_rss_root("<rss version=\"0.94\">"),
            "<rss version=\"2.0\">"
        );
        assert!(matches!(
            normalise_rss_root("<rss version=\"2.0\">"),
            Cow::Borrowed(_)
        ));
        assert_eq!(
            normalise_rss_root("<rss><item><title>t</title></item></rss>"),
            "<rss version=\"2.0\">\n<channel><item><title>t</title></item></channel></rss>"
        );
    }

    #[test]
    fn declared_latin1_is_transcoded() {
        let bytes = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><rss version=\"2.0\"><channel><title>Gespr\xe4che</title></channel></rss>";
        let text = decode_to_utf8(bytes, None);
        assert!(text.contains("Gespräche"));
        assert!(text.contains("encoding=\"utf-8\""));
    }
}
