//! One feed's poll, end to end, and one sink's delivery round.
//!
//! A poll goes fetch → parse → classify the articles not yet stored → one store commit →
//! flush (only when it queued alerts).

use super::StartError;
use super::schedule::next_poll_delay;
use crate::classify::Classifier;
use crate::config::{Config, FeedConfig, SinkConfig};
use crate::model::{Article, Verdict};
use crate::notify::{DeliveryReport, Notifier};
use crate::parse::{ParseError, ParsedFeed, Source, parse_feed_limited};
use crate::poll::{Fetched, PollError, Poller, Validators};
use crate::server::StatusView;
use crate::store::{
    Alerting, CommitOutcome, FeedState, NewArticle, NewBody, PollCommit, Store, StoreError,
};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use xxhash_rust::xxh3::xxh3_64;

/// How long a story stays open for other outlets' articles to join it instead of alerting.
pub const STORY_WINDOW: Duration = crate::classify::story::STORY_OPEN_FOR;
/// Bodies up to this size are parsed on the polling task itself.
const INLINE_PARSE_BYTES: usize = 256 * 1024;

/// Why one poll of one feed failed. Each variant's message names the feed.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// Fetching failed.
    #[error(transparent)]
    Poll(#[from] PollError),
    /// The body is not a readable feed.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// The store failed while saving the poll.
    #[error("feed `{feed}`: {cause}")]
    Store {
        /// Feed name.
        feed: String,
        /// Why (in the message, so not also a `source()`, which would print it twice).
        cause: StoreError,
    },
    /// Shutdown came while the feed was being fetched; nothing was recorded.
    #[error("feed `{feed}`: fetch cancelled by shutdown")]
    Cancelled {
        /// Feed name.
        feed: String,
    },
}

impl FeedError {
    /// A short, stable name for the kind of failure.
    pub fn kind(&self) -> &'static str {
        match self {
            FeedError::Poll(err) => err.kind(),
            FeedError::Parse(_) => "parse",
            FeedError::Store { .. } => "store",
            FeedError::Cancelled { .. } => "cancelled",
        }
    }
}

/// What one successful poll did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedReport {
    /// The server said 304, or the body was byte-for-byte the last one.
    pub unchanged: bool,
    /// Entries in the feed.
    pub items: usize,
    /// Entries not stored before.
    pub new: usize,
    /// Of those, relevant by the classifier.
    pub relevant: usize,
    /// Alerts queued (new stories).
    pub queued: usize,
    /// Relevant articles that joined a story already open.
    pub joined_story: usize,
    /// Relevant articles that did not alert (backlog, too old) and were remembered in a
    /// story, so later copies do not alert.
    pub remembered: usize,
    /// The wait until the next poll, when the poll saved it already: an unchanged poll,
    /// the common one, saves its state and its next poll time in one store write.
    pub scheduled: Option<Duration>,
}

/// The stages, built once from a config and shared by every task.
#[derive(Debug)]
pub struct Pipeline {
    /// Shared with the status server's view, without a copy.
    config: Arc<Config>,
    store: Store,
    poller: Poller,
    classifier: Classifier,
    notifier: Notifier,
    /// Set when a write to the store failed: polls and deliveries wait, since nothing they
    /// do could be saved, until a health check finds the store writable again.
    store_failed: AtomicBool,
}

impl Pipeline {
    /// Opens the store and builds the clients and the classifier.
    ///
    /// # Errors
    /// [`StartError`] naming what could not be set up.
    pub fn new(config: Config) -> Result<Pipeline, StartError> {
        let store = Store::open(&config.storage.path, config.storage.cache_capacity)?;
        Pipeline::with_store(config, store)
    }

    /// Builds the stages around a store that is already open (a reload keeps its store).
    ///
    /// # Errors
    /// [`StartError`] naming what could not be set up.
    pub fn with_store(config: Config, store: Store) -> Result<Pipeline, StartError> {
        let classifier =
            Classifier::from_source(&config.classifier.profile, config.classifier.threshold)?;
        let poller = Poller::new(&config.poll)?;
        let notifier = Notifier::new(&config.delivery)?;
        Ok(Pipeline {
            config: Arc::new(config),
            store,
            poller,
            classifier,
            notifier,
            store_failed: AtomicBool::new(false),
        })
    }

    /// Records `now` as the time the store first knew each configured feed that has none
    /// yet, durably (see [`Store::remember_feeds`]).
    ///
    /// # Errors
    /// [`StoreError`] when the write or the flush fails; the caller stops, since nothing
    /// could be saved.
    pub async fn remember_feeds(&self, now: DateTime<Utc>) -> Result<(), StoreError> {
        let urls = self.config.feeds.iter().map(|feed| feed.url.as_str());
        if self.store.remember_feeds(urls, now)? > 0 {
            self.store.flush().await?;
        }
        Ok(())
    }

    /// Whether a write to the store failed and no health check has found it writable
    /// since.
    pub fn store_failed(&self) -> bool {
        self.store_failed.load(Ordering::SeqCst)
    }

    /// Marks the store as failing or not; returns whether that changed.
    pub fn set_store_failed(&self, failed: bool) -> bool {
        self.store_failed.swap(failed, Ordering::SeqCst) != failed
    }

    /// The store, for reports and tests.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The config it was built from.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// What the status server may read: the store and the config, nothing it could run.
    pub fn status_view(&self) -> StatusView {
        StatusView::new(self.store.clone(), Arc::clone(&self.config))
    }

    /// Polls one feed end to end: fetch, parse, classify new articles, commit (flushed
    /// when it queued alerts). `stop` cancels the fetch at once (a shutdown need not wait
    /// for a slow server); once the body is in, the poll runs to its end, so a commit is
    /// never cut in half.
    ///
    /// # Errors
    /// [`FeedError`] naming the feed; its failure count is saved for back-off, except
    /// after [`FeedError::Cancelled`], which records nothing.
    pub async fn poll_feed(
        &self,
        feed: &FeedConfig,
        stop: &CancellationToken,
    ) -> Result<FeedReport, FeedError> {
        let key = feed.url.as_str();
        let mut state = self
            .store
            .feed_state(key)
            .map_err(store_error(feed))?
            .unwrap_or_default();
        let started = std::time::Instant::now();
        let outcome = self.fetch_and_commit(feed, &state, stop).await;
        record_poll_metrics(feed, &outcome, started.elapsed());
        if let Err(err) = &outcome
            && !matches!(err, FeedError::Cancelled { .. })
        {
            state.record_failure(err.kind(), err.to_string(), Utc::now());
            self.store
                .put_feed_state(key, &state)
                .map_err(store_error(feed))?;
        }
        outcome
    }

    async fn fetch_and_commit(
        &self,
        feed: &FeedConfig,
        state: &FeedState,
        stop: &CancellationToken,
    ) -> Result<FeedReport, FeedError> {
        let validators = Validators {
            etag: state.etag.clone(),
            last_modified: state.last_modified.clone(),
        };
        let now = Utc::now();
        let fetched = tokio::select! {
            fetched = self.poller.fetch(feed, &validators) => fetched?,
            () = stop.cancelled() => {
                return Err(FeedError::Cancelled {
                    feed: feed.name.clone(),
                });
            }
        };
        let body = match fetched {
            Fetched::NotModified => return self.record_unchanged(feed, state, now),
            Fetched::Body(body) => body,
        };
        let body_hash = xxh3_64(&body.bytes);
        if state.first_poll_done && state.body_hash == Some(body_hash) {
            return self.record_unchanged(feed, state, now);
        }
        let max_items = self.config.poll.max_items;
        let parsed = parse_body(feed, body.bytes, body.content_type, now, max_items).await?;
        let items = parsed.articles.len();
        if let Some(reason) = &parsed.recovered {
            tracing::warn!(feed = %feed.name, %reason, "Feed is not valid; its items were read leniently.");
        }
        if parsed.malformed > 0 {
            tracing::warn!(feed = %feed.name, malformed = parsed.malformed, "Feed items with fields of the wrong types were skipped.");
        }
        if parsed.skipped > 0 {
            tracing::warn!(feed = %feed.name, kept = items, skipped = parsed.skipped, "Feed holds more items than poll.max_items; only the newest were kept.");
        }
        if items == 0 {
            tracing::warn!(feed = %feed.name, "Feed parsed but has no items.");
        }
        let new_articles = self
            .new_articles(parsed.articles, state.first_poll_done)
            .map_err(store_error(feed))?;
        let known_since = if state.first_poll_done {
            None
        } else {
            self.store
                .feed_known_since(feed.url.as_str())
                .map_err(store_error(feed))?
        };
        let (articles, relevant) = self.classify_new(feed, state, known_since, new_articles, now);
        let new = articles.len();
        let moved_to = body.final_url.as_ref().map(crate::config::display_url);
        if moved_to.is_some() && moved_to != state.moved_to {
            tracing::warn!(feed = %feed.name, moved_to = moved_to.as_deref().unwrap_or(""), "Feed redirects elsewhere; update its url in the config.");
        }
        let new_body = NewBody {
            title: parsed.title,
            etag: body.validators.etag,
            last_modified: body.validators.last_modified,
            body_hash,
            refresh_hint_secs: body.max_age.max(parsed.ttl).map(|hint| hint.as_secs()),
            moved_to,
        };
        let commit = PollCommit {
            feed_url: feed.url.as_str(),
            state: state.after_new_body(new_body, now),
            articles,
            story_window: STORY_WINDOW,
            join_window: self.config.classifier.story_window,
            now,
        };
        let outcome = self
            .commit_durably(&commit)
            .await
            .map_err(store_error(feed))?;
        Ok(FeedReport {
            unchanged: false,
            items,
            new,
            relevant,
            queued: outcome.queued.len(),
            joined_story: outcome.joined_story,
            remembered: outcome.remembered,
            scheduled: None,
        })
    }

    /// Classifies a poll's new articles and decides which alert: relevant ones do, unless
    /// they are a first poll's backlog or older than `poll.max_article_age`. Returns them
    /// with how many were relevant.
    ///
    /// The backlog is what the feed had published when the store first knew it
    /// (`known_since`), not what it holds at its first committed poll: when that poll comes
    /// more than an interval late (its commits failed on a full disk, or the feed was
    /// down), items published since then, and dated no later than now, are news.
    fn classify_new(
        &self,
        feed: &FeedConfig,
        state: &FeedState,
        known_since: Option<DateTime<Utc>>,
        articles: Vec<Article>,
        now: DateTime<Utc>,
    ) -> (Vec<NewArticle>, usize) {
        let may_alert = state.first_poll_done || feed.alert_on_first_poll;
        let interval = chrono::Duration::from_std(feed.interval).unwrap_or(chrono::Duration::MAX);
        let news_since = known_since.filter(|since| !may_alert && now - *since > interval);
        let is_news = |article: &Article| {
            may_alert
                || news_since.is_some_and(|since| {
                    article
                        .published
                        .is_some_and(|published| published >= since && published <= now)
                })
        };
        let oldest_alertable = now
            - chrono::Duration::from_std(self.config.poll.max_article_age)
                .unwrap_or(chrono::Duration::days(2));
        let mut relevant = 0;
        let mut news = 0;
        let judged = articles
            .into_iter()
            .map(|article| {
                let verdict = self.classifier.classify_article(&article);
                relevant += usize::from(verdict.relevant);
                let alert = verdict.relevant
                    && is_news(&article)
                    && article.effective_time() >= oldest_alertable;
                news += usize::from(alert);
                self.judged(article, verdict, alert)
            })
            .collect();
        if let Some(since) = news_since {
            tracing::info!(feed = %feed.name, known_since = %since.to_rfc3339(), relevant, news, "First poll of this feed saved late: what it published since it was first known is news, the rest of its backlog is stored without alerting.");
        } else if !may_alert && relevant > 0 {
            tracing::info!(feed = %feed.name, relevant, "First poll of this feed: its backlog is stored without alerting.");
        }
        (judged, relevant)
    }

    /// Commits a poll, and flushes when it queued alerts. An alert is sent only once its
    /// outbox entry is on disk. A commit that queued nothing can wait for sled's background
    /// flush: if it is lost in a crash, the feed state (ETag, body hash) is lost with it and
    /// the next poll reads the items again.
    async fn commit_durably(&self, commit: &PollCommit<'_>) -> Result<CommitOutcome, StoreError> {
        let outcome = self.store.commit_poll(commit)?;
        if !outcome.queued.is_empty() {
            self.store.flush().await?;
        }
        Ok(outcome)
    }

    /// A classified article, ready to commit: an alerting one carries its routes and story
    /// key, a relevant one that does not alert its story key, an irrelevant one only its
    /// verdict.
    fn judged(&self, article: Article, verdict: Verdict, alert: bool) -> NewArticle {
        if !verdict.relevant {
            return NewArticle::Quiet {
                article,
                verdict: Some(verdict),
            };
        }
        if !alert {
            // Relevant backlog or old news: remembered as a story, so that a later copy of
            // it from another feed does not alert as news.
            return NewArticle::Silent {
                story: self.classifier.story_key(&article.title),
                article,
                verdict,
            };
        }
        NewArticle::Alert(Alerting {
            sinks: self.routed_sinks(&article, &verdict),
            story: self.classifier.story_key(&article.title),
            article,
            verdict,
        })
    }

    /// The sinks whose routes take this alert.
    fn routed_sinks(&self, article: &Article, verdict: &Verdict) -> Vec<String> {
        self.config
            .sinks
            .iter()
            .filter(|sink| {
                sink.route
                    .accepts(&article.feed, verdict.event, verdict.score)
            })
            .map(|sink| sink.name.clone())
            .collect()
    }

    /// Saves a poll that found nothing new and reports it.
    fn record_unchanged(
        &self,
        feed: &FeedConfig,
        state: &FeedState,
        now: DateTime<Utc>,
    ) -> Result<FeedReport, FeedError> {
        let mut state = state.clone();
        state.record_unchanged(now);
        // Scheduled here, not after the poll as other outcomes are, so that the commonest
        // poll costs one store write instead of two (BENCHMARKS.md, "The daemon's steady
        // state").
        let wait = next_poll_delay(feed, &self.config.poll, &state, None);
        state.schedule(
            chrono::Duration::from_std(wait)
                .ok()
                .map(|d| Utc::now() + d),
        );
        self.store
            .put_feed_state(feed.url.as_str(), &state)
            .map_err(store_error(feed))?;
        Ok(FeedReport {
            unchanged: true,
            scheduled: Some(wait),
            ..FeedReport::default()
        })
    }

    /// The articles not already in the store, without duplicates inside the batch. Before a
    /// feed's first committed poll none of its articles can be stored (their keys hold the
    /// feed URL; a crashed commit's leftovers are caught by the store), so the look-ups,
    /// a sled read per article and a seventh of a cold start, are skipped.
    fn new_articles(
        &self,
        articles: Vec<Article>,
        feed_committed_before: bool,
    ) -> Result<Vec<Article>, StoreError> {
        let mut seen = std::collections::HashSet::new();
        let mut fresh = Vec::new();
        for article in articles {
            if seen.insert(article.store_key())
                && !(feed_committed_before && self.store.contains_article(&article)?)
            {
                fresh.push(article);
            }
        }
        Ok(fresh)
    }

    /// Delivers what is due for one sink.
    ///
    /// # Errors
    /// [`StoreError`] if the outbox cannot be read or updated.
    pub async fn deliver(&self, sink: &SinkConfig) -> Result<DeliveryReport, StoreError> {
        self.notifier.deliver_due(&self.store, sink).await
    }
}

/// Wraps a store failure with the feed it happened to.
fn store_error(feed: &FeedConfig) -> impl Fn(StoreError) -> FeedError + '_ {
    |cause| FeedError::Store {
        feed: feed.name.clone(),
        cause,
    }
}

fn record_poll_metrics(feed: &FeedConfig, outcome: &Result<FeedReport, FeedError>, took: Duration) {
    use crate::telemetry::metric;
    let outcome_label = match outcome {
        Ok(report) if report.unchanged => "unchanged",
        Ok(_) => "new",
        Err(err) => err.kind(),
    };
    metrics::counter!(metric::POLLS, "feed" => feed.name.clone(), "outcome" => outcome_label)
        .increment(1);
    metrics::histogram!(metric::POLL_SECONDS, "feed" => feed.name.clone())
        .record(took.as_secs_f64());
    if let Ok(report) = outcome {
        metrics::counter!(metric::ARTICLES_NEW, "feed" => feed.name.clone())
            .increment(report.new as u64);
        metrics::counter!(metric::VERDICTS, "relevant" => "true").increment(report.relevant as u64);
        metrics::counter!(metric::VERDICTS, "relevant" => "false")
            .increment((report.new - report.relevant) as u64);
        metrics::counter!(metric::ALERTS_QUEUED).increment(report.queued as u64);
    }
}
/// Parses a fetched body, keeping the `max_items` newest entries: small bodies on the
/// polling task, large ones on the blocking pool.
async fn parse_body(
    feed: &FeedConfig,
    bytes: Vec<u8>,
    content_type: Option<String>,
    now: chrono::DateTime<Utc>,
    max_items: usize,
) -> Result<ParsedFeed, FeedError> {
    if bytes.len() <= INLINE_PARSE_BYTES {
        // A typical feed parses in well under a millisecond, less than the two thread
        // hand-overs a blocking task costs (a fifth of a cold start's CPU went to them).
        // parse_feed catches panics inside the XML parser itself.
        let source = Source {
            name: &feed.name,
            url: &feed.url,
        };
        return Ok(parse_feed_limited(
            &bytes,
            content_type.as_deref(),
            source,
            now,
            max_items,
        )?);
    }
    let name = feed.name.clone();
    let url = feed.url.clone();
    // Parsing a multi-megabyte feed takes milliseconds of CPU; keep it off the I/O threads.
    let joined = tokio::task::spawn_blocking(move || {
        parse_feed_limited(
            &bytes,
            content_type.as_deref(),
            Source {
                name: &name,
                url: &url,
            },
            now,
            max_items,
        )
    })
    .await;
    match joined {
        Ok(result) => Ok(result?),
        Err(join_error) => Err(FeedError::Parse(ParseError::Panicked {
            feed: feed.name.clone(),
            message: join_error.to_string(),
        })),
    }
}
