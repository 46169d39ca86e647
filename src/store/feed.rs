//! What the store remembers about a feed, and how each kind of poll changes it.
//!
//! The daemon never edits a [`FeedState`] field by field: a poll ends in one of the
//! transitions below, so what "success", "failure" and "unchanged" mean is written once.

use super::{Store, StoreError, compact, counts, io, keys, tx_error};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sled::Transactional;

/// What parleyd remembers about a feed between polls and across restarts.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct FeedState {
    /// The feed's own title.
    pub title: Option<String>,
    /// `ETag` of the last body.
    pub etag: Option<String>,
    /// `Last-Modified` of the last body.
    pub last_modified: Option<String>,
    /// xxh3 of the last body, to skip parsing when a server ignores conditional GET.
    pub body_hash: Option<u64>,
    /// Whether a poll has succeeded once (its backlog has been stored).
    pub first_poll_done: bool,
    /// Last successful poll.
    pub last_success: Option<DateTime<Utc>>,
    /// Last failed poll and why.
    pub last_error: Option<String>,
    /// Polls failed in a row; drives back-off.
    pub consecutive_failures: u32,
    /// Articles stored from this feed.
    pub items_seen: u64,
    /// When it was last fetched, successfully or not.
    #[serde(default)]
    pub last_attempt: Option<DateTime<Utc>>,
    /// The kind of the last error (`status`, `timeout`, `parse`…).
    #[serde(default)]
    pub last_error_kind: Option<String>,
    /// When the next poll is due.
    #[serde(default)]
    pub next_poll: Option<DateTime<Utc>>,
    /// The server's own refresh hint (Cache-Control max-age or RSS ttl), in seconds.
    #[serde(default)]
    pub refresh_hint_secs: Option<u64>,
    /// Where the feed now answers from, when the server redirected it.
    #[serde(default)]
    pub moved_to: Option<String>,
}

impl FeedState {
    /// `failing` while polls fail, `ok` after a success, `new` before any.
    pub fn health(&self) -> &'static str {
        if self.consecutive_failures > 0 {
            "failing"
        } else if self.last_success.is_some() {
            "ok"
        } else {
            "new"
        }
    }

    /// A failed poll: one more failure in a row (which drives back-off), and why.
    pub fn record_failure(&mut self, kind: &str, error: String, at: DateTime<Utc>) {
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        self.last_error = Some(error);
        self.last_error_kind = Some(kind.to_string());
        self.last_attempt = Some(at);
    }

    /// A poll that found nothing new (304, or the same body again): a success, so the
    /// failure streak ends, but the validators and body hash stay as they are.
    pub fn record_unchanged(&mut self, at: DateTime<Utc>) {
        self.last_success = Some(at);
        self.last_attempt = Some(at);
        self.last_error = None;
        self.last_error_kind = None;
        self.consecutive_failures = 0;
    }

    /// The state after a poll that read a new body. The feed's title is kept when the
    /// body has none; the next poll is left for the scheduler to set, and `items_seen` for
    /// the commit to count.
    pub fn after_new_body(&self, body: NewBody, at: DateTime<Utc>) -> FeedState {
        FeedState {
            title: body.title.or_else(|| self.title.clone()),
            etag: body.etag,
            last_modified: body.last_modified,
            body_hash: Some(body.body_hash),
            first_poll_done: true,
            last_success: Some(at),
            last_error: None,
            consecutive_failures: 0,
            items_seen: self.items_seen,
            last_attempt: Some(at),
            last_error_kind: None,
            next_poll: None,
            refresh_hint_secs: body.refresh_hint_secs,
            moved_to: body.moved_to,
        }
    }

    /// Records when the next poll is due (`None` when it is too far off to say).
    pub fn schedule(&mut self, next_poll: Option<DateTime<Utc>>) {
        self.next_poll = next_poll;
    }
}

/// What a poll that read a new body learned about the feed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewBody {
    /// The title the body gave, if any.
    pub title: Option<String>,
    /// The body's `ETag`.
    pub etag: Option<String>,
    /// The body's `Last-Modified`.
    pub last_modified: Option<String>,
    /// xxh3 of the body.
    pub body_hash: u64,
    /// The server's refresh hint, in seconds.
    pub refresh_hint_secs: Option<u64>,
    /// Where the feed now answers from, when the server redirected it.
    pub moved_to: Option<String>,
}

impl Store {
    /// A feed's remembered state; a record that cannot be decoded counts as absent.
    ///
    /// # Errors
    /// [`StoreError::Io`] on a read failure.
    pub fn feed_state(&self, feed_url: &str) -> Result<Option<FeedState>, StoreError> {
        let bytes = self.feeds.get(feed_url).map_err(io("feed state read"))?;
        Ok(bytes.and_then(|b| compact::decode_feed_state(&b).ok()))
    }

    /// When this store first knew the feed (see [`Store::remember_feeds`]); `None` for a
    /// feed never recorded, or a record that cannot be read as a time.
    ///
    /// # Errors
    /// [`StoreError::Io`] on a read failure.
    pub fn feed_known_since(&self, feed_url: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let bytes = self
            .meta
            .get(keys::known_since_key(feed_url))
            .map_err(io("feed known-since read"))?;
        Ok(bytes
            .and_then(|b| <[u8; 8]>::try_from(b.as_ref()).ok())
            .and_then(|b| DateTime::from_timestamp(i64::from_be_bytes(b), 0)))
    }

    /// Records `now` as the time the store first knew each of these feeds, for those it
    /// has no time for yet (one batch); returns how many it recorded. A feed's first poll
    /// stores its backlog without alerting; when that poll cannot be saved for a while (a
    /// full disk), what the feed published after this time is news when it finally is.
    ///
    /// # Errors
    /// [`StoreError::Io`] on a read or write failure.
    pub fn remember_feeds<'a>(
        &self,
        feed_urls: impl IntoIterator<Item = &'a str>,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let mut batch = sled::Batch::default();
        let mut recorded = 0;
        for url in feed_urls {
            let key = keys::known_since_key(url);
            if !self
                .meta
                .contains_key(&key)
                .map_err(io("feed known-since read"))?
            {
                batch.insert(key, &now.timestamp().to_be_bytes());
                recorded += 1;
            }
        }
        if recorded > 0 {
            self.meta
                .apply_batch(batch)
                .map_err(io("feed known-since write"))?;
        }
        Ok(recorded)
    }

    /// Saves a feed's state on its own (after a failed or unchanged poll, and the next poll
    /// time after every poll), counting the feed if it is new.
    ///
    /// A feed already stored is updated by one compare-and-swap, not a transaction: every
    /// sled transaction writes out the log buffer twice (sled's `pin_log` rolls it before
    /// and after its batch marker), a write and a `sync_file_range` each, and the daemon
    /// saves two states per poll, so at 20,000 feeds transactions here were most of the
    /// steady state's CPU (BENCHMARKS.md, "The daemon's steady state"). The swap is atomic
    /// on its own key; if the state changed or went meanwhile, the transaction below does
    /// the write and the count.
    ///
    /// # Errors
    /// [`StoreError::Io`] on a write failure.
    pub fn put_feed_state(&self, feed_url: &str, state: &FeedState) -> Result<(), StoreError> {
        let value = compact::encode_feed_state(state);
        if let Some(current) = self.feeds.get(feed_url).map_err(io("feed state read"))? {
            let swapped = self
                .feeds
                .compare_and_swap(feed_url, Some(current), Some(value.as_slice()))
                .map_err(io("feed state write"))?;
            if swapped.is_ok() {
                return Ok(());
            }
        }
        (&self.feeds, &self.meta)
            .transaction(|(feeds, meta)| {
                if feeds.insert(feed_url, value.as_slice())?.is_none() {
                    counts::change(meta, |counts| counts.feeds += 1)?;
                }
                Ok(())
            })
            .map_err(tx_error("feed state write"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap()
    }

    #[test]
    fn failures_count_up_and_an_unchanged_poll_ends_the_streak() {
        let mut state = FeedState::default();
        state.record_failure("timeout", "feed `n`: timed out".into(), at(10));
        state.record_failure("status", "feed `n`: HTTP 500".into(), at(20));
        assert_eq!(state.consecutive_failures, 2);
        assert_eq!(state.last_error_kind.as_deref(), Some("status"));
        assert_eq!(state.last_attempt, Some(at(20)));
        assert_eq!(state.health(), "failing");

        state.etag = Some("\"v1\"".into());
        state.record_unchanged(at(30));
        assert_eq!(state.consecutive_failures, 0);
        assert!(state.last_error.is_none() && state.last_error_kind.is_none());
        assert_eq!(state.last_success, Some(at(30)));
        assert_eq!(state.etag.as_deref(), Some("\"v1\""), "validators stay");
        assert_eq!(state.health(), "ok");
    }

    #[test]
    fn a_new_body_replaces_validators_and_keeps_a_title_the_body_lacks() {
        let before = FeedState {
            title: Some("Wire".into()),
            etag: Some("\"old\"".into()),
            consecutive_failures: 3,
            items_seen: 7,
            next_poll: Some(at(99)),
            ..FeedState::default()
        };
        let body = NewBody {
            etag: Some("\"new\"".into()),
            body_hash: 42,
            ..NewBody::default()
        };
        let after = before.after_new_body(body, at(50));
        assert_eq!(after.title.as_deref(), Some("Wire"));
        assert_eq!(after.etag.as_deref(), Some("\"new\""));
        assert_eq!(after.body_hash, Some(42));
        assert!(after.first_poll_done);
        assert_eq!(after.consecutive_failures, 0);
        assert_eq!(after.items_seen, 7, "counted by the commit, not reset");
        assert_eq!(after.next_poll, None, "set by the scheduler");
    }
}
