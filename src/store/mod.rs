//! Owns the sled database: articles, feed state, stories and the alert outbox.
//!
//! A poll is written in two atomic steps: first its articles that raise no alert (one
//! batch), then in one serializable transaction its alerting articles, story records,
//! outbox entries and the feed's state. Callers flush before any alert leaves. A crash at
//! any point therefore keeps the whole poll, or loses the transaction's part, which the next
//! poll redoes because the feed state (ETag, body hash) was lost with it. Transaction
//! closures only read and write the trees: sled may run them more than once.

mod keys;

pub use keys::SCHEMA_VERSION;

use crate::model::{Alert, Article, Event, StoryKey, Verdict, alert_id, link_fingerprint};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

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
}

/// What stands in for a pruned article: only its key matters.
#[derive(Debug, Serialize, Deserialize)]
struct Tombstone {
    pruned: bool,
}

/// Counts and size of a store.
#[derive(Debug, Clone, Serialize)]
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

/// A story that has alerted: later relevant articles about the same event join it instead
/// of alerting again.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoryRecord {
    /// The alert the story raised.
    pub alert_id: String,
    /// When the story first alerted.
    pub first_seen: DateTime<Utc>,
    /// The event kind, which a joining article must share.
    pub event: Option<Event>,
    /// The first article's story key (see [`NewArticle::story`]).
    #[serde(flatten)]
    pub key: StoryKey,
    /// Fingerprint of the first article's canonical link.
    pub link: Option<u64>,
    /// Feeds that carried it, first one first.
    pub reported_by: Vec<String>,
}

/// Commits retried when another poll created a story in between.
const COMMIT_ATTEMPTS: usize = 8;

/// An article from one poll, ready to commit.
#[derive(Debug, Clone)]
pub struct NewArticle {
    /// The article.
    pub article: Article,
    /// Its verdict, if classified.
    pub verdict: Option<Verdict>,
    /// Whether it should alert (relevant, not backlog, not too old).
    pub alert: bool,
    /// The sinks whose routes take it; a new story is queued for these.
    pub sinks: Vec<String>,
    /// The headline's story key: a story joins another when the keys say they are the same
    /// (see [`StoryKey::same_story`]).
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
    /// Alerting articles that joined a story already alerted.
    pub joined_story: usize,
}

/// Store failures. Each names the store path or the tree involved.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened.
    #[error(
        "cannot open the store at {path}: {source} (is another parleyd using the same storage.path?)"
    )]
    Open {
        /// The sled directory.
        path: PathBuf,
        /// Why.
        source: sled::Error,
    },
    /// The store was written by an incompatible version.
    #[error(
        "the store at {path} has schema version {found}; this parleyd reads version {expected}"
    )]
    Schema {
        /// The sled directory.
        path: PathBuf,
        /// The version on disk.
        found: u32,
        /// The version this build reads.
        expected: u32,
    },
    /// A commit kept meeting concurrent story changes and gave up (it is retried at the
    /// next poll).
    #[error("store {operation} gave up after repeated conflicts")]
    Busy {
        /// What was being done.
        operation: &'static str,
    },
    /// A read, write or flush failed.
    #[error("store {operation} failed: {source}")]
    Io {
        /// What was being done.
        operation: &'static str,
        /// Why.
        source: sled::Error,
    },
}

fn io(operation: &'static str) -> impl FnOnce(sled::Error) -> StoreError {
    move |source| StoreError::Io { operation, source }
}

/// Our transactions never abort on purpose, so only storage errors remain.
fn tx_error(operation: &'static str) -> impl FnOnce(TransactionError<Infallible>) -> StoreError {
    move |err| match err {
        TransactionError::Abort(never) => match never {},
        TransactionError::Storage(source) => StoreError::Io { operation, source },
    }
}

/// The sled database and its trees. Cheap to clone: sled handles are reference-counted.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    path: PathBuf,
    articles: sled::Tree,
    feeds: sled::Tree,
    stories: sled::Tree,
    outbox: sled::Tree,
    dead: sled::Tree,
    sent: sled::Tree,
    meta: sled::Tree,
    /// Tombstones from schema 1 remain under their old keys (see `keys::article_keys`).
    legacy_keys: bool,
    /// Every story as last decoded, with the stories version it was read at. Only a commit
    /// that opens a story changes the version, so most commits reuse this instead of
    /// decoding every story again (that was 8% of a cold start's CPU).
    stories_read: Arc<Mutex<Option<StoriesRead>>>,
    /// Flushes asked for so far, and (under the lock) the count the last flush covered:
    /// one flush runs at a time and covers everyone who asked before it started.
    flush_requests: Arc<AtomicU64>,
    flushed: Arc<tokio::sync::Mutex<u64>>,
}

/// Every story, decoded at one stories version.
struct StoriesRead {
    version: u64,
    stories: Arc<Vec<StoryRecord>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (or creates) the store at `path`.
    ///
    /// # Errors
    /// [`StoreError::Open`] if sled cannot open it (for example another process holds it),
    /// [`StoreError::Schema`] if it was written by an incompatible version.
    pub fn open(path: &Path, cache_capacity: u64) -> Result<Store, StoreError> {
        let open_error = |source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        };
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(cache_capacity)
            .open()
            .map_err(open_error)?;
        let tree = |name: &str| db.open_tree(name).map_err(open_error);
        let meta = tree(keys::META)?;
        let articles = tree(keys::ARTICLES)?;
        match meta.get(keys::SCHEMA_KEY).map_err(open_error)? {
            Some(bytes) => {
                let found = bytes
                    .as_ref()
                    .try_into()
                    .map(u32::from_be_bytes)
                    .unwrap_or(0);
                if found == 1 {
                    migrate_article_keys(&articles, &meta).map_err(open_error)?;
                } else if found != SCHEMA_VERSION {
                    return Err(StoreError::Schema {
                        path: path.to_path_buf(),
                        found,
                        expected: SCHEMA_VERSION,
                    });
                }
            }
            None => {
                meta.insert(keys::SCHEMA_KEY, &SCHEMA_VERSION.to_be_bytes())
                    .map_err(open_error)?;
                // A new store has nothing to prune: without this, the first `once` of a
                // cold start read back every article it had just written.
                meta.insert(keys::LAST_PRUNE_KEY, &Utc::now().timestamp().to_be_bytes())
                    .map_err(open_error)?;
            }
        }
        let legacy_keys = meta
            .contains_key(keys::LEGACY_KEYS_KEY)
            .map_err(open_error)?;
        Ok(Store {
            articles,
            legacy_keys,
            stories_read: Arc::new(Mutex::new(None)),
            flush_requests: Arc::new(AtomicU64::new(0)),
            flushed: Arc::new(tokio::sync::Mutex::new(0)),
            feeds: tree(keys::FEEDS)?,
            stories: tree(keys::STORIES)?,
            outbox: tree(keys::OUTBOX)?,
            dead: tree(keys::DEAD)?,
            sent: tree(keys::SENT)?,
            meta,
            path: path.to_path_buf(),
            db,
        })
    }

    /// Whether the store answers: one small read, cheap enough for every health check.
    ///
    /// # Errors
    /// [`StoreError::Io`] when the read fails.
    pub fn check(&self) -> Result<(), StoreError> {
        self.meta
            .get(keys::SCHEMA_KEY)
            .map(drop)
            .map_err(io("health check"))
    }

    /// The sled directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Makes every write so far durable. Call before anything leaves the process.
    ///
    /// # Errors
    /// [`StoreError::Io`] when the disk write fails.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let request = self.flush_requests.fetch_add(1, Ordering::SeqCst) + 1;
        let mut flushed = self.flushed.lock().await;
        if *flushed >= request {
            // A flush that started after this request finished meanwhile.
            return Ok(());
        }
        let covers = self.flush_requests.load(Ordering::SeqCst);
        // Not sled's `flush_async`: it runs the flush on sled's own IO pool, and flushes
        // waiting there for IO that the same pool must do deadlocked `once` under a cold
        // start's concurrent commits (sled#1308, fixed only in unreleased sled). A plain
        // `flush` on tokio's blocking pool leaves sled's pool free for the IO; one at a
        // time, so a burst of commits does not start a thread each.
        let db = self.db.clone();
        let result = tokio::task::spawn_blocking(move || db.flush())
            .await
            .map_err(|join_error| StoreError::Io {
                operation: "flush",
                source: sled::Error::Io(std::io::Error::other(join_error)),
            })?;
        result.map_err(io("flush"))?;
        *flushed = covers;
        Ok(())
    }

    /// Whether this article is already stored (or was, and has been pruned).
    ///
    /// # Errors
    /// [`StoreError::Io`] on a read failure.
    pub fn contains_article(&self, article: &Article) -> Result<bool, StoreError> {
        for key in keys::article_keys(article, self.legacy_keys) {
            if self
                .articles
                .contains_key(key)
                .map_err(io("article lookup"))?
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// A stored article.
    ///
    /// # Errors
    /// [`StoreError::Io`] on a read failure.
    pub fn article(&self, key: &[u8; 16]) -> Result<Option<StoredArticle>, StoreError> {
        let bytes = self.articles.get(key).map_err(io("article read"))?;
        Ok(bytes.and_then(|b| keys::decode(&b).ok()))
    }

    /// Counts and size, for `parleyd stats` (walks every tree: not for hot paths).
    ///
    /// # Errors
    /// [`StoreError::Io`] when the size cannot be read.
    pub fn stats(&self) -> Result<StoreStats, StoreError> {
        Ok(StoreStats {
            size_on_disk: self.db.size_on_disk().map_err(io("size read"))?,
            articles: self.articles.len(),
            feeds: self.feeds.len(),
            stories: self.stories.len(),
            pending: self.outbox.len(),
            sent: self.sent.len(),
            dead: self.dead.len(),
        })
    }

    /// Stored articles first seen at or after `since` (pruned ones are gone).
    ///
    /// # Errors
    /// [`StoreError::Io`] on a read failure.
    pub fn articles_since(&self, since: DateTime<Utc>) -> Result<Vec<StoredArticle>, StoreError> {
        let mut out: Vec<StoredArticle> = decode_all(&self.articles, "article scan")?;
        out.retain(|a| a.article.first_seen >= since);
        out.sort_by_key(|a| a.article.first_seen);
        Ok(out)
    }

    /// Prunes what is older than `cutoff`: articles (keeping a small tombstone under each
    /// key so a pruned article is never taken for new again), stories and sent-alert
    /// records. Returns how many articles were pruned.
    ///
    /// # Errors
    /// [`StoreError::Io`] on a read or write failure.
    pub fn prune(&self, cutoff: DateTime<Utc>) -> Result<usize, StoreError> {
        let tombstone = keys::encode(&Tombstone { pruned: true });
        let mut pruned = 0;
        for item in self.articles.iter() {
            let (key, value) = item.map_err(io("article scan"))?;
            if let Ok(stored) = keys::decode::<StoredArticle>(&value)
                && stored.article.first_seen < cutoff
            {
                self.articles
                    .insert(key, tombstone.as_slice())
                    .map_err(io("article prune"))?;
                pruned += 1;
            }
        }
        for item in self.stories.iter() {
            let (key, value) = item.map_err(io("stories scan"))?;
            if keys::decode::<StoryRecord>(&value).is_ok_and(|story| story.first_seen < cutoff) {
                self.stories.remove(key).map_err(io("stories prune"))?;
            }
        }
        // Stories were removed without a version change: read them afresh next time.
        *self
            .stories_read
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
        for item in self.sent.iter() {
            let (key, value) = item.map_err(io("sent scan"))?;
            if let Ok(sent) = keys::decode::<SentAlert>(&value)
                && sent.sent_at < cutoff
            {
                self.sent.remove(key).map_err(io("sent prune"))?;
            }
        }
        Ok(pruned)
    }

    /// Prunes as [`Store::prune`] unless that was done less than `every` ago, and records
    /// when; both `run` and each `once` call this, so cron-driven setups are pruned too.
    ///
    /// # Errors
    /// [`StoreError::Io`] on a read or write failure.
    pub fn prune_if_due(
        &self,
        cutoff: DateTime<Utc>,
        every: std::time::Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<usize>, StoreError> {
        let last = self
            .meta
            .get(keys::LAST_PRUNE_KEY)
            .map_err(io("last prune read"))?
            .and_then(|v| v.as_ref().try_into().ok().map(i64::from_be_bytes))
            .and_then(|secs| DateTime::from_timestamp(secs, 0));
        let every = chrono::Duration::from_std(every).unwrap_or(chrono::Duration::hours(6));
        if last.is_some_and(|last| now - last < every) {
            return Ok(None);
        }
        let pruned = self.prune(cutoff)?;
        self.meta
            .insert(keys::LAST_PRUNE_KEY, &now.timestamp().to_be_bytes())
            .map_err(io("last prune write"))?;
        Ok(Some(pruned))
    }

    /// A feed's remembered state; a record that cannot be decoded counts as absent.
    ///
    /// # Errors
    /// [`StoreError::Io`] on a read failure.
    pub fn feed_state(&self, feed_url: &str) -> Result<Option<FeedState>, StoreError> {
        let bytes = self.feeds.get(feed_url).map_err(io("feed state read"))?;
        Ok(bytes.and_then(|b| keys::decode(&b).ok()))
    }

    /// Saves a feed's state on its own (after a failed or unchanged poll).
    ///
    /// # Errors
    /// [`StoreError::Io`] on a write failure.
    pub fn put_feed_state(&self, feed_url: &str, state: &FeedState) -> Result<(), StoreError> {
        self.feeds
            .insert(feed_url, keys::encode(state))
            .map_err(io("feed state write"))?;
        Ok(())
    }

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
        let (quiet, alerting): (Vec<&NewArticle>, Vec<&NewArticle>) =
            commit.articles.iter().partition(|a| !a.alert);
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
                    let (outcome, created) = apply_commit(
                        commit,
                        &alerting,
                        stored_quietly,
                        &sequences,
                        &all_stories,
                        &trees,
                    )?;
                    if created {
                        meta.insert(keys::STORIES_VERSION_KEY, &(version + 1).to_be_bytes())?;
                    }
                    Ok(outcome)
                });
            match result {
                Ok(outcome) => return Ok(outcome),
                Err(TransactionError::Abort(StoriesChanged)) => continue,
                Err(TransactionError::Storage(source)) => {
                    return Err(StoreError::Io {
                        operation: "poll commit",
                        source,
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
    fn store_quiet(&self, articles: &[&NewArticle], look_up: bool) -> Result<usize, StoreError> {
        let mut stored = 0;
        let mut batch = sled::Batch::default();
        for new in articles {
            let key = new.article.store_key();
            if look_up && self.contains_article(&new.article)? {
                continue;
            }
            let value = StoredArticle {
                article: new.article.clone(),
                verdict: new.verdict.clone(),
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

    fn stories_version(&self) -> Result<u64, StoreError> {
        Ok(self
            .meta
            .get(keys::STORIES_VERSION_KEY)
            .map_err(io("stories version read"))?
            .map_or(0, |v| decode_u64(&v)))
    }

    /// Every story, as of `version` or later (a story opened since only makes the commit's
    /// transaction abort and retry).
    fn stories_at(&self, version: u64) -> Result<Arc<Vec<StoryRecord>>, StoreError> {
        let mut cached = self
            .stories_read
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(read) = cached.as_ref()
            && read.version == version
        {
            return Ok(Arc::clone(&read.stories));
        }
        let stories = Arc::new(decode_all(&self.stories, "stories scan")?);
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
        Ok(self
            .story(&alert.id)?
            .map(|story| {
                story
                    .reported_by
                    .into_iter()
                    .filter(|feed| *feed != alert.article.feed)
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The story an alert belongs to, with every feed that reported it.
    ///
    /// # Errors
    /// [`StoreError::Io`] on a read failure.
    pub fn story(&self, alert_id: &str) -> Result<Option<StoryRecord>, StoreError> {
        let bytes = self.stories.get(alert_id).map_err(io("story read"))?;
        Ok(bytes.and_then(|b| keys::decode(&b).ok()))
    }

    /// Up to `limit` outbox entries for `sink` whose next attempt is due, oldest first.
    /// Entries that cannot be decoded are moved aside to `dead` as raw bytes, not lost.
    ///
    /// # Errors
    /// [`StoreError::Io`] on a read failure.
    pub fn due_alerts(
        &self,
        sink: &str,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Alert)>, StoreError> {
        let mut due = Vec::new();
        for item in self.outbox.scan_prefix(keys::sink_prefix(sink)) {
            let (key, value) = item.map_err(io("outbox scan"))?;
            match keys::decode::<Alert>(&value) {
                Ok(alert) if alert.next_attempt <= now => {
                    due.push((key.to_vec(), alert));
                    if due.len() >= limit {
                        break;
                    }
                }
                Ok(_) => {}
                Err(reason) => {
                    tracing::error!(sink, %reason, "Undecodable outbox entry moved to the dead-letter list.");
                    self.dead
                        .insert(&key, value)
                        .map_err(io("dead-letter write"))?;
                    self.outbox.remove(&key).map_err(io("outbox remove"))?;
                }
            }
        }
        Ok(due)
    }

    /// The number of entries waiting for `sink`, and when the earliest is due.
    ///
    /// # Errors
    /// [`StoreError::Io`] on a read failure.
    pub fn pending(&self, sink: &str) -> Result<(usize, Option<DateTime<Utc>>), StoreError> {
        let mut count = 0;
        let mut earliest: Option<DateTime<Utc>> = None;
        for item in self.outbox.scan_prefix(keys::sink_prefix(sink)) {
            let (_, value) = item.map_err(io("outbox scan"))?;
            count += 1;
            if let Ok(alert) = keys::decode::<Alert>(&value) {
                earliest = Some(earliest.map_or(alert.next_attempt, |e| e.min(alert.next_attempt)));
            }
        }
        Ok((count, earliest))
    }

    /// Every alert waiting in the outbox, all sinks, oldest first per sink.
    ///
    /// # Errors
    /// [`StoreError::Io`] on a read failure.
    pub fn pending_alerts(&self) -> Result<Vec<Alert>, StoreError> {
        decode_all(&self.outbox, "outbox scan")
    }

    /// Every delivered alert with when it was sent.
    ///
    /// # Errors
    /// [`StoreError::Io`] on a read failure.
    pub fn sent_alerts(&self) -> Result<Vec<SentAlert>, StoreError> {
        decode_all(&self.sent, "sent scan")
    }

    /// Moves dead-lettered alerts back to the outbox, due now with a fresh attempt count
    /// and age; `id` picks one alert id (on every sink it died on), `None` takes them all.
    /// Returns how many were re-queued.
    ///
    /// # Errors
    /// [`StoreError::Io`] on a read or write failure.
    pub fn retry_dead(&self, id: Option<&str>, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let mut moved = 0;
        for item in self.dead.iter() {
            let (key, value) = item.map_err(io("dead-letter scan"))?;
            let Ok(mut alert) = keys::decode::<Alert>(&value) else {
                continue;
            };
            if id.is_some_and(|id| id != alert.id) {
                continue;
            }
            alert.attempts = 0;
            alert.next_attempt = now;
            alert.created = now;
            alert.last_error = None;
            let encoded = keys::encode(&alert);
            (&self.outbox, &self.dead)
                .transaction(|(outbox, dead)| {
                    dead.remove(&key)?;
                    outbox.insert(&key, encoded.as_slice())?;
                    Ok::<_, ConflictableTransactionError<Infallible>>(())
                })
                .map_err(tx_error("dead-letter retry"))?;
            moved += 1;
        }
        Ok(moved)
    }

    /// Records a delivery: the entry leaves the outbox and the alert id is marked sent.
    ///
    /// # Errors
    /// [`StoreError::Io`] on a write failure (the alert may then be sent again, with the
    /// same id).
    pub fn mark_sent(
        &self,
        key: &[u8],
        alert: &Alert,
        at: DateTime<Utc>,
        digest: Option<&str>,
    ) -> Result<(), StoreError> {
        let sent_key = keys::sent_key(&alert.sink, &alert.id);
        let record = keys::encode(&SentAlert {
            alert: alert.clone(),
            sent_at: at,
            digest: digest.map(str::to_string),
        });
        (&self.outbox, &self.sent)
            .transaction(|(outbox, sent)| {
                outbox.remove(key)?;
                sent.insert(sent_key.as_slice(), record.as_slice())?;
                Ok::<_, ConflictableTransactionError<Infallible>>(())
            })
            .map_err(tx_error("mark sent"))
    }

    /// Messages a sink was sent since `since` (an alert alone, or one digest of several),
    /// and when the oldest of them was sent.
    ///
    /// # Errors
    /// [`StoreError::Io`] on a read failure.
    pub fn messages_sent_since(
        &self,
        sink: &str,
        since: DateTime<Utc>,
    ) -> Result<(u32, Option<DateTime<Utc>>), StoreError> {
        let mut count = 0;
        let mut digests: Vec<String> = Vec::new();
        let mut oldest: Option<DateTime<Utc>> = None;
        for item in self.sent.scan_prefix(keys::sink_prefix(sink)) {
            let (_, value) = item.map_err(io("sent scan"))?;
            let Ok(sent) = keys::decode::<SentAlert>(&value) else {
                continue;
            };
            if sent.sent_at < since {
                continue;
            }
            oldest = Some(oldest.map_or(sent.sent_at, |o| o.min(sent.sent_at)));
            match sent.digest {
                Some(digest) if digests.contains(&digest) => {}
                Some(digest) => {
                    digests.push(digest);
                    count += 1;
                }
                None => count += 1,
            }
        }
        Ok((count, oldest))
    }

    /// Whether an alert id was delivered to a sink.
    ///
    /// # Errors
    /// [`StoreError::Io`] on a read failure.
    pub fn was_sent(&self, sink: &str, alert_id: &str) -> Result<bool, StoreError> {
        self.sent
            .contains_key(keys::sent_key(sink, alert_id))
            .map_err(io("sent lookup"))
    }

    /// Saves an entry after a failed attempt (attempts, next attempt, last error).
    ///
    /// # Errors
    /// [`StoreError::Io`] on a write failure.
    pub fn update_alert(&self, key: &[u8], alert: &Alert) -> Result<(), StoreError> {
        self.outbox
            .insert(key, keys::encode(alert))
            .map_err(io("outbox update"))?;
        Ok(())
    }

    /// Moves an entry that ran out of attempts to the dead-letter list.
    ///
    /// # Errors
    /// [`StoreError::Io`] on a write failure.
    pub fn move_to_dead(&self, key: &[u8], alert: &Alert) -> Result<(), StoreError> {
        let value = keys::encode(alert);
        (&self.outbox, &self.dead)
            .transaction(|(outbox, dead)| {
                outbox.remove(key)?;
                dead.insert(key, value.as_slice())?;
                Ok::<_, ConflictableTransactionError<Infallible>>(())
            })
            .map_err(tx_error("dead-letter move"))
    }

    /// Every dead-lettered alert.
    ///
    /// # Errors
    /// [`StoreError::Io`] on a read failure.
    pub fn dead_alerts(&self) -> Result<Vec<Alert>, StoreError> {
        decode_all(&self.dead, "dead-letter scan")
    }
}

/// Every value of a tree that decodes as `T`, in key order.
fn decode_all<T: serde::de::DeserializeOwned>(
    tree: &sled::Tree,
    operation: &'static str,
) -> Result<Vec<T>, StoreError> {
    let mut out = Vec::new();
    for item in tree.iter() {
        let (_, value) = item.map_err(io(operation))?;
        if let Ok(decoded) = keys::decode(&value) {
            out.push(decoded);
        }
    }
    Ok(out)
}

/// The transaction saw another poll's new story; the commit is redone.
#[derive(Debug)]
struct StoriesChanged;

type TxResult<T> = Result<T, ConflictableTransactionError<StoriesChanged>>;

/// The trees one poll's transaction writes.
struct CommitTrees<'t> {
    articles: &'t TransactionalTree,
    feeds: &'t TransactionalTree,
    stories: &'t TransactionalTree,
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

/// Applies one poll; returns the outcome and whether a new story was opened.
fn apply_commit(
    commit: &PollCommit<'_>,
    alerting: &[&NewArticle],
    stored_quietly: usize,
    sequences: &[u64],
    stories: &[StoryRecord],
    trees: &CommitTrees<'_>,
) -> TxResult<(CommitOutcome, bool)> {
    let window =
        chrono::Duration::from_std(commit.story_window).unwrap_or(chrono::Duration::days(3));
    let mut outcome = CommitOutcome {
        stored: stored_quietly,
        ..CommitOutcome::default()
    };
    let mut next_sequence = sequences.iter();
    let mut opened: Vec<StoryRecord> = Vec::new();
    for new in alerting {
        let key = new.article.store_key();
        if trees.contains_article(&new.article)? {
            continue;
        }
        let mut stored = StoredArticle {
            article: new.article.clone(),
            verdict: new.verdict.clone(),
            alert_id: None,
        };
        if new.alert {
            let sequence = next_sequence.next().copied().unwrap_or_default();
            let event = new.verdict.as_ref().and_then(|v| v.event);
            let link = new.article.link.as_deref().map(link_fingerprint);
            let joins = |story: &&StoryRecord| {
                (link.is_some() && story.link == link)
                    || (story.event == event && story.key.same_story(&new.story))
            };
            let existing = stories
                .iter()
                .filter(|story| commit.now - story.first_seen <= window)
                .chain(opened.iter())
                .find(joins)
                .map(|s| s.alert_id.clone());
            match existing {
                Some(id) => {
                    // Re-read inside the transaction: another article may have joined since.
                    let current = trees.stories.get(id.as_bytes())?;
                    if let Some(mut story) =
                        current.and_then(|b| keys::decode::<StoryRecord>(&b).ok())
                    {
                        if !story.reported_by.contains(&new.article.feed) {
                            story.reported_by.push(new.article.feed.clone());
                        }
                        trees.stories.insert(id.as_bytes(), keys::encode(&story))?;
                        if let Some(local) = opened.iter_mut().find(|s| s.alert_id == id) {
                            *local = story;
                        }
                    }
                    stored.alert_id = Some(id);
                    outcome.joined_story += 1;
                }
                None => {
                    let id = alert_id(&key);
                    let story = StoryRecord {
                        alert_id: id.clone(),
                        first_seen: commit.now,
                        event,
                        key: new.story.clone(),
                        link,
                        reported_by: vec![new.article.feed.clone()],
                    };
                    trees.stories.insert(id.as_bytes(), keys::encode(&story))?;
                    opened.push(story);
                    for sink in &new.sinks {
                        let alert = Alert {
                            id: id.clone(),
                            sink: sink.clone(),
                            article: new.article.clone(),
                            verdict: new.verdict.clone().unwrap_or(Verdict {
                                relevant: true,
                                event: None,
                                score: 1.0,
                                reasons: Vec::new(),
                            }),
                            created: commit.now,
                            attempts: 0,
                            next_attempt: commit.now,
                            last_error: None,
                            held: false,
                        };
                        trees
                            .outbox
                            .insert(keys::outbox_key(sink, sequence), keys::encode(&alert))?;
                    }
                    stored.alert_id = Some(id.clone());
                    outcome.queued.push(id);
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
    Ok((outcome, !opened.is_empty()))
}

/// The poll's feed state with `items_seen` advanced by what the poll stored. The count is
/// the store's own, so a caller cannot reset it by passing a fresh state.
fn counted_state(commit: &PollCommit<'_>, previous: Option<FeedState>, stored: usize) -> FeedState {
    let mut state = commit.state.clone();
    state.items_seen = previous.map_or(0, |p| p.items_seen) + stored as u64;
    state
}

/// Moves a schema 1 store's articles to schema 2 keys, then records schema 2. Tombstones
/// keep no article to re-key from, so they stay where they are and the store looks up
/// both layouts from then on. Re-running after a crash part-way is safe: articles already
/// under their new key are left alone, and the schema stays 1 until all are moved.
fn migrate_article_keys(articles: &sled::Tree, meta: &sled::Tree) -> sled::Result<()> {
    const CHUNK: usize = 1000;
    let mut batch = sled::Batch::default();
    let (mut queued, mut moved, mut tombstones) = (0, 0, 0);
    for item in articles.iter() {
        let (key, value) = item?;
        let Ok(stored) = keys::decode::<StoredArticle>(&value) else {
            tombstones += 1;
            continue;
        };
        let new_key = stored.article.store_key();
        if key.as_ref() == new_key {
            continue;
        }
        batch.insert(&new_key[..], value);
        batch.remove(key);
        queued += 1;
        if queued == CHUNK {
            articles.apply_batch(std::mem::take(&mut batch))?;
            moved += queued;
            queued = 0;
        }
    }
    articles.apply_batch(batch)?;
    moved += queued;
    if tombstones > 0 {
        meta.insert(keys::LEGACY_KEYS_KEY, &[1])?;
    }
    meta.insert(keys::SCHEMA_KEY, &SCHEMA_VERSION.to_be_bytes())?;
    meta.flush()?;
    tracing::info!(
        moved,
        tombstones,
        "Store migrated to schema {SCHEMA_VERSION}: article keys now lead with the feed."
    );
    Ok(())
}

fn decode_u64(bytes: &[u8]) -> u64 {
    bytes.try_into().map(u64::from_be_bytes).unwrap_or(0)
}
