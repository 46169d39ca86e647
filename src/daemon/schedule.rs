//! When a feed is next polled, and per-host politeness.
//!
//! The delay comes from the interval, server hints, back-off, `Retry-After` and jitter;
//! politeness is a limit on fetches in flight per host and quiet periods a host asked for.

use super::pipeline::{FeedError, FeedReport, Pipeline};
use crate::config::{FeedConfig, PollConfig};
use crate::poll::PollError;
use crate::store::FeedState;
use crate::sync::lock;
use chrono::Utc;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;

/// The longest a failing feed waits between attempts: it is never given up on.
const MAX_FEED_BACKOFF: Duration = Duration::from_secs(6 * 3600);

/// The time until a feed's next poll: its interval, stretched to the server's refresh hint
/// (Cache-Control max-age, RSS ttl); doubled per consecutive failure; never sooner than a
/// `Retry-After`; within `min_interval` and `max(interval, max_interval)`; with ±10% jitter
/// so feeds drift apart instead of polling in step.
pub fn next_poll_delay(
    feed: &FeedConfig,
    poll: &PollConfig,
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
pub(super) fn throttled(result: &Result<FeedReport, FeedError>) -> bool {
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
pub(super) struct Hosts {
    per_host: usize,
    limits: Mutex<HashMap<String, Arc<Semaphore>>>,
    quiet_until: Mutex<HashMap<String, tokio::time::Instant>>,
}

impl Hosts {
    pub(super) fn new(per_host: usize) -> Hosts {
        Hosts {
            per_host: per_host.max(1),
            ..Hosts::default()
        }
    }

    /// The semaphore that bounds fetches in flight to `host`.
    pub(super) fn semaphore(&self, host: &str) -> Arc<Semaphore> {
        let mut limits = lock(&self.limits);
        Arc::clone(
            limits
                .entry(host.to_string())
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_host))),
        )
    }

    /// When `host` may be fetched from again, if it asked us to wait.
    pub(super) fn quiet_until(&self, host: &str) -> Option<tokio::time::Instant> {
        lock(&self.quiet_until)
            .get(host)
            .copied()
            .filter(|until| *until > tokio::time::Instant::now())
    }

    /// Nobody fetches from `host` for `wait` (or longer, if it already asked for longer).
    pub(super) fn slow_down(&self, host: &str, wait: Duration) {
        let until = tokio::time::Instant::now() + wait;
        let mut quiet = lock(&self.quiet_until);
        let entry = quiet.entry(host.to_string()).or_insert(until);
        *entry = (*entry).max(until);
    }
}

/// The host part of a feed's URL, the unit of politeness.
pub(super) fn host_of(feed: &FeedConfig) -> String {
    feed.url.host_str().unwrap_or("(local)").to_string()
}

/// How long until a feed's recorded next poll, if that is in the future.
pub(super) fn recorded_wait(pipeline: &Pipeline, feed: &FeedConfig) -> Option<Duration> {
    let state = pipeline.store().feed_state(feed.url.as_str()).ok()??;
    let wait = (state.next_poll? - Utc::now()).to_std().ok()?;
    Some(wait.min(feed.interval))
}

/// Works out when a feed is next due after a poll, records it (for `parleyd feeds` and a
/// restart), and returns the wait; or only returns it, when the poll recorded it already.
pub(super) fn schedule_next(
    pipeline: &Pipeline,
    feed: &FeedConfig,
    result: &Result<FeedReport, FeedError>,
) -> Duration {
    if let Ok(FeedReport {
        scheduled: Some(wait),
        ..
    }) = result
    {
        return *wait;
    }
    let key = feed.url.as_str();
    let store = pipeline.store();
    let mut state = store.feed_state(key).ok().flatten().unwrap_or_default();
    let wait = next_poll_delay(feed, &pipeline.config().poll, &state, asked_wait(result));
    state.schedule(
        chrono::Duration::from_std(wait)
            .ok()
            .map(|d| Utc::now() + d),
    );
    if let Err(err) = store.put_feed_state(key, &state) {
        tracing::warn!(feed = %feed.name, error = %err, "Could not record the next poll time.");
    }
    wait
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[tokio::test(start_paused = true)]
    async fn a_host_that_asked_for_quiet_gets_it_exactly_and_only_it() {
        let hosts = Hosts::new(2);
        hosts.slow_down("busy.example", Duration::from_secs(3));
        // A shorter request later does not cut the quiet short.
        tokio::time::advance(Duration::from_secs(1)).await;
        hosts.slow_down("busy.example", Duration::from_secs(1));
        let until = hosts.quiet_until("busy.example").expect("quiet");
        assert_eq!(until - tokio::time::Instant::now(), Duration::from_secs(2));
        assert_eq!(hosts.quiet_until("calm.example"), None, "other hosts go on");
        tokio::time::advance(Duration::from_millis(1999)).await;
        assert!(hosts.quiet_until("busy.example").is_some());
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(
            hosts.quiet_until("busy.example"),
            None,
            "over at exactly 3 s"
        );
    }
}
