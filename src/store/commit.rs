//! One poll's commit.
//!
//! Its articles, the stories they open or join, their outbox entries, the feed's state
//! and the counts record, in one transaction (see [`super`]).

use super::counts::{self, Counts};
use super::recent::{self, NewMatch};
use super::records::{StoredArticle, StoryRecord};
use super::stories::{StoryBound, join_story, joined_story, with_written};
use super::{FeedState, Store, StoreError, io, tx_error};
use super::{compact, keys};
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
    /// Commits one poll in one transaction (see the module documentation and
    /// [`PollCommit`]).
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
        // Articles that raise no alert touch no story or outbox entry: a poll with only
        // those needs neither the stories nor their version check. They share the
        // transaction with the feed state and the counts, so the counts cannot drift.
        let mut quiet = Vec::new();
        let mut alerting = Vec::new();
        for new in &commit.articles {
            match new {
                NewArticle::Quiet { article, verdict } => quiet.push((article, verdict.as_ref())),
                _ => alerting.extend(StoryBound::of(new)),
            }
        }
        // A feed with no state has never committed, so none of its articles can be stored
        // (their keys hold the feed URL, and its articles and its state are written in one
        // transaction): skipping the look-ups saves a sled read per article on a cold start.
        // The insert still says whether a key was new, so the counts stay exact even over
        // what an older parleyd left after a crash.
        let look_up = self.feed_state(commit.feed_url)?.is_some();
        let quiet: Vec<QuietWrite<'_>> = quiet
            .into_iter()
            .map(|(article, verdict)| QuietWrite::new(article, verdict))
            .collect();
        if alerting.is_empty() {
            return (&self.articles, &self.feeds, &self.meta)
                .transaction(|(articles, feeds, meta)| {
                    let mut delta = Counts::default();
                    let stored = write_quiet(articles, &quiet, look_up, self.legacy_keys)?;
                    delta.articles = stored as u64;
                    put_counted_state(feeds, commit, stored, &mut delta)?;
                    counts::change(meta, |counts| counts.add(&delta))?;
                    Ok(CommitOutcome {
                        stored,
                        ..CommitOutcome::default()
                    })
                })
                .map_err(tx_error("poll commit"));
        }
        // Sequence numbers are drawn outside the transaction so a re-run reuses them.
        let sequences = (0..alerting.len())
            .map(|_| Ok(self.db.generate_id()? + self.sequence_floor))
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
                    let mut delta = Counts::default();
                    let mut matches = Vec::new();
                    let stored_quietly = write_quiet(articles, &quiet, look_up, self.legacy_keys)?;
                    delta.articles = stored_quietly as u64;
                    let (outcome, written) = apply_commit(
                        commit,
                        &alerting,
                        stored_quietly,
                        &sequences,
                        &all_stories,
                        &trees,
                        (&mut delta, &mut matches),
                    )?;
                    counts::change(meta, |counts| counts.add(&delta))?;
                    if !matches.is_empty() {
                        recent::change(meta, |recent| {
                            matches.into_iter().for_each(|m| recent.add(m));
                        })?;
                    }
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
}

/// An article that raises no alert, encoded before the transaction (which holds sled's
/// write lock while it runs).
struct QuietWrite<'a> {
    article: &'a Article,
    key: [u8; 16],
    value: Vec<u8>,
}

impl<'a> QuietWrite<'a> {
    fn new(article: &'a Article, verdict: Option<&Verdict>) -> QuietWrite<'a> {
        let value = StoredArticle {
            article: article.clone(),
            verdict: verdict.cloned(),
            alert_id: None,
        };
        QuietWrite {
            article,
            key: article.store_key(),
            value: compact::encode_article(&value),
        }
    }
}

/// Writes articles that raise no alert; returns how many were new. With `look_up`, an
/// article already stored (or pruned, under either key layout) is left as it is.
fn write_quiet<E>(
    articles: &TransactionalTree,
    quiet: &[QuietWrite<'_>],
    look_up: bool,
    legacy_keys: bool,
) -> Result<usize, ConflictableTransactionError<E>> {
    let mut stored = 0;
    for write in quiet {
        if look_up && contains_article(articles, write.article, legacy_keys)? {
            continue;
        }
        if articles
            .insert(&write.key[..], write.value.as_slice())?
            .is_none()
        {
            stored += 1;
        }
    }
    Ok(stored)
}

/// [`Store::contains_article`], inside a transaction.
fn contains_article<E>(
    articles: &TransactionalTree,
    article: &Article,
    legacy_keys: bool,
) -> Result<bool, ConflictableTransactionError<E>> {
    for key in keys::article_keys(article, legacy_keys) {
        if articles.get(key)?.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Writes the feed's state after this poll, counting the feed if it is new.
fn put_counted_state<E>(
    feeds: &TransactionalTree,
    commit: &PollCommit<'_>,
    stored: usize,
    delta: &mut Counts,
) -> Result<(), ConflictableTransactionError<E>> {
    let previous = feeds.get(commit.feed_url.as_bytes())?;
    if previous.is_none() {
        delta.feeds += 1;
    }
    let previous = previous.and_then(|bytes| compact::decode_feed_state(&bytes).ok());
    let state = counted_state(commit, previous, stored);
    feeds.insert(
        commit.feed_url.as_bytes(),
        compact::encode_feed_state(&state),
    )?;
    Ok(())
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
        contains_article(self.articles, article, self.legacy_keys)
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
    (delta, matches): (&mut Counts, &mut Vec<NewMatch>),
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
        let mut queued = None;
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
                    opened: Some(published),
                    alerted: new.alert_sinks.is_some(),
                    reports: 1,
                    reported_by: vec![new.article.feed.clone()],
                };
                trees.stories.insert(id.as_bytes(), keys::encode(&story))?;
                delta.stories += 1;
                written.push(story);
                match new.alert_sinks {
                    Some(sinks) => {
                        queue_alerts(trees, new, sinks, &id, sequence, commit.now)?;
                        for sink in sinks {
                            counts::add_for_sink(&mut delta.outbox, sink, 1);
                        }
                        queued = Some((sequence, sinks.to_vec()));
                        stored.alert_id = Some(id.clone());
                        outcome.queued.push(id);
                    }
                    None => outcome.remembered += 1,
                }
            }
        }
        trees
            .articles
            .insert(&key[..], compact::encode_article(&stored))?;
        delta.articles += 1;
        matches.push(NewMatch {
            key,
            first_seen: new.article.first_seen,
            opened: queued.is_some(),
            queued,
        });
        outcome.stored += 1;
    }
    put_counted_state(trees.feeds, commit, outcome.stored, delta)?;
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
