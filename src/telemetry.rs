//! Sets up logging: human lines on a terminal, JSON lines for log shippers, to stderr.

use crate::config::LogFormat;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `RUST_LOG`, when set, wins over `level`.
/// Calling it twice is harmless (the second call does nothing).
pub fn init(level: &str, format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(filter_directive(level)))
        .unwrap_or_else(|_| EnvFilter::new("warn,sled=off,parleyd=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| LossyStderr)
        // The fmt layer's own report of a failed write is an `eprintln!`, which panics the
        // task that was logging when stderr is unwritable; `LossyStderr` never reports one.
        .log_internal_errors(false);
    let _ = match format {
        LogFormat::Json => builder.json().with_current_span(false).try_init(),
        LogFormat::Human => builder
            .with_ansi(std::io::stderr().is_terminal())
            .with_target(false)
            .try_init(),
    };
}

/// Log lines that could not be written since the process started.
static FAILED_WRITES: AtomicU64 = AtomicU64::new(0);

/// How many log lines could not be written (stderr closed, full or a pipe nobody reads).
pub fn failed_log_writes() -> u64 {
    FAILED_WRITES.load(Ordering::Relaxed)
}

/// stderr for the log, where a failed write is counted and dropped. A log line is never
/// worth a task: with `parleyd run 2>&1 | head -2` or a full disk under the log file, an
/// error here would otherwise end whichever task was logging, the signal task included.
struct LossyStderr;

impl Write for LossyStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if std::io::stderr().write_all(buf).is_err() {
            FAILED_WRITES.fetch_add(1, Ordering::Relaxed);
            metrics::counter!(metric::LOG_WRITES_FAILED).increment(1);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _ = std::io::stderr().flush();
        Ok(())
    }
}

/// A bare level (`"debug"`) applies to parleyd only, with other crates at `warn`: their debug
/// output is noise to an operator, and HTTP libraries log request targets at that level.
/// sled is off: once a write fails (a full disk) its flusher logs the same error twice a
/// second, and every sled failure reaches the log once through parleyd's own messages. A
/// full filter (`"info,hyper=debug"`) is used as written.
fn filter_directive(level: &str) -> String {
    if level.contains('=') || level.contains(',') {
        level.to_string()
    } else {
        format!("warn,sled=off,parleyd={level}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_levels_apply_to_parleyd_only() {
        assert_eq!(filter_directive("debug"), "warn,sled=off,parleyd=debug");
        assert_eq!(filter_directive("info,sled=debug"), "info,sled=debug");
    }
}

/// Metric names, in one place; labels are feed and sink names from the config only.
pub mod metric {
    /// Polls by feed and outcome (`new`, `unchanged`, or an error kind).
    pub const POLLS: &str = "parleyd_polls_total";
    /// Time to fetch and process one poll, by feed.
    pub const POLL_SECONDS: &str = "parleyd_poll_duration_seconds";
    /// The upper bounds of [`POLL_SECONDS`]'s histogram buckets. Fixed buckets cost a few
    /// hundred bytes a feed; without them the exporter keeps each feed's durations as a
    /// summary of rolling sketches, tens of KB a feed once samples are folded in (the
    /// daemon passed 500 MB at 5000 feeds; BENCHMARKS.md, "The daemon's steady state").
    pub const POLL_SECONDS_BUCKETS: &[f64] =
        &[0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
    /// Articles stored for the first time, by feed.
    pub const ARTICLES_NEW: &str = "parleyd_articles_new_total";
    /// Classifier verdicts on new articles, by `relevant`.
    pub const VERDICTS: &str = "parleyd_verdicts_total";
    /// Alerts queued (new stories).
    pub const ALERTS_QUEUED: &str = "parleyd_alerts_queued_total";
    /// Alerts delivered, by sink.
    pub const ALERTS_SENT: &str = "parleyd_alerts_sent_total";
    /// Delivery attempts that failed and will be retried, by sink.
    pub const ALERTS_RETRIED: &str = "parleyd_alerts_retried_total";
    /// Alerts moved to the dead-letter list, by sink.
    pub const ALERTS_DEAD: &str = "parleyd_alerts_dead_total";
    /// Alerts waiting in the outbox, by sink.
    pub const OUTBOX_DEPTH: &str = "parleyd_outbox_depth";
    /// Stories alerted in the story window.
    pub const STORIES: &str = "parleyd_stories";
    /// The store's size on disk.
    pub const STORE_BYTES: &str = "parleyd_store_size_bytes";
    /// Log lines dropped because stderr could not be written.
    pub const LOG_WRITES_FAILED: &str = "parleyd_log_writes_failed_total";
}
