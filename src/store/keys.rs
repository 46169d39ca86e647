//! The on-disk layout: tree names, key encodings and the value codec, in one place.
//!
//! | tree       | key                                   | value                          |
//! |------------|---------------------------------------|--------------------------------|
//! | `meta`     | `schema_version`, `stories_version`,  | u32 / u64 / i64 (Unix seconds),|
//! |            | `last_prune`, `legacy_article_keys`,  | big-endian; a flag byte        |
//! |            | `health_probe`,                       |                                |
//! |            | `feed_known_since`, 0x00, feed URL    | i64 (Unix seconds), big-endian |
//! |            | `counts`, `recent`                    | [`super::Counts`], [`super::Recent`] |
//! |            | `sequence_floor`                      | u64, big-endian                |
//! | `articles` | xxh3-64(feed URL), xxh3-64(key), 16 B | [`super::StoredArticle`] (compact), or a tombstone |
//! | `feeds`    | feed URL, UTF-8                       | [`super::FeedState`] (compact) |
//! | `stories`  | alert id (32 hex characters)          | [`super::StoryRecord`]         |
//! | `outbox`   | sink name, 0x00, sequence u64 BE      | [`crate::model::Alert`]        |
//! | `dead`     | as `outbox`                           | [`crate::model::Alert`]        |
//! | `sent`     | sink name, 0x00, alert id             | [`super::SentAlert`]           |
//!
//! Between a clean close and the next open, the store folder also holds sled's neighbour
//! `parleyd-clean-shutdown.json` (see `clean`).
//!
//! Values are one format byte followed by the value: [`VALUE_VERSION`] and JSON, or (for
//! articles and feed states since schema 4) `compact::COMPACT_VERSION` and postcard of a
//! pinned wire shape (see `compact`). Both read, so a store written before schema 4 keeps
//! its JSON records until they are pruned or rewritten.
//! The sequence in outbox keys comes from sled's monotonic id generator, so a sink's entries
//! are scanned oldest first.

use crate::model::Article;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Bump when a key layout or value shape changes incompatibly (and migrate in
/// `Store::open`). 2: article keys lead with the feed's hash (1 hashed both together).
/// 3: `meta` holds the counts record, which every write keeps. 4: articles and feed
/// states are written in the compact form (an older parleyd would take them for absent).
pub const SCHEMA_VERSION: u32 = 4;
/// The first byte of a JSON value.
pub(super) const VALUE_VERSION: u8 = 1;

pub(super) const META: &str = "meta";
pub(super) const ARTICLES: &str = "articles";
pub(super) const FEEDS: &str = "feeds";
pub(super) const STORIES: &str = "stories";
pub(super) const OUTBOX: &str = "outbox";
pub(super) const DEAD: &str = "dead";
pub(super) const SENT: &str = "sent";
pub(super) const SCHEMA_KEY: &[u8] = b"schema_version";
/// Bumped by every commit that opens a story, so concurrent commits notice each other.
pub(super) const STORIES_VERSION_KEY: &[u8] = b"stories_version";
/// When the store was last pruned.
pub(super) const LAST_PRUNE_KEY: &[u8] = b"last_prune";
/// The counts record (see [`super::Counts`]).
pub(super) const COUNTS_KEY: &[u8] = b"counts";
/// Overwritten by every health check: a write that succeeds shows the store takes writes.
pub(super) const HEALTH_PROBE_KEY: &[u8] = b"health_probe";
/// Before a feed URL: when this store first knew the feed (see `Store::feed_known_since`).
pub(super) const KNOWN_SINCE_PREFIX: &[u8] = b"feed_known_since\0";
/// The latest matches and the counts per day (see [`super::Recent`]).
pub(super) const RECENT_KEY: &[u8] = b"recent";
/// Added to every outbox sequence sled generates: set by an import above every imported
/// sequence, since a new sled database counts from zero again.
pub(super) const SEQUENCE_FLOOR_KEY: &[u8] = b"sequence_floor";
/// Set when a schema 1 store kept tombstones under schema 1 keys (see [`article_keys`]).
pub(super) const LEGACY_KEYS_KEY: &[u8] = b"legacy_article_keys";

/// The keys an article may be stored under: its own, then (with `legacy`, in a store that
/// kept schema 1 tombstones) its schema 1 key, the feed URL and the article key hashed
/// together. Tombstones of articles pruned before the migration to schema 2 stay under
/// those keys, since they keep no article to re-key from. The schema 1 key is hashed only
/// when a caller gets past the own key (the status page asks of every article in a week).
pub(super) fn article_keys(article: &Article, legacy: bool) -> impl Iterator<Item = [u8; 16]> {
    let schema_1 = legacy.then_some(article).into_iter().map(schema_1_key);
    std::iter::once(article.store_key()).chain(schema_1)
}

/// An article's key under schema 1: the feed URL and the article key hashed together.
fn schema_1_key(article: &Article) -> [u8; 16] {
    let mut buf = Vec::with_capacity(article.feed_url.len() + article.key.len() + 1);
    buf.extend_from_slice(article.feed_url.as_bytes());
    buf.push(0);
    buf.extend_from_slice(article.key.as_bytes());
    xxhash_rust::xxh3::xxh3_128(&buf).to_be_bytes()
}

/// The key prefix of one sink's entries in `outbox` and `dead`.
pub(super) fn sink_prefix(sink: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(sink.len() + 1);
    key.extend_from_slice(sink.as_bytes());
    key.push(0);
    key
}

/// The `meta` key that holds when a feed was first known.
pub(super) fn known_since_key(feed_url: &str) -> Vec<u8> {
    let mut key = KNOWN_SINCE_PREFIX.to_vec();
    key.extend_from_slice(feed_url.as_bytes());
    key
}

/// An outbox key: sink prefix then the sequence number, big-endian so keys sort by age.
pub(super) fn outbox_key(sink: &str, sequence: u64) -> Vec<u8> {
    let mut key = sink_prefix(sink);
    key.extend_from_slice(&sequence.to_be_bytes());
    key
}

/// A `sent` key: sink prefix then the alert id.
pub(super) fn sent_key(sink: &str, alert_id: &str) -> Vec<u8> {
    let mut key = sink_prefix(sink);
    key.extend_from_slice(alert_id.as_bytes());
    key
}

/// Encodes a value: format byte, then JSON.
pub(super) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = vec![VALUE_VERSION];
    // Serialising our own plain structs to a Vec cannot fail.
    serde_json::to_writer(&mut out, value).expect("store values serialise to JSON");
    out
}

/// Decodes a value written by [`encode`].
pub(super) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    match bytes.split_first() {
        Some((&VALUE_VERSION, json)) => serde_json::from_slice(json).map_err(|e| e.to_string()),
        Some((version, _)) => Err(format!("unknown value version {version}")),
        None => Err("empty value".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outbox_keys_sort_by_sequence_within_a_sink() {
        assert!(outbox_key("slack", 9) < outbox_key("slack", 10));
        assert!(outbox_key("slack", 255) < outbox_key("slack", 256));
        assert!(outbox_key("slack", 1).starts_with(&sink_prefix("slack")));
        assert!(!outbox_key("slack-2", 1).starts_with(&sink_prefix("slack")));
    }

    proptest::proptest! {
        #[test]
        fn outbox_keys_round_trip_and_keep_sinks_apart(
            sink in "[a-z0-9_-]{1,20}",
            other in "[a-z0-9_-]{1,20}",
            a in proptest::num::u64::ANY,
            b in proptest::num::u64::ANY,
        ) {
            let key = outbox_key(&sink, a);
            let (prefix, sequence) = key.split_at(key.len() - 8);
            proptest::prop_assert_eq!(prefix, &sink_prefix(&sink)[..]);
            proptest::prop_assert_eq!(u64::from_be_bytes(sequence.try_into().unwrap()), a);
            proptest::prop_assert_eq!(a.cmp(&b), key.cmp(&outbox_key(&sink, b)));
            if other != sink {
                proptest::prop_assert!(!key.starts_with(&sink_prefix(&other)));
            }
        }

        #[test]
        fn values_round_trip(strings in proptest::collection::vec(".{0,40}", 0..8), n in proptest::num::i64::ANY) {
            let value = (strings, n);
            proptest::prop_assert_eq!(decode::<(Vec<String>, i64)>(&encode(&value)).unwrap(), value);
        }
    }

    #[test]
    fn values_round_trip_and_reject_unknown_versions() {
        let bytes = encode(&vec![1u32, 2]);
        assert_eq!(decode::<Vec<u32>>(&bytes).unwrap(), vec![1, 2]);
        let mut wrong = bytes.clone();
        wrong[0] = 9;
        assert!(decode::<Vec<u32>>(&wrong).is_err());
    }

    #[test]
    fn story_records_written_before_story_markers_still_read() {
        let old = br#"{"alert_id":"ab","first_seen":"2026-06-01T10:00:00Z","event":"talks","terms":[3,7],"link":null,"reported_by":["Wire"]}"#;
        let mut bytes = vec![VALUE_VERSION];
        bytes.extend_from_slice(old);
        let story: super::super::StoryRecord = decode(&bytes).unwrap();
        assert_eq!(story.key.terms, [3, 7]);
        assert!(story.key.places.is_empty() && story.key.outcome.is_none());
        let again: super::super::StoryRecord = decode(&encode(&story)).unwrap();
        assert_eq!(again.key, story.key);
    }
}
