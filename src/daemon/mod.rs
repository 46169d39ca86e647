//! Wires the stages together and owns every task: `once` (one cycle, for cron and tests)
//! and `run` (each feed on its own schedule, one delivery worker per sink, until shutdown).
//!
//! A poll of one feed goes fetch → parse → classify the articles not yet stored → one store
//! transaction → flush, and only then wakes the delivery workers, so no alert leaves before
//! the article that raised it is durable. One feed's or sink's failure is logged, counted and
//! backed off; it never stops the others.
//!
//! One file per job: `pipeline` (one feed's poll, one sink's delivery round), `schedule`
//! (when a feed is next due, per-host limits), `workers` (the feed and delivery loops, and
//! the poll path `once` shares with them), `reload` (a new config on the running store) and
//! `systemd` (service manager notifications). This file wires them: [`once`] and [`run`].

mod pipeline;
mod reload;
mod schedule;
mod systemd;
mod workers;

pub use pipeline::{FeedError, FeedReport, Pipeline, STORY_WINDOW};
pub use schedule::next_poll_delay;

use crate::classify::ProfileError;
use crate::config::Config;
use crate::notify::NotifierError;
use crate::poll::PollError;
use crate::store::StoreError;
use chrono::Utc;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use workers::{Limits, poll_and_schedule, start_generation};

/// How long shutdown waits for in-flight polls and sends before giving up on them. Both are
/// bounded by their own timeouts, so this is only reached if something is badly stuck.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(60);
/// Health checks in a row that must find the store taking no writes before the daemon
/// stops. More than one, in case an error passes; few, since a sled store that failed a
/// write never takes one again while it stays open.
const STORE_FAULT_CHECKS: u32 = 3;
/// How soon a failed health check is repeated (or the watchdog's ping interval, if
/// shorter), so the daemon stops well within systemd's `WatchdogSec`.
const STORE_RECHECK: Duration = Duration::from_secs(5);
/// How often old articles are pruned, by the daemon or by a run of `once`.
const PRUNE_EVERY: Duration = Duration::from_secs(6 * 3600);
/// How often `run` hands the allocator's free pages back to the OS.
const TRIM_EVERY: Duration = Duration::from_secs(60);

/// Why the pipeline could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The profile could not be loaded.
    /// (Not `#[from]`, which would make it the `source()` too and print it twice.)
    #[error("classifier profile: {0}")]
    Profile(ProfileError),
    /// The feed fetcher's HTTP client could not be built.
    #[error(transparent)]
    Poller(#[from] PollError),
    /// The sinks' HTTP client could not be built.
    #[error(transparent)]
    Notifier(#[from] NotifierError),
}

impl From<ProfileError> for StartError {
    fn from(err: ProfileError) -> StartError {
        StartError::Profile(err)
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
    prepare_store(&pipeline).await?;
    let limits = Arc::new(Limits::new(&pipeline.config().poll));
    // Never cancelled: `once` runs every poll to its end.
    let no_shutdown = CancellationToken::new();
    let mut tasks = tokio::task::JoinSet::new();
    for feed in pipeline.config().feeds.clone() {
        let pipeline = Arc::clone(&pipeline);
        let limits = Arc::clone(&limits);
        let no_shutdown = no_shutdown.clone();
        tasks
            .spawn(async move { poll_and_schedule(&pipeline, &feed, &limits, &no_shutdown).await });
    }
    let mut report = OnceReport::default();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Some((Ok(feed_report), _))) => {
                report.feeds_ok += 1;
                report.new_articles += feed_report.new;
                report.queued += feed_report.queued;
            }
            Ok(_) | Err(_) => report.feeds_failed += 1,
        }
    }
    // Sinks deliver side by side, so a sink that hangs until its timeout delays no other.
    let mut deliveries = tokio::task::JoinSet::new();
    for sink in pipeline.config().sinks.clone() {
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
    if let Err(err) = close_store(pipeline.store()).await {
        tracing::error!(error = %err, "Final flush failed.");
        report.delivery_failed += 1;
    }
    Ok(report)
}

/// Runs until `shutdown` is cancelled: each feed polls on its own schedule, each sink
/// delivers as alerts arrive. A config arriving on `reloads` (already validated) replaces
/// the running one: the feed and delivery tasks of the old one stop (a fetch in flight is
/// dropped, a commit or send in progress finishes), new ones start on the same store, so
/// feeds that stay keep their state and a dropped fetch is simply polled again. On
/// shutdown no new poll or send starts, fetches in flight are dropped, commits and sends
/// in progress finish, the store is closed, and the function returns.
///
/// # Errors
/// [`StartError`] if the pipeline cannot start, or [`StoreError::Unwritable`] when the
/// store stopped taking writes while running (see `StoreHealth`).
pub async fn run(
    config: Config,
    mut reloads: tokio::sync::mpsc::Receiver<Config>,
    shutdown: CancellationToken,
) -> Result<(), StartError> {
    let mut pipeline = Arc::new(Pipeline::new(config)?);
    prepare_store(&pipeline).await?;
    // Cancelled on shutdown, and by the daemon itself when the store stops taking writes.
    let stop = shutdown.child_token();
    let tracker = TaskTracker::new();
    let (current, watched) = tokio::sync::watch::channel(pipeline.status_view());
    if let Some(addr) = pipeline.config().server.listen {
        let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
            .set_buckets(crate::telemetry::metric::POLL_SECONDS_BUCKETS)
            .and_then(|builder| builder.install_recorder())
            .map_err(|err| tracing::warn!(error = %err, "Metrics are off: no recorder."))
            .ok();
        tracker.spawn(crate::server::serve(addr, watched, metrics, stop.clone()));
    }
    let mut generation = start_generation(&pipeline, &tracker, &stop);
    let mut prune = tokio::time::interval(PRUNE_EVERY);
    prune.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut trim = tokio::time::interval(TRIM_EVERY);
    trim.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut health = StoreHealth::new(systemd::ping_interval());
    systemd::ready(&status_line(&pipeline));
    tracing::info!(
        feeds = pipeline.config().feeds.len(),
        sinks = pipeline.config().sinks.len(),
        store = %pipeline.store().path().display(),
        "parleyd is running."
    );
    let mut fault = None;
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = prune.tick() => {
                if !pipeline.store_failed() {
                    prune_store(&pipeline);
                }
            }
            _ = trim.tick() => release_freed_memory(),
            // The watchdog is fed from this loop, and only while the store takes writes, so
            // a hung loop or a broken store gets the daemon restarted.
            _ = tokio::time::sleep_until(health.next_check) => {
                if let Err(err) = health.check(&pipeline) {
                    fault = Some(err);
                    stop.cancel();
                    break;
                }
            }
            Some(config) = reloads.recv() => {
                systemd::reloading();
                match reload::reload(&pipeline, config) {
                    Ok(next) => {
                        generation.cancel();
                        pipeline = Arc::new(next);
                        if let Err(err) = pipeline.remember_feeds(Utc::now()).await {
                            tracing::error!(error = %err, "Cannot record when the added feeds were first known.");
                        }
                        current.send_replace(pipeline.status_view());
                        generation = start_generation(&pipeline, &tracker, &stop);
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
            grace = %crate::duration::human(SHUTDOWN_GRACE),
            "Some tasks did not finish in time; their work will be redone at the next start."
        );
        if fault.is_none() {
            // Still writing: flushed, but not marked closed cleanly, since the counts the
            // mark records could still change.
            pipeline.store().flush().await?;
            return Ok(());
        }
    }
    if let Some(fault) = fault {
        // Nothing more can be written; what is on disk (pending alerts included) is what
        // the next start finds.
        return Err(StartError::Store(fault));
    }
    close_store(pipeline.store()).await?;
    tracing::info!("Store flushed; stopped.");
    Ok(())
}

/// Hands the allocator's free pages back to the OS. glibc returns by itself only the top
/// of its main heap; what a burst freed below live blocks (the first poll of every feed,
/// a reload) stays resident for good: at 20,000 feeds 50 MB of a 133 MB daemon after its
/// first poll (BENCHMARKS.md, "The daemon's steady state"). A trim walks the free lists
/// and releases whole free pages inside them, a few milliseconds a minute.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn release_freed_memory() {
    // SAFETY: malloc_trim only releases pages of free chunks, under the allocator's own
    // locks; no memory Rust holds is touched.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn release_freed_memory() {}

/// Flushes the store and marks it closed cleanly, off the async workers (a flush blocks).
async fn close_store(store: &crate::store::Store) -> Result<(), StoreError> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || store.close())
        .await
        .map_err(|join_error| StoreError::Io {
            operation: "close",
            cause: sled::Error::Io(std::io::Error::other(join_error)),
        })?
}

/// Before the first poll: records when the store first knew each configured feed (see
/// [`Pipeline::remember_feeds`]) and proves the store takes a write that reaches the
/// disk. A store that cannot cannot take a poll either (a disk still full after a
/// restart), so parleyd does not start, and says why.
async fn prepare_store(pipeline: &Pipeline) -> Result<(), StartError> {
    let store = pipeline.store();
    let ready = async {
        pipeline.remember_feeds(Utc::now()).await?;
        store.check()?;
        store.flush().await
    };
    ready.await.map_err(|err| match err.is_io() {
        true => StartError::Store(store.unwritable(&err)),
        false => StartError::Store(err),
    })
}

/// The main loop's health check of the store, the one place that decides what a store
/// that stopped taking writes means for the daemon. sled refuses every write after one
/// failed on disk (a full disk) until the store is opened again, so the daemon cannot
/// recover in place: it reports the fault, checks again a few times in case the error was
/// a passing one, and then stops with a message, for systemd (`Restart=on-failure`) or
/// the operator to start it again once there is room.
#[derive(Debug)]
struct StoreHealth {
    /// When the next check is due.
    next_check: tokio::time::Instant,
    /// The time between checks while the store is healthy (the watchdog's ping interval).
    every: Duration,
    /// Checks in a row that found the store failing.
    failed: u32,
}

impl StoreHealth {
    fn new(every: Duration) -> StoreHealth {
        StoreHealth {
            next_check: tokio::time::Instant::now() + every,
            every,
            failed: 0,
        }
    }

    /// One check: a store that takes writes feeds the watchdog (and ends a failure); one
    /// that does not is logged once per check, shown in `systemctl status` and not fed to
    /// the watchdog; the readiness probe sees the same failure. After
    /// [`STORE_FAULT_CHECKS`] failed checks in a row, returns the error to stop with.
    fn check(&mut self, pipeline: &Pipeline) -> Result<(), StoreError> {
        let store = pipeline.store();
        match store.check() {
            Ok(()) => {
                let was_failing = pipeline.set_store_failed(false) || self.failed > 0;
                if was_failing {
                    tracing::info!("The store takes writes again; polls and deliveries go on.");
                }
                self.failed = 0;
                self.next_check = tokio::time::Instant::now() + self.every;
                systemd::alive(&status_line(pipeline));
                Ok(())
            }
            Err(err) => {
                let fault = store.unwritable(&err);
                pipeline.set_store_failed(true);
                self.failed += 1;
                self.next_check = tokio::time::Instant::now() + self.every.min(STORE_RECHECK);
                systemd::failing(&format!("{}", StatusCause(&fault)));
                if self.failed >= STORE_FAULT_CHECKS {
                    return Err(fault);
                }
                tracing::error!(
                    error = %fault,
                    check = self.failed,
                    of = STORE_FAULT_CHECKS,
                    "Storage failed: polls and deliveries wait, readiness is off and the watchdog is not fed; parleyd stops if the store still takes no writes."
                );
                Ok(())
            }
        }
    }
}

/// A store fault as a short `systemctl status` line.
struct StatusCause<'a>(&'a StoreError);

impl std::fmt::Display for StatusCause<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_storage_full() {
            write!(f, "storage full: the store takes no writes")
        } else {
            write!(f, "storage failed: the store takes no writes")
        }
    }
}

/// One line for `systemctl status`: feeds, failing feeds, alerts waiting.
fn status_line(pipeline: &Pipeline) -> String {
    let (config, store) = (pipeline.config(), pipeline.store());
    let failing = config
        .feeds
        .iter()
        .filter(|feed| {
            store
                .feed_state(feed.url.as_str())
                .ok()
                .flatten()
                .is_some_and(|state| state.consecutive_failures > 0)
        })
        .count();
    let pending: usize = config
        .sinks
        .iter()
        .filter_map(|sink| store.pending(&sink.name).ok())
        .map(|(count, _)| count)
        .sum();
    format!(
        "{} feeds ({failing} failing), {pending} alerts pending",
        config.feeds.len()
    )
}

/// Prunes what is past `storage.retention`, if it is due; a failure is logged and retried
/// next time.
fn prune_store(pipeline: &Pipeline) {
    let retention = chrono::Duration::from_std(pipeline.config().storage.retention)
        .unwrap_or(chrono::Duration::days(30));
    let now = Utc::now();
    match pipeline
        .store()
        .prune_if_due(now - retention, PRUNE_EVERY, now)
    {
        Ok(None | Some(0)) => {}
        Ok(Some(pruned)) => tracing::info!(pruned, "Old articles pruned."),
        Err(err) => tracing::warn!(error = %err, "Pruning failed; will retry."),
    }
}
