//! The long-running feed and delivery loops of one config generation.
//!
//! A loop per feed waits for its schedule, polls and wakes the sinks; a loop per sink
//! delivers what is due, then sleeps until the next entry is due or a poll queues one. The
//! one poll path (permits, poll, log, schedule) is shared with `once`.

use super::pipeline::{FeedError, FeedReport, Pipeline};
use super::schedule::{Hosts, host_of, recorded_wait, schedule_next, throttled};
use crate::config::{FeedConfig, PollConfig, SinkConfig};
use crate::notify::DeliveryReport;
use crate::store::StoreError;
use chrono::Utc;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// A delivery worker with nothing queued checks the outbox this often anyway.
const IDLE_DELIVERY_CHECK: Duration = Duration::from_secs(60);

/// What bounds the polls of one generation (or one `once`): polls in flight overall, and
/// per host.
#[derive(Debug)]
pub(super) struct Limits {
    all: Arc<Semaphore>,
    hosts: Hosts,
}

impl Limits {
    pub(super) fn new(poll: &PollConfig) -> Limits {
        Limits {
            all: Arc::new(Semaphore::new(poll.concurrency)),
            hosts: Hosts::new(poll.per_host),
        }
    }
}

/// A poll's result and the wait until the feed is next due.
pub(super) type Polled = (Result<FeedReport, FeedError>, Duration);

/// One poll of one feed, the same for `once` and the feed loop: take the host's permit and
/// a global one, poll, log, record when the feed is next due. `None` when `shutdown` came
/// before the permits or during the fetch (the fetch is dropped at once, and nothing is
/// recorded); once the body is in, a poll runs to its end, so a shutdown never leaves
/// half a commit behind.
pub(super) async fn poll_and_schedule(
    pipeline: &Pipeline,
    feed: &FeedConfig,
    limits: &Limits,
    shutdown: &CancellationToken,
) -> Option<Polled> {
    if pipeline.store_failed() {
        return None;
    }
    let host_semaphore = limits.hosts.semaphore(&host_of(feed));
    let permits = tokio::select! {
        _ = shutdown.cancelled() => return None,
        permits = async {
            let host_permit = host_semaphore.acquire_owned().await;
            let permit = Arc::clone(&limits.all).acquire_owned().await;
            (host_permit, permit)
        } => permits,
    };
    // Boxed so that a task waiting for its permits (at a start, every feed but the first
    // few) or sleeping until its next poll holds a small future, not the whole fetch,
    // parse and commit state (about 1 KiB a feed, 5 MB at 5000 feeds; BENCHMARKS.md).
    let result = Box::pin(pipeline.poll_feed(feed, shutdown)).await;
    drop(permits);
    match &result {
        Err(FeedError::Cancelled { .. }) => {
            tracing::debug!(feed = %feed.name, "Fetch cancelled by shutdown.");
            return None;
        }
        Err(FeedError::Store { cause, .. }) if cause.is_io() => {
            note_store_failure(pipeline, cause);
            return None;
        }
        _ => {}
    }
    log_poll(feed, &result);
    let wait = schedule_next(pipeline, feed, &result);
    Some((result, wait))
}

/// A write to the store failed: polls and deliveries wait. Logged once, when the store
/// starts failing; the daemon's health check decides what it means and logs it once per
/// check from then on.
fn note_store_failure(pipeline: &Pipeline, err: &StoreError) {
    if pipeline.set_store_failed(true) {
        let cause = pipeline.store().unwritable(err);
        tracing::warn!(error = %cause, "A store write failed: polls and deliveries wait for the store's health check.");
    } else {
        tracing::debug!(error = %err, "Store write failed while the store is failing.");
    }
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
            remembered = report.remembered,
            "Feed polled."
        ),
        Err(err) => {
            tracing::warn!(feed = %feed.name, kind = err.kind(), error = %err, "Feed poll failed; will retry.")
        }
    }
}

/// Starts one generation of tasks (a feed task per feed, a delivery task per sink) under a
/// token of their own, a child of `shutdown`; cancelling it stops just this generation.
pub(super) fn start_generation(
    pipeline: &Arc<Pipeline>,
    tracker: &TaskTracker,
    shutdown: &CancellationToken,
) -> CancellationToken {
    let generation = shutdown.child_token();
    let limits = Arc::new(Limits::new(&pipeline.config().poll));
    let wakers: Vec<Arc<Notify>> = pipeline
        .config()
        .sinks
        .iter()
        .map(|_| Arc::new(Notify::new()))
        .collect();
    for feed in pipeline.config().feeds.clone() {
        tracker.spawn(feed_loop(
            Arc::clone(pipeline),
            feed,
            Arc::clone(&limits),
            wakers.clone(),
            generation.clone(),
        ));
    }
    for (sink, waker) in pipeline.config().sinks.iter().zip(&wakers) {
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
    limits: Arc<Limits>,
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
        if let Some(until) = limits.hosts.quiet_until(&host) {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep_until(until) => {}
            }
        }
        let Some((result, wait)) = poll_and_schedule(&pipeline, &feed, &limits, &shutdown).await
        else {
            if shutdown.is_cancelled() {
                return;
            }
            // The store takes no writes: nothing a poll did could be saved. Wait for it,
            // fetching nothing (the daemon's health check decides what happens).
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(feed.interval) => {}
            }
            continue;
        };
        if result.as_ref().is_ok_and(|report| report.queued > 0) {
            for waker in &wakers {
                waker.notify_one();
            }
        }
        if throttled(&result) {
            // The host said it is overloaded: every feed on it waits, not only this one.
            limits.hosts.slow_down(&host, wait);
            tracing::warn!(feed = %feed.name, host = %host, wait = %crate::duration::human(wait), "Host is throttling; all its feeds wait.");
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
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
        if pipeline.store_failed() {
            // A send could not be recorded, so the alert would go again after a restart:
            // pending alerts stay in the outbox, on disk, until the store takes writes.
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(IDLE_DELIVERY_CHECK) => {}
            }
            continue;
        }
        let wait = match pipeline.deliver(&sink).await {
            Ok(DeliveryReport {
                blocked_until: Some(until),
                ..
            }) => (until - Utc::now()).to_std().unwrap_or(Duration::ZERO),
            Ok(_) => match pipeline.store().pending(&sink.name) {
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
            Err(err) if err.is_io() => {
                note_store_failure(&pipeline, &err);
                IDLE_DELIVERY_CHECK
            }
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
    use crate::config::Config;

    /// A pipeline with one `file://` feed that does not exist, so every poll fails without
    /// a socket (paused time and real sockets do not mix).
    fn failing_feed_pipeline(dir: &std::path::Path) -> Arc<Pipeline> {
        let feed = url::Url::from_file_path(dir.join("missing.xml")).unwrap();
        let text = format!(
            "[storage]\npath = \"{}\"\n[server]\nlisten = \"off\"\n\
             [[feeds]]\nurl = \"{feed}\"\ninterval = \"1m\"\n",
            dir.join("store").display()
        );
        let config =
            Config::from_str_with_env(&text, &dir.join("parleyd.toml"), &|_| None).unwrap();
        Arc::new(Pipeline::new(config).unwrap())
    }

    fn failures(pipeline: &Pipeline) -> u32 {
        let url = pipeline.config().feeds[0].url.as_str();
        let state = pipeline.store().feed_state(url).unwrap();
        state.map_or(0, |state| state.consecutive_failures)
    }

    /// Lets the runtime work, a millisecond of paused time at a step, until `check` holds;
    /// fails the test if that takes longer than `limit`.
    async fn until(limit: Duration, mut check: impl FnMut() -> bool) {
        let start = tokio::time::Instant::now();
        while !check() {
            assert!(start.elapsed() < limit, "not within {limit:?}");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_feed_is_retried_when_its_back_off_says_and_not_before() {
        let dir = tempfile::tempdir().unwrap();
        let pipeline = failing_feed_pipeline(dir.path());
        let tracker = TaskTracker::new();
        let shutdown = CancellationToken::new();
        start_generation(&pipeline, &tracker, &shutdown);
        // A feed with no recorded state polls at once.
        until(Duration::from_millis(100), || failures(&pipeline) == 1).await;
        let slack = Duration::from_millis(20);
        for failed in 1..=4u32 {
            let url = pipeline.config().feeds[0].url.as_str();
            let state = pipeline.store().feed_state(url).unwrap().unwrap();
            let recorded = (state.next_poll.unwrap() - state.last_attempt.unwrap())
                .to_std()
                .unwrap();
            // One minute doubled per failure after the first, give or take the 10% jitter.
            let expected = 60.0 * f64::from(1u32 << (failed - 1));
            let secs = recorded.as_secs_f64();
            assert!(
                (expected * 0.9 - 0.01..=expected * 1.1 + 0.01).contains(&secs),
                "after {failed} failures the wait was {recorded:?}"
            );
            tokio::time::advance(recorded - slack).await;
            assert_eq!(failures(&pipeline), failed, "retried early");
            until(slack * 2, || failures(&pipeline) == failed + 1).await;
        }
        shutdown.cancel();
        tracker.close();
        tracker.wait().await;
    }
}
