//! The data that passes between stages: articles, verdicts, alerts and story fingerprints.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::{xxh3_64, xxh3_128};

/// One feed entry, reduced to what the classifier and an alert need.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Article {
    /// Stable identity within its feed: `id:<guid>`, `link:<canonical link>` or `hash:<…>`.
    pub key: String,
    /// The configured name of the feed the article came from.
    pub feed: String,
    /// The feed's URL as configured (logged as host and path only).
    pub feed_url: String,
    /// Plain-text headline.
    pub title: String,
    /// Link to the full article, absolute where the feed allowed it.
    pub link: Option<String>,
    /// Plain-text summary: tags stripped, entities decoded, whitespace collapsed.
    pub summary: String,
    /// When the publisher says it was published, clamped to a sane range.
    pub published: Option<DateTime<Utc>>,
    /// When parleyd first saw it; the fallback for undated items.
    pub first_seen: DateTime<Utc>,
}

impl Article {
    /// The 16-byte store key: the feed URL and the article key, hashed together, so the same
    /// guid in two different feeds stays two articles (stories join them later).
    pub fn store_key(&self) -> [u8; 16] {
        article_store_key(&self.feed_url, &self.key)
    }

    /// The time used for age checks: the published time, else the first-seen time.
    pub fn effective_time(&self) -> DateTime<Utc> {
        self.published.unwrap_or(self.first_seen)
    }
}

/// The store key of an article, from its feed URL and article key.
pub fn article_store_key(feed_url: &str, key: &str) -> [u8; 16] {
    let mut buf = Vec::with_capacity(feed_url.len() + key.len() + 1);
    buf.extend_from_slice(feed_url.as_bytes());
    buf.push(0);
    buf.extend_from_slice(key.as_bytes());
    xxh3_128(&buf).to_be_bytes()
}

/// What kind of diplomatic event an article reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Event {
    /// Talks or negotiations, an offer of them, or messages exchanged.
    Talks,
    /// A communication channel, hotline or back-channel set up, used or kept open.
    Channel,
}

impl Event {
    /// The lower-case name used in JSON and in the profile file.
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Talks => "talks",
            Event::Channel => "channel",
        }
    }
}

/// The classifier's decision on one article.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// Whether the article reports a matching event and should alert.
    pub relevant: bool,
    /// The event kind, when one was found.
    pub event: Option<Event>,
    /// The score in `[0, 1]`; `relevant` is `score >= threshold`.
    pub score: f64,
    /// Human-readable reasons: parties, event phrase, the sentence, score and threshold.
    pub reasons: Vec<String>,
}

/// One alert for one sink, as it sits in the outbox until a sink accepts it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Stable id, the same on every attempt and every sink, so receivers can drop repeats.
    pub id: String,
    /// The configured sink name this entry is for.
    pub sink: String,
    /// The article that triggered the alert.
    pub article: Article,
    /// Why it matched.
    pub verdict: Verdict,
    /// When the alert was queued.
    pub created: DateTime<Utc>,
    /// Delivery attempts made so far.
    pub attempts: u32,
    /// Not before this time (back-off after a failure).
    pub next_attempt: DateTime<Utc>,
    /// The last delivery error, secrets removed.
    pub last_error: Option<String>,
}

/// The alert id for an article: its store key in hex, so it is stable across restarts.
pub fn alert_id(store_key: &[u8; 16]) -> String {
    let mut out = String::with_capacity(32);
    for byte in store_key {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// Words too common to tell two headlines apart.
const FINGERPRINT_STOP_WORDS: &[&str] = &[
    "a", "an", "the", "and", "or", "of", "to", "in", "on", "for", "with", "at", "by", "as", "is",
    "are", "be", "its", "it", "from", "over", "after", "says", "said", "new",
];

/// Fingerprints of the story an article belongs to: its canonical link and the set of
/// content words of its headline (publisher suffix and punctuation removed). Two articles
/// that share any fingerprint are the same story.
pub fn story_fingerprints(article: &Article) -> Vec<[u8; 8]> {
    let mut out = Vec::with_capacity(2);
    if let Some(link) = &article.link {
        out.push(xxh3_64(format!("link\0{link}").as_bytes()).to_be_bytes());
    }
    let words = headline_words(&article.title);
    // A headline of one or two words ("Update", "Live") would join unrelated stories.
    if words.len() >= 3 {
        out.push(xxh3_64(format!("title\0{}", words.join(" ")).as_bytes()).to_be_bytes());
    }
    out
}

/// The sorted, de-duplicated content words of a headline, without a trailing
/// " - Publisher" or " | Publisher" suffix.
fn headline_words(title: &str) -> Vec<String> {
    let without_suffix = strip_publisher_suffix(title);
    let mut words: Vec<String> = without_suffix
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .filter(|w| !FINGERPRINT_STOP_WORDS.contains(&w.as_str()))
        .collect();
    words.sort();
    words.dedup();
    words
}

fn strip_publisher_suffix(title: &str) -> &str {
    for separator in [" - ", " | ", " — ", " – "] {
        if let Some(pos) = title.rfind(separator) {
            let suffix = &title[pos + separator.len()..];
            // Publisher names are short; a long tail is part of the headline.
            if suffix.split_whitespace().count() <= 4 {
                return &title[..pos];
            }
        }
    }
    title
}

#[cfg(test)]
mod tests {
    use super::*;

    fn article(title: &str, link: Option<&str>) -> Article {
        Article {
            key: "k".into(),
            feed: "f".into(),
            feed_url: "http://x/".into(),
            title: title.into(),
            link: link.map(String::from),
            summary: String::new(),
            published: None,
            first_seen: Utc::now(),
        }
    }

    #[test]
    fn rewritten_punctuation_and_publisher_suffix_give_the_same_story() {
        let a = article("Iran and US hold new round of talks in Muscat", None);
        let b = article("Iran, US hold new round of talks in Muscat - Reuters", None);
        assert_eq!(story_fingerprints(&a), story_fingerprints(&b));
    }

    #[test]
    fn different_headlines_differ() {
        let a = article("Iran and US hold talks in Muscat", None);
        let b = article("Iran and US hold talks in Geneva", None);
        assert_ne!(story_fingerprints(&a), story_fingerprints(&b));
    }

    #[test]
    fn alert_id_is_hex_of_the_key() {
        assert_eq!(alert_id(&[0xab; 16]), "ab".repeat(16));
    }
}
