//! Sets up logging: human lines on a terminal, JSON lines for log shippers, to stderr.

use crate::config::LogFormat;
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `RUST_LOG`, when set, wins over `level`.
/// Calling it twice is harmless (the second call does nothing).
pub fn init(level: &str, format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(filter_directive(level)))
        .unwrap_or_else(|_| EnvFilter::new("warn,parleyd=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().with_current_span(false).try_init(),
        LogFormat::Human => builder
            .with_ansi(std::io::stderr().is_terminal())
            .with_target(false)
            .try_init(),
    };
}

/// A bare level (`"debug"`) applies to parleyd only, with other crates at `warn`: their debug
/// output is noise to an operator, and HTTP libraries log request targets at that level.
/// A full filter (`"info,hyper=debug"`) is used as written.
fn filter_directive(level: &str) -> String {
    if level.contains('=') || level.contains(',') {
        level.to_string()
    } else {
        format!("warn,parleyd={level}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_levels_apply_to_parleyd_only() {
        assert_eq!(filter_directive("debug"), "warn,parleyd=debug");
        assert_eq!(filter_directive("info,sled=debug"), "info,sled=debug");
    }
}

/// Metric names, in one place; labels are feed and sink names from the config only.
pub mod metric {
    /// Polls by feed and outcome (`new`, `unchanged`, or an error kind).
    pub const POLLS: &str = "parleyd_polls_total";
    /// Time to fetch and process one poll, by feed.
    pub const POLL_SECONDS: &str = "parleyd_poll_duration_seconds";
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
}
