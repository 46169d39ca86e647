//! The data that passes between stages: articles, verdicts, alerts and what receivers learn
//! of a story.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

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
    /// The 16-byte store key: a hash of the feed URL, then a hash of the article key, so the
    /// same guid in two different feeds stays two articles (stories join them later).
    pub fn store_key(&self) -> [u8; 16] {
        article_store_key(&self.feed_url, &self.key)
    }

    /// The time used for age checks: the published time, else the first-seen time.
    pub fn effective_time(&self) -> DateTime<Utc> {
        self.published.unwrap_or(self.first_seen)
    }
}

/// The store key of an article, from its feed URL and article key. The feed's hash comes
/// first so one feed's articles sit side by side in sled's tree: a poll writes into a leaf
/// or two instead of one leaf per article (a quarter off a cold start, a fifth off its RSS).
pub fn article_store_key(feed_url: &str, key: &str) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&xxh3_64(feed_url.as_bytes()).to_be_bytes());
    out[8..].copy_from_slice(&xxh3_64(key.as_bytes()).to_be_bytes());
    out
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
    /// Held back by the sink's flood guard; goes out in the next digest.
    #[serde(default)]
    pub held: bool,
}

/// What an alert's receivers learn of its story, so they can thread it: the story's id
/// and how far it has spread when the alert is sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StorySummary {
    /// The story's id. A story sends one alert, from the report that opened it, and
    /// shares that alert's id.
    pub id: String,
    /// Reports the story holds so far, the alert's own included.
    pub reports: u32,
    /// The other feeds that carried it so far.
    pub also_reported_by: Vec<String>,
}

impl StorySummary {
    /// An alert whose story the store no longer holds (or a digest's view of it): itself.
    pub fn alone(alert: &Alert) -> StorySummary {
        StorySummary {
            id: alert.id.clone(),
            reports: 1,
            also_reported_by: Vec::new(),
        }
    }
}

/// The alert id for an article: its store key in hex, so it is stable across restarts.
pub fn alert_id(store_key: &[u8; 16]) -> String {
    let mut out = String::with_capacity(32);
    for byte in store_key {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// A stable fingerprint of a canonical link, for recognising the same article URL in
/// several feeds.
pub fn link_fingerprint(link: &str) -> u64 {
    xxh3_64(link.as_bytes())
}

/// A headline without a trailing " - Publisher" or " | Publisher" suffix.
pub fn strip_publisher_suffix(title: &str) -> &str {
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

    #[test]
    fn publisher_suffixes_are_removed() {
        assert_eq!(
            strip_publisher_suffix("US, Iran talk - Reuters"),
            "US, Iran talk"
        );
        assert_eq!(
            strip_publisher_suffix(
                "Talks - what the two sides said after five long hours of talks"
            ),
            "Talks - what the two sides said after five long hours of talks"
        );
    }

    #[test]
    fn alert_id_is_hex_of_the_key() {
        assert_eq!(alert_id(&[0xab; 16]), "ab".repeat(16));
    }
}
