//! Turns feed bytes (RSS 0.9x/1.0/2.0, Atom, JSON Feed) into [`Article`]s with stable keys
//! and plain-text titles and summaries.
//!
//! feed-rs does the parsing. Around it, this module fixes what it does not: the charset is
//! decided here (BOM, then HTTP `charset`, then the XML declaration, then UTF-8 or
//! windows-1252) and the text handed over is always UTF-8; an HTML page is reported as such
//! instead of as "no root element"; an `<rss>` root with a missing or odd version is read as
//! RSS 2.0; a panic inside the parser becomes that feed's error. Keys never depend on
//! feed-rs's generated ids, which are random for items with neither guid nor link.

mod date;
mod repair;
mod salvage;

pub use date::parse_date;

use crate::model::Article;
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use feed_rs::model::{Entry, Link};
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
        Ok(feed) if feed.entries.len() >= expected => Ok(from_feed_rs(&feed, source, now)),
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
                Ok(from_salvage(salvaged, source, now, reason))
            } else {
                Ok(from_feed_rs(&feed, source, now))
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
            Ok(from_salvage(salvaged, source, now, reason))
        }
    }
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

fn from_feed_rs(feed: &feed_rs::model::Feed, source: Source<'_>, now: DateTime<Utc>) -> ParsedFeed {
    ParsedFeed {
        title: feed
            .title
            .as_ref()
            .map(|t| truncate_chars(plain_title(&t.content), MAX_TITLE_CHARS)),
        articles: feed
            .entries
            .iter()
            .map(|entry| entry_to_article(entry, source, now))
            .collect(),
        recovered: None,
        ttl: feed
            .ttl
            .map(|minutes| std::time::Duration::from_secs(u64::from(minutes) * 60)),
    }
}

fn from_salvage(
    salvaged: salvage::Salvaged,
    source: Source<'_>,
    now: DateTime<Utc>,
    reason: String,
) -> ParsedFeed {
    ParsedFeed {
        title: salvaged
            .title
            .map(|t| truncate_chars(plain_title(&t), MAX_TITLE_CHARS)),
        articles: salvaged
            .items
            .into_iter()
            .map(|item| {
                let link = item
                    .link
                    .as_deref()
                    .and_then(|l| resolve_link(l, source.url));
                build_article(
                    item.id.as_deref().unwrap_or(""),
                    item.title.as_deref().unwrap_or(""),
                    item.summary.as_deref().unwrap_or(""),
                    link,
                    item.date.as_deref().and_then(date::parse_date),
                    source,
                    now,
                )
            })
            .collect(),
        recovered: Some(format!("{reason}; items read leniently")),
        ttl: None,
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

/// Decides the charset and returns UTF-8 text, with any XML declaration's `encoding`
/// rewritten to match (feed-rs would otherwise decode a second time).
pub fn decode_to_utf8<'a>(bytes: &'a [u8], content_type: Option<&str>) -> Cow<'a, str> {
    if let Some(text) = decode_utf32_bom(bytes) {
        return Cow::Owned(declare_utf8(&text).into_owned());
    }
    if let Some((encoding, bom_len)) = encoding_rs::Encoding::for_bom(bytes) {
        let (text, _) = encoding.decode_without_bom_handling(&bytes[bom_len..]);
        return Cow::Owned(declare_utf8(&text).into_owned());
    }
    if let Some(encoding) = utf16_without_bom(bytes) {
        let (text, _) = encoding.decode_without_bom_handling(bytes);
        return Cow::Owned(declare_utf8(&text).into_owned());
    }
    let declared = content_type
        .and_then(charset_from_content_type)
        .or_else(|| charset_from_xml_declaration(bytes))
        .and_then(|label| encoding_rs::Encoding::for_label(label.as_bytes()));
    let valid_utf8 = std::str::from_utf8(bytes).ok();
    let encoding = match (declared, valid_utf8) {
        // A single-byte label on text that is valid multi-byte UTF-8 is almost always a
        // server default (text/xml; charset=ISO-8859-1) rather than the truth.
        (Some(enc), Some(_)) if enc.is_single_byte() || enc == encoding_rs::UTF_8 => None,
        (Some(enc), _) if enc == encoding_rs::UTF_8 => None,
        (Some(enc), _) => Some(enc),
        (None, Some(_)) => None,
        (None, None) => Some(detect_charset(bytes)),
    };
    match (encoding, valid_utf8) {
        (None, Some(text)) => declare_utf8(text),
        (None, None) => Cow::Owned(declare_utf8(&String::from_utf8_lossy(bytes)).into_owned()),
        (Some(encoding), _) => {
            let (text, _, _) = encoding.decode(bytes);
            Cow::Owned(declare_utf8(&text).into_owned())
        }
    }
}

/// The likeliest charset of text that declares none and is not UTF-8.
fn detect_charset(bytes: &[u8]) -> &'static encoding_rs::Encoding {
    // Only reached for bytes that are not valid UTF-8, so UTF-8 is no candidate.
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    detector.feed(bytes, true);
    detector.guess(None, chardetng::Utf8Detection::Deny)
}

fn decode_utf32_bom(bytes: &[u8]) -> Option<String> {
    let little = match bytes {
        [0xFF, 0xFE, 0x00, 0x00, ..] => true,
        [0x00, 0x00, 0xFE, 0xFF, ..] => false,
        _ => return None,
    };
    let mut text = String::with_capacity(bytes.len() / 4);
    for chunk in bytes[4..].chunks_exact(4) {
        let word: [u8; 4] = chunk.try_into().ok()?;
        let code = if little {
            u32::from_le_bytes(word)
        } else {
            u32::from_be_bytes(word)
        };
        text.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
    }
    Some(text)
}

fn utf16_without_bom(bytes: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    match bytes {
        [b'<', 0, b'?' | b'r' | b'f' | b'!', 0, ..] => Some(encoding_rs::UTF_16LE),
        [0, b'<', 0, b'?' | b'r' | b'f' | b'!', ..] => Some(encoding_rs::UTF_16BE),
        _ => None,
    }
}

fn charset_from_content_type(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches(['"', '\'']).to_string())
    })
}

fn charset_from_xml_declaration(bytes: &[u8]) -> Option<String> {
    let head = &bytes[..bytes.len().min(256)];
    let head = std::str::from_utf8(head)
        .ok()
        .map(Cow::Borrowed)
        .unwrap_or_else(|| String::from_utf8_lossy(head));
    let decl_end = head.find("?>")?;
    let decl = &head[..decl_end];
    if !decl.trim_start().starts_with("<?xml") {
        return None;
    }
    crate::xml::attribute(decl, "encoding")
}

/// Rewrites `encoding="…"` in an XML declaration to utf-8.
fn declare_utf8(text: &str) -> Cow<'_, str> {
    let trimmed_start = text.len() - text.trim_start().len();
    let rest = &text[trimmed_start..];
    if !rest.starts_with("<?xml") {
        return Cow::Borrowed(text);
    }
    let Some(end) = rest.find("?>") else {
        return Cow::Borrowed(text);
    };
    let decl = &rest[..end];
    let Some(value) = crate::xml::attribute(decl, "encoding") else {
        return Cow::Borrowed(text);
    };
    if value.eq_ignore_ascii_case("utf-8") {
        return Cow::Borrowed(text);
    }
    let new_decl = decl
        .replacen(&format!("\"{value}\""), "\"utf-8\"", 1)
        .replacen(&format!("'{value}'"), "\"utf-8\"", 1);
    Cow::Owned(format!(
        "{}{}{}",
        &text[..trimmed_start],
        new_decl,
        &rest[end..]
    ))
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

/// Tracking parameters that publishers add per channel; the same article shared twice must
/// keep one key.
const TRACKING_PARAMS: &[&str] = &[
    "utm_", "fbclid", "gclid", "mc_cid", "mc_eid", "ocid", "cmpid",
];

/// A link with the fragment and tracking parameters removed (scheme and host are already
/// lower-cased by the URL parser).
pub fn canonical_link(link: &str) -> String {
    let Ok(mut url) = Url::parse(link) else {
        return link.to_string();
    };
    url.set_fragment(None);
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(name, _)| {
            !TRACKING_PARAMS
                .iter()
                .any(|prefix| name.to_ascii_lowercase().starts_with(prefix))
        })
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect();
    if kept.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(kept);
    }
    url.to_string()
}

fn pick_link(links: &[Link], base: &Url) -> Option<String> {
    let link = links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|rel| rel == "alternate"))
        .or_else(|| links.first())?;
    resolve_link(&link.href, base)
}

/// A link made absolute against the feed's URL where it is relative.
fn resolve_link(href: &str, base: &Url) -> Option<String> {
    let href = href.trim();
    if href.is_empty() {
        return None;
    }
    match Url::parse(href) {
        Ok(url) => Some(url.to_string()),
        Err(url::ParseError::RelativeUrlWithoutBase) => {
            base.join(href).ok().map(|url| url.to_string())
        }
        // Not a URL at all (a bad host, say): no link beats one nobody can open, and the
        // webhook documents `link` as an absolute URL or null.
        Err(_) => None,
    }
}

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
    let decoded = html_escape::decode_html_entities(stripped);
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

fn truncate_chars(text: String, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => {
            let mut cut = text[..at].to_string();
            cut.push('…');
            cut
        }
        None => text,
    }
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
