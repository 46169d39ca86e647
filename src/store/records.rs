//! The records the store keeps, as written to disk (see [`super::keys`] for where).

use super::keys;
use crate::classify::{StoryKey, StoryTimes};
use crate::model::{Alert, Article, Event, Verdict, alert_id};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An article as stored, with the verdict it was given when first seen.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredArticle {
    /// The article.
    pub article: Article,
    /// The verdict, if it was classified.
    pub verdict: Option<Verdict>,
    /// The alert it raised, or the alert of the story it joined.
    pub alert_id: Option<String>,
}

impl StoredArticle {
    /// Whether the article opened its story (raised the alert) rather than joining one: its
    /// alert id is its own key's, under either key layout.
    pub fn opened_story(&self) -> bool {
        let Some(id) = &self.alert_id else {
            return false;
        };
        keys::article_keys(&self.article, true).any(|key| *id == alert_id(&key))
    }
}

/// What stands in for a pruned article: only its key matters.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Tombstone {
    pub(super) pruned: bool,
}

/// Counts and size of a store.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoreStats {
    /// Bytes on disk (sled's own figure).
    pub size_on_disk: u64,
    /// Articles, pruned ones included (as tombstones).
    pub articles: usize,
    /// Feeds with recorded state.
    pub feeds: usize,
    /// Stories recently alerted.
    pub stories: usize,
    /// Alerts waiting to be sent, all sinks.
    pub pending: usize,
    /// Sent-alert records.
    pub sent: usize,
    /// Dead-lettered alerts.
    pub dead: usize,
}

/// A delivered alert and when its sink accepted it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SentAlert {
    /// The alert as sent.
    pub alert: Alert,
    /// When the sink answered 2xx.
    pub sent_at: DateTime<Utc>,
    /// The digest it went out in, if it did not go out alone.
    #[serde(default)]
    pub digest: Option<String>,
}

/// A story: the first relevant report of an event and the reports that joined it. Later
/// reports of the same story join it instead of alerting again.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoryRecord {
    /// The story's id: the alert id of the report that opened it.
    pub alert_id: String,
    /// When the story was opened (commit time).
    pub first_seen: DateTime<Utc>,
    /// The first report's event kind.
    pub event: Option<Event>,
    /// The words and markers of every report so far (see [`StoryKey::joins`]).
    #[serde(flatten)]
    pub key: StoryKey,
    /// Fingerprint of the first article's canonical link.
    pub link: Option<u64>,
    /// The latest publication time among its reports: the story rule's clock. Records
    /// written before it existed use `first_seen`.
    #[serde(default)]
    pub latest: Option<DateTime<Utc>>,
    /// The publication time of the report that opened it: the clock of its stage (see
    /// [`crate::classify::STORY_SAME_MEETING`]). Records written before it existed use
    /// `first_seen`.
    #[serde(default)]
    pub opened: Option<DateTime<Utc>>,
    /// Whether the story raised an alert. One opened by a relevant article that did not
    /// alert (a first poll's backlog, an article too old) raises none, and neither do the
    /// reports that join it: they are copies of news the user was not sent as new.
    #[serde(default = "opened_by_an_alert")]
    pub alerted: bool,
    /// How many reports it holds, the first one included (0 in records written before it
    /// was counted).
    #[serde(default)]
    pub reports: u32,
    /// Feeds that carried it, first one first.
    pub reported_by: Vec<String>,
}

/// Stories written before silent stories existed were all opened by an alert.
fn opened_by_an_alert() -> bool {
    true
}

impl StoryRecord {
    /// The publication time a new report is compared with.
    pub fn latest_report(&self) -> DateTime<Utc> {
        self.latest.unwrap_or(self.first_seen)
    }

    /// When its reports were published, for [`crate::classify::StoryKey::joins`].
    pub fn times(&self) -> StoryTimes {
        StoryTimes {
            // Older records have no publication time of the first report: the earlier of
            // the commit time and the latest report is the closer guess (a backlog's story
            // is committed long after its report).
            opened: self
                .opened
                .unwrap_or_else(|| self.first_seen.min(self.latest_report())),
            latest: self.latest_report(),
        }
    }
}
