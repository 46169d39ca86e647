//! What the operator commands show, built from a store and a config. The CLI renders these
//! rows whether it read the store itself or got them from a running daemon's API, so its
//! output is the same either way; they are also the API's JSON shapes.
//!
//! Times are RFC 3339 with a `+00:00` offset, as the commands printed them before the API.

use crate::classify::Classifier;
use crate::config::Config;
use crate::model::Event;
use crate::store::{Store, StoreError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One feed's health, for `parleyd feeds`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedRow {
    /// The feed's name in the config.
    pub name: String,
    /// Its URL as safe to show (no query).
    pub url: String,
    /// `ok`, `failing` or `new`.
    pub health: String,
    /// Last successful poll.
    #[serde(with = "rfc3339_opt")]
    pub last_success: Option<DateTime<Utc>>,
    /// Last poll, successful or not.
    #[serde(with = "rfc3339_opt")]
    pub last_attempt: Option<DateTime<Utc>>,
    /// Why the last failed poll failed.
    pub last_error: Option<String>,
    /// The kind of that error (`status`, `timeout`, `parse`…).
    pub last_error_kind: Option<String>,
    /// Polls failed in a row.
    pub consecutive_failures: u32,
    /// Articles stored from this feed.
    pub items_seen: u64,
    /// When the next poll is due.
    #[serde(with = "rfc3339_opt")]
    pub next_poll: Option<DateTime<Utc>>,
    /// Where the feed redirects to, if it does.
    pub moved_to: Option<String>,
    /// The feed's own title.
    pub title: Option<String>,
}

/// Where an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    /// In the outbox, to be sent or retried.
    Pending,
    /// Accepted by its sink.
    Sent,
    /// Given up on; `alerts retry` puts it back.
    Dead,
}

impl AlertState {
    /// The name the commands and the API use.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Pending => "pending",
            AlertState::Sent => "sent",
            AlertState::Dead => "dead",
        }
    }
}

/// One alert, for `parleyd alerts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRow {
    /// Pending, sent or dead.
    pub state: AlertState,
    /// The alert id (the same on every sink and retry).
    pub id: String,
    /// The sink it is for.
    pub sink: String,
    /// Delivery attempts so far.
    pub attempts: u32,
    /// When it was queued.
    #[serde(with = "rfc3339")]
    pub queued: DateTime<Utc>,
    /// When its sink accepted it.
    #[serde(with = "rfc3339_opt")]
    pub sent_at: Option<DateTime<Utc>>,
    /// Not before this time.
    #[serde(with = "rfc3339")]
    pub next_attempt: DateTime<Utc>,
    /// The last delivery error, secrets removed.
    pub last_error: Option<String>,
    /// Talks or channel.
    pub event: Option<Event>,
    /// The classifier's score.
    pub score: f64,
    /// The article's title.
    pub title: String,
    /// The article's link.
    pub link: Option<String>,
    /// The feed it came from.
    pub feed: String,
    /// Other feeds that reported the story.
    pub also_reported_by: Vec<String>,
}

/// What `alerts retry` re-queues: one dead alert by id, or all of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryRequest {
    /// The alert id; `None` with `all_dead`.
    #[serde(default)]
    pub id: Option<String>,
    /// Every dead-lettered alert.
    #[serde(default)]
    pub all_dead: bool,
}

/// One stored article that would alert under the profile replayed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplayLine {
    /// When parleyd first stored it.
    #[serde(with = "rfc3339")]
    pub first_seen: DateTime<Utc>,
    /// The feed it came from.
    pub feed: String,
    /// Its title.
    pub title: String,
    /// Its link.
    pub link: Option<String>,
    /// Talks or channel.
    pub event: Option<Event>,
    /// The score under the profile replayed.
    pub score: f64,
    /// Whether it was relevant when it was stored.
    pub was_relevant: Option<bool>,
    /// Why it matches.
    pub reasons: Vec<String>,
}

/// What `replay` found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplayReport {
    /// Articles first seen at or after this were scored.
    #[serde(with = "rfc3339")]
    pub cutoff: DateTime<Utc>,
    /// How many were scored.
    pub articles: usize,
    /// Those that would alert, oldest first.
    pub would_alert: Vec<ReplayLine>,
}

/// Every configured feed's health, in config order.
///
/// # Errors
/// [`StoreError`] when a feed's state cannot be read.
pub fn feeds(store: &Store, config: &Config) -> Result<Vec<FeedRow>, StoreError> {
    let mut rows = Vec::with_capacity(config.feeds.len());
    for feed in &config.feeds {
        let state = store.feed_state(feed.url.as_str())?.unwrap_or_default();
        rows.push(FeedRow {
            name: feed.name.clone(),
            url: feed.display_url(),
            health: state.health().to_string(),
            last_success: state.last_success,
            last_attempt: state.last_attempt,
            last_error: state.last_error,
            last_error_kind: state.last_error_kind,
            consecutive_failures: state.consecutive_failures,
            items_seen: state.items_seen,
            next_poll: state.next_poll,
            moved_to: state.moved_to,
            title: state.title,
        });
    }
    Ok(rows)
}

/// Alerts in `only` (every state when `None`), oldest queued first.
///
/// # Errors
/// [`StoreError`] when a tree cannot be read.
pub fn alerts(store: &Store, only: Option<AlertState>) -> Result<Vec<AlertRow>, StoreError> {
    let wanted = |state: AlertState| only.is_none_or(|o| o == state);
    let mut found: Vec<(AlertState, crate::model::Alert, Option<DateTime<Utc>>)> = Vec::new();
    if wanted(AlertState::Pending) {
        let pending = store.pending_alerts()?.into_iter();
        found.extend(pending.map(|a| (AlertState::Pending, a, None)));
    }
    if wanted(AlertState::Sent) {
        let sent = store.sent_alerts()?.into_iter();
        found.extend(sent.map(|s| (AlertState::Sent, s.alert, Some(s.sent_at))));
    }
    if wanted(AlertState::Dead) {
        let dead = store.dead_alerts()?.into_iter();
        found.extend(dead.map(|a| (AlertState::Dead, a, None)));
    }
    found.sort_by_key(|(_, alert, _)| alert.created);
    let mut rows = Vec::with_capacity(found.len());
    for (state, alert, sent_at) in found {
        let also_reported_by = store.also_reported_by(&alert)?;
        rows.push(AlertRow {
            state,
            id: alert.id,
            sink: alert.sink,
            attempts: alert.attempts,
            queued: alert.created,
            sent_at,
            next_attempt: alert.next_attempt,
            last_error: alert.last_error,
            event: alert.verdict.event,
            score: alert.verdict.score,
            title: alert.article.title,
            link: alert.article.link,
            feed: alert.article.feed,
            also_reported_by,
        });
    }
    Ok(rows)
}

/// Moves dead alerts back to the outbox with fresh attempts and age; returns how many.
/// The caller flushes.
///
/// # Errors
/// [`StoreError`] when the dead-letter list cannot be read or written.
pub fn retry(store: &Store, request: &RetryRequest) -> Result<usize, StoreError> {
    let id = if request.all_dead {
        None
    } else {
        request.id.as_deref()
    };
    if id.is_none() && !request.all_dead {
        return Ok(0);
    }
    store.retry_dead(id, Utc::now())
}

/// Re-scores the articles first seen since `cutoff` and lists those that would alert.
///
/// # Errors
/// [`StoreError`] when the articles cannot be read.
pub fn replay(
    store: &Store,
    classifier: &Classifier,
    cutoff: DateTime<Utc>,
) -> Result<ReplayReport, StoreError> {
    let articles = store.articles_since(cutoff)?;
    let mut would_alert = Vec::new();
    for stored in &articles {
        let verdict = classifier.classify_article(&stored.article);
        if !verdict.relevant {
            continue;
        }
        would_alert.push(ReplayLine {
            first_seen: stored.article.first_seen,
            feed: stored.article.feed.clone(),
            title: stored.article.title.clone(),
            link: stored.article.link.clone(),
            event: verdict.event,
            score: verdict.score,
            was_relevant: stored.verdict.as_ref().map(|v| v.relevant),
            reasons: verdict.reasons,
        });
    }
    Ok(ReplayReport {
        cutoff,
        articles: articles.len(),
        would_alert,
    })
}

/// A time as `to_rfc3339` writes it (`+00:00`), read back from any RFC 3339 offset.
mod rfc3339 {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.to_rfc3339())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}

/// As [`rfc3339`], for an optional time (`null` when absent).
mod rfc3339_opt {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        t: &Option<DateTime<Utc>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&t.to_rfc3339()),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|text| {
                DateTime::parse_from_rfc3339(&text)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(serde::de::Error::custom)
            })
            .transpose()
    }
}
