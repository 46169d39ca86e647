//! An item's link: picked among its links, made absolute, and stripped of tracking
//! parameters so one article shared twice keeps one key.

use feed_rs::model::Link;
use url::Url;

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

pub(super) fn pick_link(links: &[Link], base: &Url) -> Option<String> {
    let link = links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|rel| rel == "alternate"))
        .or_else(|| links.first())?;
    resolve_link(&link.href, base)
}

/// A link made absolute against the feed's URL where it is relative.
pub(super) fn resolve_link(href: &str, base: &Url) -> Option<String> {
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
