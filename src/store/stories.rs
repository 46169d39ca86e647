//! Stories in the store: which open story a relevant article joins, what joining adds,
//! and the reads that serve the commit and the sinks.

use super::commit::{CommitTrees, StoriesChanged, TxResult, decode_u64};
use super::keys;
use super::records::StoryRecord;
use super::{NewArticle, Store, StoreError, decode_all, io};
use crate::classify::StoryKey;
use crate::model::{Alert, Article, StorySummary, Verdict};
use crate::sync::lock;
use chrono::{DateTime, Utc};
use sled::transaction::ConflictableTransactionError;
use std::sync::Arc;

/// A relevant article on its way to a story, alerting or silent.
pub(super) struct StoryBound<'a> {
    pub(super) article: &'a Article,
    pub(super) verdict: &'a Verdict,
    pub(super) story: &'a StoryKey,
    /// The sinks to alert; `None` for a silent article.
    pub(super) alert_sinks: Option<&'a [String]>,
}

impl<'a> StoryBound<'a> {
    pub(super) fn of(new: &'a NewArticle) -> Option<StoryBound<'a>> {
        match new {
            NewArticle::Quiet { .. } => None,
            NewArticle::Silent {
                article,
                verdict,
                story,
            } => Some(StoryBound {
                article,
                verdict,
                story,
                alert_sinks: None,
            }),
            NewArticle::Alert(alerting) => Some(StoryBound {
                article: &alerting.article,
                verdict: &alerting.verdict,
                story: &alerting.story,
                alert_sinks: Some(&alerting.sinks),
            }),
        }
    }
}

/// Every story, decoded at one stories version.
pub(super) struct StoriesRead {
    pub(super) version: u64,
    pub(super) stories: Arc<Vec<StoryRecord>>,
}

impl Store {
    pub(super) fn stories_version(&self) -> Result<u64, StoreError> {
        Ok(self
            .meta
            .get(keys::STORIES_VERSION_KEY)
            .map_err(io("stories version read"))?
            .map_or(0, |v| decode_u64(&v)))
    }

    /// After a commit at `version` wrote these story records (and moved the version on by
    /// one), the cached list becomes the list at the next version without a new scan.
    pub(super) fn remember_written_stories(&self, version: u64, written: Vec<StoryRecord>) {
        let mut cached = lock(&self.stories_read);
        let Some(read) = cached.as_ref().filter(|read| read.version == version) else {
            return;
        };
        let stories = with_written(&read.stories, &written).cloned().collect();
        *cached = Some(StoriesRead {
            version: version + 1,
            stories: Arc::new(stories),
        });
    }

    /// Every story, as of `version` or later (a story written since only makes the commit's
    /// transaction abort and retry).
    pub(super) fn stories_at(&self, version: u64) -> Result<Arc<Vec<StoryRecord>>, StoreError> {
        let mut cached = lock(&self.stories_read);
        if let Some(read) = cached.as_ref()
            && read.version == version
        {
            return Ok(Arc::clone(&read.stories));
        }
        let stories = Arc::new(decode_all(&self.stories, "stories scan", keys::decode)?);
        *cached = Some(StoriesRead {
            version,
            stories: Arc::clone(&stories),
        });
        Ok(stories)
    }

    /// The feeds other than the alert's own that carried its story so far.
    ///
    /// # Errors
    /// [`StoreError::Io`] on a read failure.
    pub fn also_reported_by(&self, alert: &Alert) -> Result<Vec<String>, StoreError> {
        Ok(self.story_summary(alert)?.also_reported_by)
    }

    /// What an alert's receivers learn of its story (see [`StorySummary`]).
    ///
    /// # Errors
    /// [`StoreError::Io`] on a read failure.
    pub fn story_summary(&self, alert: &Alert) -> Result<StorySummary, StoreError> {
        let Some(story) = self.story(&alert.id)? else {
            return Ok(StorySummary::alone(alert));
        };
        let reports = story
            .reports
            .max(u32::try_from(story.reported_by.len()).unwrap_or(u32::MAX))
            .max(1);
        Ok(StorySummary {
            id: story.alert_id,
            reports,
            also_reported_by: story
                .reported_by
                .into_iter()
                .filter(|feed| *feed != alert.article.feed)
                .collect(),
        })
    }

    /// The story an alert belongs to, with every feed that reported it.
    ///
    /// # Errors
    /// [`StoreError::Io`] on a read failure.
    pub fn story(&self, alert_id: &str) -> Result<Option<StoryRecord>, StoreError> {
        let bytes = self.stories.get(alert_id).map_err(io("story read"))?;
        Ok(bytes.and_then(|b| keys::decode(&b).ok()))
    }
}

/// The stories as read, with those a commit wrote replaced by (or added as) the records
/// it wrote.
pub(super) fn with_written<'s>(
    read: &'s [StoryRecord],
    written: &'s [StoryRecord],
) -> impl Iterator<Item = &'s StoryRecord> {
    read.iter()
        .filter(|story| !written.iter().any(|w| w.alert_id == story.alert_id))
        .chain(written)
}

/// The id of the story `new` joins, if any: one with the same canonical link, else of the
/// stories of its event kind that [`StoryKey::joins`] allows (talks and a channel are two
/// stories), the one sharing most words with it (the latest on a tie).
pub(super) fn joined_story<'s>(
    stories: impl Iterator<Item = &'s StoryRecord>,
    new: &StoryBound<'_>,
    published: DateTime<Utc>,
    link: Option<u64>,
    window: std::time::Duration,
) -> Option<String> {
    // The id settles a tie, so the choice does not depend on the order stories are read in.
    let mut best: Option<(usize, DateTime<Utc>, &StoryRecord)> = None;
    for story in stories {
        if link.is_some() && story.link == link {
            return Some(story.alert_id.clone());
        }
        // A story nobody was alerted to (a backlog's) takes copies of itself, which share
        // its words, but not whatever else is reported hours later: joining that would
        // mean the user never hears of it.
        let window = if story.alerted {
            window
        } else {
            std::time::Duration::ZERO
        };
        if story.event != new.verdict.event
            || !new
                .story
                .joins(published, &story.key, story.times(), window)
        {
            continue;
        }
        let rank = (new.story.shared_terms(&story.key), story.latest_report());
        let better = best.is_none_or(|(words, latest, chosen)| {
            (rank.0, rank.1, &story.alert_id) > (words, latest, &chosen.alert_id)
        });
        if better {
            best = Some((rank.0, rank.1, story));
        }
    }
    best.map(|(_, _, story)| story.alert_id.clone())
}

/// Adds a report to a story: its feed, its words and markers, its publication time. The
/// story is re-read inside the transaction: another article may have joined since it was
/// read. A story gone since it was read (pruned) aborts the commit, which is redone on a
/// fresh read, so the article is never marked as joining nothing.
pub(super) fn join_story(
    trees: &CommitTrees<'_>,
    id: &str,
    new: &StoryBound<'_>,
    published: DateTime<Utc>,
    written: &mut Vec<StoryRecord>,
) -> TxResult<()> {
    let current = trees.stories.get(id.as_bytes())?;
    let Some(mut story) = current.and_then(|b| keys::decode::<StoryRecord>(&b).ok()) else {
        return Err(ConflictableTransactionError::Abort(StoriesChanged));
    };
    let feed = &new.article.feed;
    if !story.reported_by.iter().any(|f| f == feed) {
        story.reported_by.push(feed.to_string());
    }
    story.reports = story.reports.max(1) + 1;
    story.latest = Some(story.latest_report().max(published));
    story.key.absorb(new.story);
    trees.stories.insert(id.as_bytes(), keys::encode(&story))?;
    match written.iter_mut().find(|s| s.alert_id == id) {
        Some(local) => *local = story,
        None => written.push(story),
    }
    Ok(())
}
