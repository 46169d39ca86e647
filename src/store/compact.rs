//! The compact values of articles and feed states: a format byte, then postcard of a
//! pinned wire shape.
//!
//! These two are most of the store's bytes and the records every poll writes: JSON spelt
//! out every field name and every time as text, a quarter of an article's value. The wire
//! shapes below are their own structs, not the records' serde forms, so the records can
//! keep serving JSON (export, the status page) while the bytes on disk stay fixed: a
//! change to a shape is a new format byte and a decoder for the old one. Values written
//! as JSON by an older parleyd (format byte [`keys::VALUE_VERSION`]) read as before.

use super::feed::FeedState;
use super::keys;
use super::records::StoredArticle;
use crate::model::{Article, Event, Verdict};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// The first byte of a compact value: postcard of [`ArticleWire`] in `articles`, of
/// [`FeedStateWire`] in `feeds`.
pub(super) const COMPACT_VERSION: u8 = 2;

/// A time to the nanosecond as Unix seconds and the nanoseconds past them: two varints,
/// 9–10 bytes where the RFC 3339 text took 32.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Time(i64, u32);

impl Time {
    fn of(at: DateTime<Utc>) -> Time {
        Time(at.timestamp(), at.timestamp_subsec_nanos())
    }

    fn get(self) -> Result<DateTime<Utc>, String> {
        DateTime::from_timestamp(self.0, self.1)
            .ok_or_else(|| format!("time {}.{:09} out of range", self.0, self.1))
    }
}

fn time_of(at: Option<DateTime<Utc>>) -> Option<Time> {
    at.map(Time::of)
}

fn time_from(time: Option<Time>) -> Result<Option<DateTime<Utc>>, String> {
    time.map(Time::get).transpose()
}

fn text(value: &Option<String>) -> Option<Cow<'_, str>> {
    value.as_deref().map(Cow::Borrowed)
}

fn owned(value: Option<Cow<'_, str>>) -> Option<String> {
    value.map(Cow::into_owned)
}

/// An event kind by number, so renaming or reordering [`Event`] cannot change the bytes.
fn event_number(event: Event) -> u8 {
    match event {
        Event::Talks => 0,
        Event::Channel => 1,
    }
}

fn event_from(number: u8) -> Result<Event, String> {
    match number {
        0 => Ok(Event::Talks),
        1 => Ok(Event::Channel),
        other => Err(format!("unknown event kind {other}")),
    }
}

/// [`StoredArticle`] on disk, field for field (borrowed when written, owned when read).
#[derive(Serialize, Deserialize)]
struct ArticleWire<'a> {
    key: Cow<'a, str>,
    feed: Cow<'a, str>,
    feed_url: Cow<'a, str>,
    title: Cow<'a, str>,
    link: Option<Cow<'a, str>>,
    summary: Cow<'a, str>,
    published: Option<Time>,
    first_seen: Time,
    verdict: Option<VerdictWire<'a>>,
    alert_id: Option<Cow<'a, str>>,
}

/// [`Verdict`] on disk.
#[derive(Serialize, Deserialize)]
struct VerdictWire<'a> {
    relevant: bool,
    event: Option<u8>,
    score: f64,
    reasons: Cow<'a, [String]>,
}

/// [`FeedState`] on disk, field for field.
#[derive(Serialize, Deserialize)]
struct FeedStateWire<'a> {
    title: Option<Cow<'a, str>>,
    etag: Option<Cow<'a, str>>,
    last_modified: Option<Cow<'a, str>>,
    body_hash: Option<u64>,
    first_poll_done: bool,
    last_success: Option<Time>,
    last_error: Option<Cow<'a, str>>,
    consecutive_failures: u32,
    items_seen: u64,
    last_attempt: Option<Time>,
    last_error_kind: Option<Cow<'a, str>>,
    next_poll: Option<Time>,
    refresh_hint_secs: Option<u64>,
    moved_to: Option<Cow<'a, str>>,
}

/// An article's value: [`COMPACT_VERSION`], then postcard.
pub(super) fn encode_article(stored: &StoredArticle) -> Vec<u8> {
    let article = &stored.article;
    let wire = ArticleWire {
        key: Cow::Borrowed(&article.key),
        feed: Cow::Borrowed(&article.feed),
        feed_url: Cow::Borrowed(&article.feed_url),
        title: Cow::Borrowed(&article.title),
        link: text(&article.link),
        summary: Cow::Borrowed(&article.summary),
        published: time_of(article.published),
        first_seen: Time::of(article.first_seen),
        verdict: stored.verdict.as_ref().map(|verdict| VerdictWire {
            relevant: verdict.relevant,
            event: verdict.event.map(event_number),
            score: verdict.score,
            reasons: Cow::Borrowed(&verdict.reasons),
        }),
        alert_id: text(&stored.alert_id),
    };
    encode(&wire)
}

/// An article's value in either format; an error for anything else (a tombstone).
pub(super) fn decode_article(bytes: &[u8]) -> Result<StoredArticle, String> {
    let wire: ArticleWire<'_> = match bytes.split_first() {
        Some((&COMPACT_VERSION, rest)) => decode(rest)?,
        _ => return keys::decode(bytes),
    };
    let verdict = wire
        .verdict
        .map(|verdict| {
            Ok::<_, String>(Verdict {
                relevant: verdict.relevant,
                event: verdict.event.map(event_from).transpose()?,
                score: verdict.score,
                reasons: verdict.reasons.into_owned(),
            })
        })
        .transpose()?;
    Ok(StoredArticle {
        article: Article {
            key: wire.key.into_owned(),
            feed: wire.feed.into_owned(),
            feed_url: wire.feed_url.into_owned(),
            title: wire.title.into_owned(),
            link: owned(wire.link),
            summary: wire.summary.into_owned(),
            published: time_from(wire.published)?,
            first_seen: wire.first_seen.get()?,
        },
        verdict,
        alert_id: owned(wire.alert_id),
    })
}

/// A feed state's value: [`COMPACT_VERSION`], then postcard.
pub(super) fn encode_feed_state(state: &FeedState) -> Vec<u8> {
    let wire = FeedStateWire {
        title: text(&state.title),
        etag: text(&state.etag),
        last_modified: text(&state.last_modified),
        body_hash: state.body_hash,
        first_poll_done: state.first_poll_done,
        last_success: time_of(state.last_success),
        last_error: text(&state.last_error),
        consecutive_failures: state.consecutive_failures,
        items_seen: state.items_seen,
        last_attempt: time_of(state.last_attempt),
        last_error_kind: text(&state.last_error_kind),
        next_poll: time_of(state.next_poll),
        refresh_hint_secs: state.refresh_hint_secs,
        moved_to: text(&state.moved_to),
    };
    encode(&wire)
}

/// A feed state's value in either format.
pub(super) fn decode_feed_state(bytes: &[u8]) -> Result<FeedState, String> {
    let wire: FeedStateWire<'_> = match bytes.split_first() {
        Some((&COMPACT_VERSION, rest)) => decode(rest)?,
        _ => return keys::decode(bytes),
    };
    Ok(FeedState {
        title: owned(wire.title),
        etag: owned(wire.etag),
        last_modified: owned(wire.last_modified),
        body_hash: wire.body_hash,
        first_poll_done: wire.first_poll_done,
        last_success: time_from(wire.last_success)?,
        last_error: owned(wire.last_error),
        consecutive_failures: wire.consecutive_failures,
        items_seen: wire.items_seen,
        last_attempt: time_from(wire.last_attempt)?,
        last_error_kind: owned(wire.last_error_kind),
        next_poll: time_from(wire.next_poll)?,
        refresh_hint_secs: wire.refresh_hint_secs,
        moved_to: owned(wire.moved_to),
    })
}

fn encode<T: Serialize>(wire: &T) -> Vec<u8> {
    // Serialising our own plain structs to a Vec cannot fail.
    postcard::to_extend(wire, vec![COMPACT_VERSION]).expect("store values serialise")
}

/// Postcard of `T`, all of `bytes`: a value with bytes left over is not one we wrote.
fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, String> {
    match postcard::take_from_bytes(bytes) {
        Ok((value, [])) => Ok(value),
        Ok((_, rest)) => Err(format!("{} bytes after the value", rest.len())),
        Err(err) => Err(err.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn time() -> impl Strategy<Value = DateTime<Utc>> {
        // Years 1900 to 2200, any nanosecond: far wider than a feed's clamped dates.
        (-2_208_988_800i64..7_258_118_400, 0u32..1_000_000_000)
            .prop_map(|(secs, nanos)| DateTime::from_timestamp(secs, nanos).unwrap())
    }

    fn article() -> impl Strategy<Value = StoredArticle> {
        let text = ".{0,40}";
        let verdict = (
            any::<bool>(),
            proptest::option::of(prop_oneof![Just(Event::Talks), Just(Event::Channel)]),
            // Thousandths: JSON text reads back the same f64 (the old format's round trip).
            (0u32..=1000).prop_map(|n| f64::from(n) / 1000.0),
            proptest::collection::vec(text, 0..4),
        )
            .prop_map(|(relevant, event, score, reasons)| Verdict {
                relevant,
                event,
                score,
                reasons,
            });
        (
            (text, text, text, text, proptest::option::of(text), text),
            (proptest::option::of(time()), time()),
            proptest::option::of(verdict),
            proptest::option::of("[0-9a-f]{32}"),
        )
            .prop_map(
                |(
                    (key, feed, feed_url, title, link, summary),
                    (published, first_seen),
                    verdict,
                    alert_id,
                )| {
                    StoredArticle {
                        article: Article {
                            key,
                            feed,
                            feed_url,
                            title,
                            link,
                            summary,
                            published,
                            first_seen,
                        },
                        verdict,
                        alert_id,
                    }
                },
            )
    }

    fn feed_state() -> impl Strategy<Value = FeedState> {
        let text = || proptest::option::of(".{0,30}");
        (
            (text(), text(), text(), any::<Option<u64>>(), any::<bool>()),
            (
                proptest::option::of(time()),
                text(),
                any::<u32>(),
                any::<u64>(),
            ),
            (
                proptest::option::of(time()),
                text(),
                proptest::option::of(time()),
            ),
            (any::<Option<u64>>(), text()),
        )
            .prop_map(
                |(
                    (title, etag, last_modified, body_hash, first_poll_done),
                    (last_success, last_error, consecutive_failures, items_seen),
                    (last_attempt, last_error_kind, next_poll),
                    (refresh_hint_secs, moved_to),
                )| FeedState {
                    title,
                    etag,
                    last_modified,
                    body_hash,
                    first_poll_done,
                    last_success,
                    last_error,
                    consecutive_failures,
                    items_seen,
                    last_attempt,
                    last_error_kind,
                    next_poll,
                    refresh_hint_secs,
                    moved_to,
                },
            )
    }

    fn json(value: &impl Serialize) -> serde_json::Value {
        serde_json::to_value(value).unwrap()
    }

    proptest! {
        #[test]
        fn articles_round_trip_in_both_formats(stored in article()) {
            let compact = encode_article(&stored);
            prop_assert_eq!(compact[0], COMPACT_VERSION);
            prop_assert_eq!(json(&decode_article(&compact).unwrap()), json(&stored));
            let old = keys::encode(&stored);
            prop_assert_eq!(json(&decode_article(&old).unwrap()), json(&stored));
            prop_assert!(compact.len() < old.len());
        }

        #[test]
        fn feed_states_round_trip_in_both_formats(state in feed_state()) {
            let compact = encode_feed_state(&state);
            prop_assert_eq!(&decode_feed_state(&compact).unwrap(), &state);
            prop_assert_eq!(&decode_feed_state(&keys::encode(&state)).unwrap(), &state);
        }
    }

    /// A value cut short or with bytes after it is refused, not read as something else.
    #[test]
    fn cut_or_padded_values_are_refused() {
        let state = FeedState {
            etag: Some("\"v1\"".into()),
            items_seen: 20,
            ..FeedState::default()
        };
        let bytes = encode_feed_state(&state);
        assert!(decode_feed_state(&bytes[..bytes.len() - 1]).is_err());
        let mut padded = bytes.clone();
        padded.push(0);
        assert!(decode_feed_state(&padded).is_err());
        assert!(decode_article(&bytes[..1]).is_err());
    }

    /// A tombstone is not an article in either format.
    #[test]
    fn a_tombstone_is_not_an_article() {
        let tombstone = keys::encode(&super::super::records::Tombstone { pruned: true });
        assert!(decode_article(&tombstone).is_err());
    }
}
