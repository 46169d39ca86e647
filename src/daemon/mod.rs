//! Wires the stages together and owns every task: `once` (one cycle, for cron and tests)
//! and `run` (each feed on its own schedule, one delivery worker per sink, until shutdown).
//!
//! A poll of one feed goes fetch → parse → classify the articles not yet stored → one store
//! transaction → flush, and only then wakes the delivery workers, so no alert leaves before
//! the article that raised it is durable. One feed's or sink's failure is logged, counted and
//! backed off; it never stops the others.

mod systemd;

use crate::classify::{Classifier, ProfileError};
use crate::config::{Config, FeedConfig, SinkConfig};
use crate::model::{Article, StoryKey};
use crate::notify::{DeliveryReport, Notifier, NotifierError};
use crate::parse::{ParseError, ParsedFeed, Source, parse_feed};
use crate::poll::{Fetched, PollError, Poller, Validators};
use crate::store::{FeedState, NewArticle, PollCommit, Store, StoreError};
use chrono::Utc;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use xxhash_rust::xxh3::xxh3_64;

/// How long a story stays open for other outlets' articles to join it instead of alerting.
pub const STORY_WINDOW: Duration = Duration::from_secs(72 * 3600);
/// The longest a failing feed waits between attempts: it is never given up on.
const MAX_FEED_BACKOFF: Duration = Duration::from_secs(6 * 3600);
/// How long shutdown waits for in-flight polls and sends before giving up on them. Both are
/// bounded by their own timeouts, so this is only reached if something is badly stuck.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(60);
/// How often old articles are pruned, by the daemon or by a run of `once`.
const PRUNE_EVERY: Duration = Duration::from_secs(6 * 3600);
/// A delivery worker with nothing queued checks the outbox this often anyway.
const IDLE_DELIVERY_CHECK: Duration = Duration::from_secs(60);

/// Why the pipeline could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The profile could not be loaded.
    #[error("classifier profile: {0}")]
    Profile(#[from] ProfileError),
    /// An HTTP client could not be built.
    #[error("{0}")]
    Client(String),
}

impl From<PollError> for StartError {
    fn from(err: PollError) -> Self {
        StartError::Client(err.to_string())
    }
}

impl From<NotifierError> for StartError {
    fn from(err: NotifierError) -> Self {
        StartError::Client(err.to_string())
    }
}

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
    #[error("feed `{feed}`: {source}")]
    Store {
        /// Feed name.
        feed: String,
        /// Why.
        source: StoreError,
    },
}

impl FeedError {
    /// A short, stable name for the kind of failure.
    pub fn kind(&self) -> &'static str {
        match self {
            FeedError::Poll(err) => err.kind(),
            FeedError::Parse(_) => "parse",
            FeedError::Store { .. } => "store",
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
    /// Relevant articles that joined a story already alerted.
    pub joined_story: usize,
}

/// The stages, built once from a config and shared by every task.
#[derive(Debug)]
pub struct Pipeline {
    config: Config,
    store: Store,
    poller: Poller,
    classifier: Classifier,
    notifier: Notifier,
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
            config,
            store,
            poller,
            classifier,
            notifier,
        })
    }

    /// The store, for reports and tests.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The config it was built from.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Polls one feed end to end: fetch, parse, classify new articles, commit (flushed
    /// when it queued alerts).
    ///
    /// # Errors
    /// [`FeedError`] naming the feed; its failure count is saved for back-off.
    pub async fn poll_feed(&self, feed: &FeedConfig) -> Result<FeedReport, FeedError> {
        let store_error = |source| FeedError::Store {
            feed: feed.name.clone(),
            source,
        };
        let key = feed.url.as_str();
        let mut state = self
            .store
            .feed_state(key)
            .map_err(store_error)?
            .unwrap_or_default();
        let started = std::time::Instant::now();
        let outcome = self.fetch_and_commit(feed, &mut state).await;
        record_poll_metrics(feed, &outcome, started.elapsed());
        match outcome {
            Ok(report) => Ok(report),
            Err(err) => {
                state.consecutive_failures = state.consecutive_failures.saturating_add(1);
                state.last_error = Some(err.to_string());
                state.last_error_kind = Some(err.kind().to_string());
                state.last_attempt = Some(Utc::now());
                self.store
                    .put_feed_state(key, &state)
                    .map_err(store_error)?;
                Err(err)
            }
        }
    }

    async fn fetch_and_commit(
        &self,
        feed: &FeedConfig,
        state: &mut FeedState,
    ) -> Result<FeedReport, FeedError> {
        let store_error = |source| FeedError::Store {
            feed: feed.name.clone(),
            source,
        };
        let validators = Validators {
            etag: state.etag.clone(),
            last_modified: state.last_modified.clone(),
        };
        let now = Utc::now();
        let body = match self.poller.fetch(feed, &validators).await? {
            Fetched::NotModified => {
                self.record_unchanged(feed, state, now)
                    .map_err(store_error)?;
                return Ok(FeedReport {
                    unchanged: true,
                    ..FeedReport::default()
                });
            }
            Fetched::Body(body) => body,
        };
        let body_hash = xxh3_64(&body.bytes);
        if state.first_poll_done && state.body_hash == Some(body_hash) {
            self.record_unchanged(feed, state, now)
                .map_err(store_error)?;
            return Ok(FeedReport {
                unchanged: true,
                ..FeedReport::default()
            });
        }
        let parsed = parse_body(feed, body.bytes, body.content_type, now).await?;
        let items = parsed.articles.len();
        if let Some(reason) = &parsed.recovered {
            tracing::warn!(feed = %feed.name, %reason, "Feed is not valid; its items were read leniently.");
        }
        if items == 0 {
            tracing::warn!(feed = %feed.name, "Feed parsed but has no items.");
        }
        let new_articles = self
            .new_articles(parsed.articles, state.first_poll_done)
            .map_err(store_error)?;
        let may_alert = state.first_poll_done || feed.alert_on_first_poll;
        let oldest_alertable = now
            - chrono::Duration::from_std(self.config.poll.max_article_age)
                .unwrap_or(chrono::Duration::days(2));
        let mut relevant = 0;
        let articles: Vec<NewArticle> = new_articles
            .into_iter()
            .map(|article| {
                let verdict = self.classifier.classify_article(&article);
                relevant += usize::from(verdict.relevant);
                let alert =
                    verdict.relevant && may_alert && article.effective_time() >= oldest_alertable;
                let sinks = if alert {
                    self.routed_sinks(&article, &verdict)
                } else {
                    Vec::new()
                };
                let story = if alert {
                    self.classifier.story_key(&article.title)
                } else {
                    StoryKey::default()
                };
                NewArticle {
                    article,
                    verdict: Some(verdict),
                    alert,
                    sinks,
                    story,
                }
            })
            .collect();
        let new = articles.len();
        if !state.first_poll_done && !feed.alert_on_first_poll && relevant > 0 {
            tracing::info!(feed = %feed.name, relevant, "First poll of this feed: its backlog is stored without alerting.");
        }
        let moved_to = body.final_url.as_ref().map(crate::config::display_url);
        if moved_to.is_some() && moved_to != state.moved_to {
            tracing::warn!(feed = %feed.name, moved_to = moved_to.as_deref().unwrap_or(""), "Feed redirects elsewhere; update its url in the config.");
        }
        let refresh_hint = body.max_age.max(parsed.ttl).map(|hint| hint.as_secs());
        let next_state = FeedState {
            title: parsed.title.or(state.title.take()),
            etag: body.validators.etag,
            last_modified: body.validators.last_modified,
            body_hash: Some(body_hash),
            first_poll_done: true,
            last_success: Some(now),
            last_error: None,
            consecutive_failures: 0,
            items_seen: state.items_seen,
            last_attempt: Some(now),
            last_error_kind: None,
            next_poll: None,
            refresh_hint_secs: refresh_hint,
            moved_to,
        };
        let commit = PollCommit {
            feed_url: feed.url.as_str(),
            state: next_state,
            articles,
            story_window: STORY_WINDOW,
            now,
        };
        let outcome = self.store.commit_poll(&commit).map_err(store_error)?;
        // An alert is sent only once its outbox entry is on disk. A commit that queued
        // nothing can wait for sled's background flush: if it is lost in a crash, the feed
        // state (ETag, body hash) is lost with it and the next poll reads the items again.
        if !outcome.queued.is_empty() {
            self.store.flush().await.map_err(store_error)?;
        }
        *state = commit.state;
        Ok(FeedReport {
            unchanged: false,
            items,
            new,
            relevant,
            queued: outcome.queued.len(),
            joined_story: outcome.joined_story,
        })
    }

    /// The sinks whose routes take this alert.
    fn routed_sinks(&self, article: &Article, verdict: &crate::model::Verdict) -> Vec<String> {
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

    fn record_unchanged(
        &self,
        feed: &FeedConfig,
        state: &mut FeedState,
        now: chrono::DateTime<Utc>,
    ) -> Result<(), StoreError> {
        state.last_success = Some(now);
        state.last_attempt = Some(now);
        state.last_error = None;
        state.last_error_kind = None;
        state.consecutive_failures = 0;
        self.store.put_feed_state(feed.url.as_str(), state)
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

/// Bodies up to this size are parsed on the polling task itself.
const INLINE_PARSE_BYTES: usize = 256 * 1024;

/// Parses a fetched body: small ones on the polling task, large ones on the blocking pool.
async fn parse_body(
    feed: &FeedConfig,
    bytes: Vec<u8>,
    content_type: Option<String>,
    now: chrono::DateTime<Utc>,
) -> Result<ParsedFeed, FeedError> {
    if bytes.len() <= INLINE_PARSE_BYTES {
        // A typical feed parses in well under a millisecond, less than the two thread
        // hand-overs a blocking task costs (a fifth of a cold start's CPU went to them).
        // parse_feed catches panics inside the XML parser itself.
        let source = Source {
            name: &feed.name,
            url: &feed.url,
        };
        return Ok(parse_feed(&bytes, content_type.as_deref(), source, now)?);
    }
    let name = feed.name.clone();
    let url = feed.url.clone();
    // Parsing a multi-megabyte feed takes milliseconds of CPU; keep it off the I/O threads.
    let joined = tokio::task::spawn_blocking(move || {
        parse_feed(
            &bytes,
            content_type.as_deref(),
            Source {
                name: &name,
                url: &url,
            },
            now,
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

/// What `once` did, summed over all feeds and sinks.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct OnceReport {
    /// Feeds polled successfully.
    pub feeds_ok: usize,
    /// Feeds that failed (logged with their reason).
    pub feeds_failed: usize,
    /// New articles stored.
    pub new_articles: usize,
    /// Alerts queued this cycle.
    pub queued: usize,
    /// Alerts delivered (including older queued ones).
    pub sent: usize,
    /// Delivery attempts that failed (the alerts stay queued).
    pub delivery_failed: usize,
    /// Alerts moved to the dead-letter list.
    pub dead: usize,
}

impl OnceReport {
    /// Whether everything succeeded.
    pub fn is_clean(&self) -> bool {
        self.feeds_failed == 0 && self.delivery_failed == 0 && self.dead == 0
    }
}

/// Polls every feed once (bounded concurrency), then delivers every due alert.
///
/// # Errors
/// [`StartError`] if the pipeline cannot start; per-feed and per-sink failures are counted
/// in the report instead.
pub async fn once(config: Config) -> Result<OnceReport, StartError> {
    let pipeline = Arc::new(Pipeline::new(config)?);
    let semaphore = Arc::new(Semaphore::new(pipeline.config.poll.concurrency));
    let hosts = Arc::new(Hosts::new(pipeline.config.poll.per_host));
    let mut tasks = tokio::task::JoinSet::new();
    for feed in pipeline.config.feeds.clone() {
        let pipeline = Arc::clone(&pipeline);
        let semaphore = Arc::clone(&semaphore);
        let host_semaphore = hosts.semaphore(&host_of(&feed));
        tasks.spawn(async move {
            let _host_permit = host_semaphore.acquire_owned().await;
            let _permit = semaphore.acquire_owned().await;
            let result = pipeline.poll_feed(&feed).await;
            log_poll(&feed, &result);
            schedule_next(&pipeline, &feed, &result);
            result
        });
    }
    let mut report = OnceReport::default();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(feed_report)) => {
                report.feeds_ok += 1;
                report.new_articles += feed_report.new;
                report.queued += feed_report.queued;
            }
            Ok(Err(_)) | Err(_) => report.feeds_failed += 1,
        }
    }
    // Sinks deliver side by side, so a sink that hangs until its timeout delays no other.
    let mut deliveries = tokio::task::JoinSet::new();
    for sink in pipeline.config.sinks.clone() {
        let pipeline = Arc::clone(&pipeline);
        deliveries.spawn(async move {
            let result = pipeline.deliver(&sink).await;
            (sink.name, result)
        });
    }
    while let Some(joined) = deliveries.join_next().await {
        match joined {
            Ok((_, Ok(delivery))) => {
                report.sent += delivery.sent;
                report.delivery_failed += delivery.failed;
                report.dead += delivery.dead;
            }
            Ok((sink, Err(err))) => {
                tracing::error!(sink = %sink, error = %err, "Delivery stopped by a store error.");
                report.delivery_failed += 1;
            }
            Err(join_error) => {
                tracing::error!(error = %join_error, "A delivery task failed.");
                report.delivery_failed += 1;
            }
        }
    }
    prune_store(&pipeline);
    if let Err(err) = pipeline.store.flush().await {
        tracing::error!(error = %err, "Final flush failed.");
        report.delivery_failed += 1;
    }
    Ok(report)
}

fn log_poll(feed: &FeedConfig, result: &Result<FeedReport, FeedError>) {
    match result {
        Ok(report) if report.unchanged => {
            tracing::debug!(feed = %feed.name, "Feed unchanged.");
        }
        Ok(report) => tracing::info!(
            feed = %feed.name,
            items = report.items,
            new = report.new,
            relevant = report.relevant,
            queued = report.queued,
            joined_story = report.joined_story,
            "Feed polled."
        ),
        Err(err) => {
            tracing::warn!(feed = %feed.name, kind = err.kind(), error = %err, "Feed poll failed; will retry.")
        }
    }
}

/// Runs until `shutdown` is cancelled: each feed polls on its own schedule, each sink
/// delivers as alerts arrive. A config arriving on `reloads` (already validated) replaces
/// the running one: the feed and delivery tasks of the old one finish what they are doing
/// and stop, new ones start on the same store, so feeds that stay keep their state. On
/// shutdown no new poll or send starts, the ones in flight finish, the store is flushed,
/// and the function returns.
///
/// # Errors
/// [`StartError`] if the pipeline cannot start.
pub async fn run(
    config: Config,
    mut reloads: tokio::sync::mpsc::Receiver<Config>,
    shutdown: CancellationToken,
) -> Result<(), StartError> {
    let mut pipeline = Arc::new(Pipeline::new(config)?);
    let tracker = TaskTracker::new();
    let (current, watched) = tokio::sync::watch::channel(Arc::clone(&pipeline));
    if let Some(addr) = pipeline.config.server.listen {
        let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
            .install_recorder()
            .map_err(|err| tracing::warn!(error = %err, "Metrics are off: no recorder."))
            .ok();
        tracker.spawn(crate::server::serve(
            addr,
            watched,
            metrics,
            shutdown.clone(),
        ));
    }
    let mut generation = start_generation(&pipeline, &tracker, &shutdown);
    let mut prune = tokio::time::interval(PRUNE_EVERY);
    prune.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut heartbeat = tokio::time::interval(systemd::ping_interval());
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    systemd::ready(&status_line(&pipeline));
    tracing::info!(
        feeds = pipeline.config.feeds.len(),
        sinks = pipeline.config.sinks.len(),
        store = %pipeline.store.path().display(),
        "parleyd is running."
    );
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = prune.tick() => prune_store(&pipeline),
            // The watchdog is fed from this loop, and only while the store answers, so a
            // hung loop or a broken store gets the daemon restarted.
            _ = heartbeat.tick() => {
                if pipeline.store.check().is_ok() {
                    systemd::alive(&status_line(&pipeline));
                }
            }
            Some(config) = reloads.recv() => {
                systemd::reloading();
                match reload(&pipeline, config) {
                    Ok(next) => {
                        generation.cancel();
                        pipeline = Arc::new(next);
                        current.send_replace(Arc::clone(&pipeline));
                        generation = start_generation(&pipeline, &tracker, &shutdown);
                    }
                    Err(err) => {
                        tracing::error!(error = %err, "Reload failed; the previous config keeps running.");
                    }
                }
                systemd::ready(&status_line(&pipeline));
            }
        }
    }
    tracker.close();
    systemd::stopping();
    tracing::info!("Shutting down: finishing polls and deliveries in flight.");
    if tokio::time::timeout(SHUTDOWN_GRACE, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            grace = %humantime::format_duration(SHUTDOWN_GRACE),
            "Some tasks did not finish in time; their work will be redone at the next start."
        );
    }
    pipeline.store.flush().await?;
    tracing::info!("Store flushed; stopped.");
    Ok(())
}

/// One line for `systemctl status`: feeds, failing feeds, alerts waiting.
fn status_line(pipeline: &Pipeline) -> String {
    let failing = pipeline
        .config
        .feeds
        .iter()
        .filter(|feed| {
            pipeline
                .store
                .feed_state(feed.url.as_str())
                .ok()
                .flatten()
                .is_some_and(|state| state.consecutive_failures > 0)
        })
        .count();
    let pending: usize = pipeline
        .config
        .sinks
        .iter()
        .filter_map(|sink| pipeline.store.pending(&sink.name).ok())
        .map(|(count, _)| count)
        .sum();
    format!(
        "{} feeds ({failing} failing), {pending} alerts pending",
        pipeline.config.feeds.len()
    )
}

/// Prunes what is past `storage.retention`, if it is due; a failure is logged and retried
/// next time.
fn prune_store(pipeline: &Pipeline) {
    let retention = chrono::Duration::from_std(pipeline.config.storage.retention)
        .unwrap_or(chrono::Duration::days(30));
    let now = Utc::now();
    match pipeline
        .store
        .prune_if_due(now - retention, PRUNE_EVERY, now)
    {
        Ok(None | Some(0)) => {}
        Ok(Some(pruned)) => tracing::info!(pruned, "Old articles pruned."),
        Err(err) => tracing::warn!(error = %err, "Pruning failed; will retry."),
    }
}

/// A pipeline for a reloaded config, on the running store.
fn reload(current: &Pipeline, config: Config) -> Result<Pipeline, StartError> {
    if config.storage.path != current.config.storage.path {
        tracing::warn!(
            old = %current.config.storage.path.display(),
            new = %config.storage.path.display(),
            "storage.path changed; it takes effect at the next restart."
        );
    }
    let old: Vec<&str> = current
        .config
        .feeds
        .iter()
        .map(|f| f.url.as_str())
        .collect();
    let new: Vec<&str> = config.feeds.iter().map(|f| f.url.as_str()).collect();
    let added = new.iter().filter(|u| !old.contains(u)).count();
    let removed = old.iter().filter(|u| !new.contains(u)).count();
    let next = Pipeline::with_store(config, current.store.clone())?;
    tracing::info!(
        feeds = next.config.feeds.len(),
        added,
        removed,
        sinks = next.config.sinks.len(),
        "Config reloaded."
    );
    Ok(next)
}

/// Starts one generation of tasks (a feed task per feed, a delivery task per sink) under a
/// token of their own, a child of `shutdown`; cancelling it stops just this generation.
fn start_generation(
    pipeline: &Arc<Pipeline>,
    tracker: &TaskTracker,
    shutdown: &CancellationToken,
) -> CancellationToken {
    let generation = shutdown.child_token();
    let semaphore = Arc::new(Semaphore::new(pipeline.config.poll.concurrency));
    let hosts = Arc::new(Hosts::new(pipeline.config.poll.per_host));
    let wakers: Vec<Arc<Notify>> = pipeline
        .config
        .sinks
        .iter()
        .map(|_| Arc::new(Notify::new()))
        .collect();
    for feed in pipeline.config.feeds.clone() {
        tracker.spawn(feed_loop(
            Arc::clone(pipeline),
            feed,
            Arc::clone(&semaphore),
            Arc::clone(&hosts),
            wakers.clone(),
            generation.clone(),
        ));
    }
    for (sink, waker) in pipeline.config.sinks.iter().zip(&wakers) {
        tracker.spawn(delivery_loop(
            Arc::clone(pipeline),
            sink.clone(),
            Arc::clone(waker),
            generation.clone(),
        ));
    }
    generation
}

async fn feed_loop(
    pipeline: Arc<Pipeline>,
    feed: FeedConfig,
    semaphore: Arc<Semaphore>,
    hosts: Arc<Hosts>,
    wakers: Vec<Arc<Notify>>,
    shutdown: CancellationToken,
) {
    let host = host_of(&feed);
    // After a restart or reload, a feed polled recently waits for its recorded next poll
    // (at most one interval) instead of every feed polling at once.
    if let Some(wait) = recorded_wait(&pipeline, &feed) {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
    loop {
        if let Some(until) = hosts.quiet_until(&host) {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep_until(until) => {}
            }
        }
        let host_semaphore = hosts.semaphore(&host);
        let permits = tokio::select! {
            _ = shutdown.cancelled() => return,
            permits = async {
                let host_permit = host_semaphore.acquire_owned().await;
                let permit = Arc::clone(&semaphore).acquire_owned().await;
                (host_permit, permit)
            } => permits,
        };
        // Once started, a poll runs to its end (bounded by the poll timeout), so a
        // shutdown never leaves half a poll behind.
        let result = pipeline.poll_feed(&feed).await;
        drop(permits);
        log_poll(&feed, &result);
        if result.as_ref().is_ok_and(|report| report.queued > 0) {
            for waker in &wakers {
                waker.notify_one();
            }
        }
        let wait = schedule_next(&pipeline, &feed, &result);
        if throttled(&result) {
            // The host said it is overloaded: every feed on it waits, not only this one.
            hosts.slow_down(&host, wait);
            tracing::warn!(feed = %feed.name, host = %host, wait = %humantime::format_duration(wait), "Host is throttling; all its feeds wait.");
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// The time until a feed's next poll: its interval, stretched to the server's refresh hint
/// (Cache-Control max-age, RSS ttl); doubled per consecutive failure; never sooner than a
/// `Retry-After`; within `min_interval` and `max(interval, max_interval)`; with ±10% jitter
/// so feeds drift apart instead of polling in step.
pub fn next_poll_delay(
    feed: &FeedConfig,
    poll: &crate::config::PollConfig,
    state: &FeedState,
    retry_after: Option<Duration>,
) -> Duration {
    let ceiling = poll.max_interval.max(feed.interval);
    let hint = state.refresh_hint_secs.map(Duration::from_secs);
    let mut delay = feed.interval.max(hint.unwrap_or_default());
    if state.consecutive_failures > 0 {
        let doublings = (state.consecutive_failures - 1).min(10);
        delay = delay
            .saturating_mul(1u32 << doublings)
            .min(MAX_FEED_BACKOFF.max(feed.interval));
    }
    if let Some(asked) = retry_after {
        delay = delay.max(asked.min(ceiling));
    }
    let delay = if state.consecutive_failures > 0 {
        delay
    } else {
        delay.min(ceiling)
    };
    delay
        .mul_f64(0.9 + fastrand::f64() * 0.2)
        .max(poll.min_interval)
}

/// The `Retry-After` of a throttling answer (429, 503), if the server sent one.
fn asked_wait(result: &Result<FeedReport, FeedError>) -> Option<Duration> {
    match result {
        Err(FeedError::Poll(PollError::Status { retry_after, .. })) => *retry_after,
        _ => None,
    }
}

/// Whether a failure says the host is overloaded, so every feed on it should wait.
fn throttled(result: &Result<FeedReport, FeedError>) -> bool {
    matches!(
        result,
        Err(FeedError::Poll(PollError::Status {
            status: 429 | 503,
            ..
        }))
    )
}

/// Per-host politeness shared by every feed task: a limit on fetches in flight to one
/// host, and a time before which nobody fetches from a host that asked us to slow down.
#[derive(Debug, Default)]
struct Hosts {
    per_host: usize,
    limits: std::sync::Mutex<std::collections::HashMap<String, Arc<Semaphore>>>,
    quiet_until: std::sync::Mutex<std::collections::HashMap<String, tokio::time::Instant>>,
}

impl Hosts {
    fn new(per_host: usize) -> Hosts {
        Hosts {
            per_host: per_host.max(1),
            ..Hosts::default()
        }
    }

    fn semaphore(&self, host: &str) -> Arc<Semaphore> {
        let mut limits = self.limits.lock().expect("host limits lock");
        Arc::clone(
            limits
                .entry(host.to_string())
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_host))),
        )
    }

    fn quiet_until(&self, host: &str) -> Option<tokio::time::Instant> {
        let quiet = self.quiet_until.lock().expect("host quiet lock");
        quiet
            .get(host)
            .copied()
            .filter(|until| *until > tokio::time::Instant::now())
    }

    fn slow_down(&self, host: &str, wait: Duration) {
        let until = tokio::time::Instant::now() + wait;
        let mut quiet = self.quiet_until.lock().expect("host quiet lock");
        let entry = quiet.entry(host.to_string()).or_insert(until);
        *entry = (*entry).max(until);
    }
}

fn host_of(feed: &FeedConfig) -> String {
    feed.url.host_str().unwrap_or("(local)").to_string()
}

/// How long until a feed's recorded next poll, if that is in the future.
fn recorded_wait(pipeline: &Pipeline, feed: &FeedConfig) -> Option<Duration> {
    let state = pipeline.store.feed_state(feed.url.as_str()).ok()??;
    let wait = (state.next_poll? - Utc::now()).to_std().ok()?;
    Some(wait.min(feed.interval))
}

/// Works out when a feed is next due after a poll, records it (for `parleyd feeds` and a
/// restart), and returns the wait.
fn schedule_next(
    pipeline: &Pipeline,
    feed: &FeedConfig,
    result: &Result<FeedReport, FeedError>,
) -> Duration {
    let key = feed.url.as_str();
    let mut state = pipeline
        .store
        .feed_state(key)
        .ok()
        .flatten()
        .unwrap_or_default();
    let wait = next_poll_delay(feed, &pipeline.config.poll, &state, asked_wait(result));
    state.next_poll = chrono::Duration::from_std(wait)
        .ok()
        .map(|d| Utc::now() + d);
    if let Err(err) = pipeline.store.put_feed_state(key, &state) {
        tracing::warn!(feed = %feed.name, error = %err, "Could not record the next poll time.");
    }
    wait
}

async fn delivery_loop(
    pipeline: Arc<Pipeline>,
    sink: SinkConfig,
    waker: Arc<Notify>,
    shutdown: CancellationToken,
) {
    loop {
        if shutdown.is_cancelled() {
            return;
        }
        let wait = match pipeline.deliver(&sink).await {
            Ok(DeliveryReport {
                blocked_until: Some(until),
                ..
            }) => (until - Utc::now()).to_std().unwrap_or(Duration::ZERO),
            Ok(_) => match pipeline.store.pending(&sink.name) {
                Ok((_, Some(due))) => (due - Utc::now())
                    .to_std()
                    .unwrap_or(Duration::ZERO)
                    .min(IDLE_DELIVERY_CHECK),
                Ok((_, None)) => IDLE_DELIVERY_CHECK,
                Err(err) => {
                    tracing::error!(sink = %sink.name, error = %err, "Cannot read the outbox.");
                    IDLE_DELIVERY_CHECK
                }
            },
            Err(err) => {
                tracing::error!(sink = %sink.name, error = %err, "Delivery stopped by a store error.");
                IDLE_DELIVERY_CHECK
            }
        };
        if wait.is_zero() {
            // Entries are due right now (a batch boundary); yield and go on.
            tokio::task::yield_now().await;
            continue;
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = waker.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PollConfig;

    fn feed(interval: u64) -> FeedConfig {
        FeedConfig {
            url: url::Url::parse("https://news.example/rss").unwrap(),
            name: "n".into(),
            interval: Duration::from_secs(interval),
            alert_on_first_poll: false,
        }
    }

    fn within_jitter(delay: Duration, expected: u64) -> bool {
        let expected = expected as f64;
        let secs = delay.as_secs_f64();
        secs >= expected * 0.9 - 1e-6 && secs <= expected * 1.1 + 1e-6
    }

    #[test]
    fn a_healthy_feed_waits_its_interval_or_the_servers_hint() {
        let poll = PollConfig::default();
        let mut state = FeedState::default();
        assert!(within_jitter(
            next_poll_delay(&feed(300), &poll, &state, None),
            300
        ));
        state.refresh_hint_secs = Some(900);
        assert!(within_jitter(
            next_poll_delay(&feed(300), &poll, &state, None),
            900
        ));
        // A hint beyond max_interval (1h) is capped there.
        state.refresh_hint_secs = Some(86_400);
        assert!(within_jitter(
            next_poll_delay(&feed(300), &poll, &state, None),
            3600
        ));
    }

    #[test]
    fn failures_back_off_exponentially_to_a_cap_and_never_give_up() {
        let poll = PollConfig::default();
        let mut state = FeedState::default();
        let mut expected = 60;
        for failures in 1..=6 {
            state.consecutive_failures = failures;
            assert!(
                within_jitter(next_poll_delay(&feed(60), &poll, &state, None), expected),
                "{failures}"
            );
            expected *= 2;
        }
        state.consecutive_failures = 1000;
        let capped = next_poll_delay(&feed(60), &poll, &state, None);
        assert!(
            within_jitter(capped, MAX_FEED_BACKOFF.as_secs()),
            "{capped:?}"
        );
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_ceiling_and_the_floor_holds() {
        let poll = PollConfig {
            min_interval: Duration::from_secs(30),
            ..PollConfig::default()
        };
        let state = FeedState {
            consecutive_failures: 1,
            ..FeedState::default()
        };
        let asked = next_poll_delay(&feed(60), &poll, &state, Some(Duration::from_secs(600)));
        assert!(within_jitter(asked, 600));
        let huge = next_poll_delay(&feed(60), &poll, &state, Some(Duration::from_secs(86_400)));
        assert!(within_jitter(huge, 3600));
        let fast = next_poll_delay(&feed(1), &poll, &FeedState::default(), None);
        assert_eq!(fast, Duration::from_secs(30), "the floor");
    }
}
