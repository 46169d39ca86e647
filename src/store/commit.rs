//! One poll's commit.
//!
//! Quiet articles go in one batch; alerting articles, the stories they open or join, their
//! outbox entries and the feed's state in one transaction (see [`super`]).

use super::keys;
use super::records::{StoredArticle, StoryRecord};
use super::stories::{StoryBound, join_story, joined_story, with_written};
use super::{FeedState, Store, StoreError, io};
use crate::classify::StoryKey;
use crate::model::{Alert, Article, Verdict, alert_id, link_fingerprint};
use chrono::{DateTime, Utc};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use std::time::Duration;

/// Commits retried when another poll created a story in between.
const COMMIT_ATTEMPTS: usize = 8;

/// An article from one poll, ready to commit. An alerting article carries everything its
/// alert needs, so the store never has to make up a verdict or a route.
#[derive(Debug, Clone)]
pub enum NewArticle {
    /// Not relevant: stored, and nothing else.
    Quiet {
        /// The article.
        article: Article,
        /// Its verdict, if it was classified.
        verdict: Option<Verdict>,
    },
    /// Relevant but not to alert (part of a first poll's backlog, or too old): opens or
    /// joins a story without an alert, so a later copy of that story does not alert as
    /// news either.
    Silent {
        /// The article.
        article: Article,
        /// The verdict that made it relevant.
        verdict: Verdict,
        /// Its headline's story key.
        story: StoryKey,
    },
    /// Opens a story (and queues its alert) or joins one already open.
    Alert(Alerting),
}

impl NewArticle {
    /// The article itself, whatever its fate.
    pub fn article(&self) -> &Article {
        match self {
            NewArticle::Quiet { article, .. } | NewArticle::Silent { article, .. } => article,
            NewArticle::Alert(alerting) => &alerting.article,
        }
    }
}

/// An article that should alert: relevant, not backlog, not too old.
#[derive(Debug, Clone)]
pub struct Alerting {
    /// The article.
    pub article: Article,
    /// The verdict that made it relevant.
    pub verdict: Verdict,
    /// The sinks whose routes take it; a new story is queued for these.
    pub sinks: Vec<String>,
    /// The headline's story key: a report joins a story when the keys say they are one
    /// (see [`StoryKey::joins`]).
    pub story: StoryKey,
}

/// Everything one poll of one feed changes.
#[derive(Debug)]
pub struct PollCommit<'a> {
    /// The feed's URL (the `feeds` key).
    pub feed_url: &'a str,
    /// The feed's state after this poll (its `items_seen` is computed by the store).
    pub state: FeedState,
    /// New articles (already-known ones are skipped inside the transaction).
    pub articles: Vec<NewArticle>,
    /// How long a story stays open for later articles to join it.
    pub story_window: Duration,
    /// How close in publication time a report joins a story whatever its words (see
    /// [`StoryKey::joins`]).
    pub join_window: Duration,
    /// The time of the poll.
    pub now: DateTime<Utc>,
}

/// What a commit did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CommitOutcome {
    /// Articles written (new to the store).
    pub stored: usize,
    /// Alert ids queued, one per new story.
    pub queued: Vec<String>,
    /// Alerting articles that joined a story already open.
    pub joined_story: usize,
    /// Relevant articles that did not alert (backlog, too old) and opened or joined a story
    /// so that later copies do not alert.
    pub remembered: usize,
}

impl Store {
    /// Commits one poll: quiet articles as a batch, the rest in one transaction (see the
    /// module documentation and [`PollCommit`]).
    ///
    /// Story matching needs to read recent stories, which a sled transaction cannot scan,
    /// so they are read first together with a stories version; the transaction aborts and
    /// the commit is redone if another poll created a story in between, so two feeds can
    /// never both open the same story.
    ///
    /// # Errors
    /// [`StoreError::Io`] if a write fails; the feed state is then not advanced, so the
    /// poll is redone.
    pub fn commit_poll(&self, commit: &PollCommit<'_>) -> Result<CommitOutcome, StoreError> {
        // Articles that raise no alert touch no story or outbox entry, so they need no
        // transaction (which cost half of a cold start): they go in first, as one atomic
        // batch. A crash after the batch leaves them stored and the old feed state; the next
        // poll reads the body again, finds them, and redoes only what the transaction holds.
        let mut quiet = Vec::new();
        let mut alerting = Vec::new();
        for new in &commit.articles {
            match new {
                NewArticle::Quiet { article, verdict } => quiet.push((article, verdict.as_ref())),
                _ => alerting.extend(StoryBound::of(new)),
            }
        }
        let previous = self.feed_state(commit.feed_url)?;
        // A feed with no state has never committed, so none of its articles can be stored
        // (their keys hold the feed URL), except quiet ones from a commit that crashed
        // before its state landed, and writing those again writes the same bytes. Skipping
        // the look-ups saves a sled read per article on a cold start.
        let stored_quietly = self.store_quiet(&quiet, previous.is_some())?;
        if alerting.is_empty() {
            self.put_feed_state(
                commit.feed_url,
                &counted_state(commit, previous, stored_quietly),
            )?;
            return Ok(CommitOutcome {
                stored: stored_quietly,
                ..CommitOutcome::default()
            });
        }
        // Sequence numbers are drawn outside the transaction so a re-run reuses them.
        let sequences = (0..alerting.len())
            .map(|_| self.db.generate_id())
            .collect::<Result<Vec<u64>, _>>()
            .map_err(io("id generation"))?;
        for _ in 0..COMMIT_ATTEMPTS {
            let version = self.stories_version()?;
            let all_stories = self.stories_at(version)?;
            let result = (
                &self.articles,
                &self.feeds,
                &self.stories,
                &self.outbox,
                &self.meta,
            )
                .transaction(|(articles, feeds, stories, outbox, meta)| {
                    let current = meta
                        .get(keys::STORIES_VERSION_KEY)?
                        .map_or(0, |v| decode_u64(&v));
                    if current != version {
                        return Err(ConflictableTransactionError::Abort(StoriesChanged));
                    }
                    let trees = CommitTrees {
                        articles,
                        feeds,
                        stories,
                        outbox,
                        legacy_keys: self.legacy_keys,
                    };
                    let (outcome, written) = apply_commit(
                        commit,
                        &alerting,
                        stored_quietly,
                        &sequences,
                        &all_stories,
                        &trees,
                    )?;
                    // A joined story changed too (its latest report, its words): the next
                    // commit must decide on the new record, not a cached one.
                    if !written.is_empty() {
                        meta.insert(keys::STORIES_VERSION_KEY, &(version + 1).to_be_bytes())?;
                    }
                    Ok((outcome, written))
                });
            match result {
                Ok((outcome, written)) => {
                    if !written.is_empty() {
                        self.remember_written_stories(version, written);
                    }
                    return Ok(outcome);
                }
                Err(TransactionError::Abort(StoriesChanged)) => continue,
                Err(TransactionError::Storage(cause)) => {
                    return Err(StoreError::Io {
                        operation: "poll commit",
                        cause,
                    });
                }
            }
        }
        Err(StoreError::Busy {
            operation: "poll commit",
        })
    }

    /// Writes articles that raise no alert as one atomic batch; returns how many were new.
    /// Without `look_up` every article counts as new (the caller knows none is stored).
    fn store_quiet(
        &self,
        articles: &[(&Article, Option<&Verdict>)],
        look_up: bool,
    ) -> Result<usize, StoreError> {
        let mut stored = 0;
        let mut batch = sled::Batch::default();
        for (article, verdict) in articles {
            let key = article.store_key();
            if look_up && self.contains_article(article)? {
                continue;
            }
            let value = StoredArticle {
                article: (*article).clone(),
                verdict: verdict.cloned(),
                alert_id: None,
            };
            batch.insert(&key[..], keys::encode(&value));
            stored += 1;
        }
        if stored > 0 {
            self.articles
                .apply_batch(batch)
                .map_err(io("articles write"))?;
        }
        Ok(stored)
    }
}

/// The transaction saw another poll's new story; the commit is redone.
#[derive(Debug)]
pub(super) struct StoriesChanged;

pub(super) type TxResult<T> = Result<T, ConflictableTransactionError<StoriesChanged>>;

/// The trees one poll's transaction writes.
pub(super) struct CommitTrees<'t> {
    articles: &'t TransactionalTree,
    feeds: &'t TransactionalTree,
    pub(super) stories: &'t TransactionalTree,
    outbox: &'t TransactionalTree,
    legacy_keys: bool,
}

impl CommitTrees<'_> {
    /// [`Store::contains_article`], inside the transaction.
    fn contains_article(&self, article: &Article) -> TxResult<bool> {
        for key in keys::article_keys(article, self.legacy_keys) {
            if self.articles.get(key)?.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// Applies one poll; returns the outcome and the story records it wrote (opened or
/// joined), as written.
fn apply_commit(
    commit: &PollCommit<'_>,
    alerting: &[StoryBound<'_>],
    stored_quietly: usize,
    sequences: &[u64],
    stories: &[StoryRecord],
    trees: &CommitTrees<'_>,
) -> TxResult<(CommitOutcome, Vec<StoryRecord>)> {
    let window =
        chrono::Duration::from_std(commit.story_window).unwrap_or(chrono::Duration::days(3));
    let mut outcome = CommitOutcome {
        stored: stored_quietly,
        ..CommitOutcome::default()
    };
    let mut next_sequence = sequences.iter();
    // Stories this commit wrote, as written: later articles of the poll decide on these,
    // not on the copies read before the transaction.
    let mut written: Vec<StoryRecord> = Vec::new();
    for new in alerting {
        let key = new.article.store_key();
        if trees.contains_article(new.article)? {
            continue;
        }
        let mut stored = StoredArticle {
            article: new.article.clone(),
            verdict: Some(new.verdict.clone()),
            alert_id: None,
        };
        let sequence = next_sequence.next().copied().unwrap_or_default();
        let link = new.article.link.as_deref().map(link_fingerprint);
        let published = new.article.effective_time();
        let open_stories =
            with_written(stories, &written).filter(|story| commit.now - story.first_seen <= window);
        match joined_story(open_stories, new, published, link, commit.join_window) {
            Some(id) => {
                join_story(trees, &id, new, published, &mut written)?;
                stored.alert_id = new.alert_sinks.is_some().then_some(id);
                match new.alert_sinks {
                    Some(_) => outcome.joined_story += 1,
                    None => outcome.remembered += 1,
                }
            }
            None => {
                let id = alert_id(&key);
                let story = StoryRecord {
                    alert_id: id.clone(),
                    first_seen: commit.now,
                    event: new.verdict.event,
                    key: new.story.clone(),
                    link,
                    latest: Some(published),
                    alerted: new.alert_sinks.is_some(),
                    reports: 1,
                    reported_by: vec![new.article.feed.clone()],
                };
                trees.stories.insert(id.as_bytes(), keys::encode(&story))?;
                written.push(story);
                match new.alert_sinks {
                    Some(sinks) => {
                        queue_alerts(trees, new, sinks, &id, sequence, commit.now)?;
                        stored.alert_id = Some(id.clone());
                        outcome.queued.push(id);
                    }
                    None => outcome.remembered += 1,
                }
            }
        }
        trees.articles.insert(&key[..], keys::encode(&stored))?;
        outcome.stored += 1;
    }
    let previous = trees
        .feeds
        .get(commit.feed_url.as_bytes())?
        .and_then(|bytes| keys::decode::<FeedState>(&bytes).ok());
    let state = counted_state(commit, previous, outcome.stored);
    trees
        .feeds
        .insert(commit.feed_url.as_bytes(), keys::encode(&state))?;
    Ok((outcome, written))
}

/// Queues a new story's alert for every sink whose route takes it, due now.
fn queue_alerts(
    trees: &CommitTrees<'_>,
    new: &StoryBound<'_>,
    sinks: &[String],
    id: &str,
    sequence: u64,
    now: DateTime<Utc>,
) -> TxResult<()> {
    for sink in sinks {
        let alert = Alert {
            id: id.to_string(),
            sink: sink.clone(),
            article: new.article.clone(),
            verdict: new.verdict.clone(),
            created: now,
            attempts: 0,
            next_attempt: now,
            last_error: None,
            held: false,
        };
        trees
            .outbox
            .insert(keys::outbox_key(sink, sequence), keys::encode(&alert))?;
    }
    Ok(())
}

/// The poll's feed state with `items_seen` advanced by what the poll stored. The count is
/// the store's own, so a caller cannot reset it by passing a fresh state.
fn counted_state(commit: &PollCommit<'_>, previous: Option<FeedState>, stored: usize) -> FeedState {
    let mut state = commit.state.clone();
    state.items_seen = previous.map_or(0, |p| p.items_seen) + stored as u64;
    state
}

pub(super) fn decode_u64(bytes: &[u8]) -> u64 {
    bytes.try_into().map(u64::from_be_bytes).unwrap_or(0)
}
