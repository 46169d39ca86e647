//! The single-table sections, `[storage]` to `[log]`, each with its defaults.
//!
//! `[storage]`, `[poll]`, `[classifier]`, `[delivery]`, `[server]` and `[log]`.

use super::keys::{CLASSIFIER_KEYS, DELIVERY_KEYS, LOG_KEYS, POLL_KEYS, SERVER_KEYS, STORAGE_KEYS};
use super::{Walker, join_key};
use crate::config::{
    ClassifierConfig, DEFAULT_CACHE_CAPACITY, DEFAULT_CONCURRENCY, DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_DELIVERY_TIMEOUT, DEFAULT_INTERVAL, DEFAULT_LISTEN, DEFAULT_MAX_ALERT_AGE,
    DEFAULT_MAX_ARTICLE_AGE, DEFAULT_MAX_ATTEMPTS, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_INTERVAL,
    DEFAULT_MAX_ITEMS, DEFAULT_MIN_INTERVAL, DEFAULT_PER_HOST, DEFAULT_RETENTION,
    DEFAULT_RETRY_BASE, DEFAULT_RETRY_MAX, DEFAULT_STORY_WINDOW, DEFAULT_TIMEOUT, DeliveryConfig,
    LogConfig, LogFormat, MAX_STORY_WINDOW, PollConfig, ProfileSource, ServerConfig, StorageConfig,
};
use std::path::PathBuf;
use std::time::Duration;
use toml::{Table, Value};

/// The default state directory, as systemd's `StateDirectory=parleyd` creates it.
const DEFAULT_STORAGE_PATH: &str = "/var/lib/parleyd";
/// Polling more often than this is never needed for news and looks like abuse to a host.
const MIN_INTERVAL: Duration = Duration::from_secs(1);

impl Walker<'_> {
    pub(super) fn storage(&mut self, table: Option<&Table>) -> StorageConfig {
        if let Some(table) = table {
            self.check_keys(table, "storage", STORAGE_KEYS);
        }
        let path = self
            .string(table, "storage", "path")
            .map(|raw| self.resolve_path(&raw))
            .unwrap_or_else(|| PathBuf::from(DEFAULT_STORAGE_PATH));
        StorageConfig {
            path,
            cache_capacity: self
                .byte_size(table, "storage", "cache_capacity")
                .unwrap_or(DEFAULT_CACHE_CAPACITY),
            retention: self
                .duration(table, "storage", "retention")
                .unwrap_or(DEFAULT_RETENTION),
        }
    }

    pub(super) fn poll(&mut self, table: Option<&Table>) -> PollConfig {
        if let Some(table) = table {
            self.check_keys(table, "poll", POLL_KEYS);
        }
        let interval = self.interval(table, "poll").unwrap_or(DEFAULT_INTERVAL);
        let concurrency = self
            .positive_int(table, "poll", "concurrency")
            .map(|n| n.min(4096) as usize)
            .unwrap_or(DEFAULT_CONCURRENCY);
        PollConfig {
            interval,
            timeout: self
                .duration(table, "poll", "timeout")
                .unwrap_or(DEFAULT_TIMEOUT),
            connect_timeout: self
                .duration(table, "poll", "connect_timeout")
                .unwrap_or(DEFAULT_CONNECT_TIMEOUT),
            concurrency,
            max_body_bytes: self
                .byte_size(table, "poll", "max_body_size")
                .unwrap_or(DEFAULT_MAX_BODY_BYTES),
            alert_on_first_poll: self
                .boolean(table, "poll", "alert_on_first_poll")
                .unwrap_or(false),
            max_article_age: self
                .duration(table, "poll", "max_article_age")
                .unwrap_or(DEFAULT_MAX_ARTICLE_AGE),
            min_interval: self
                .duration(table, "poll", "min_interval")
                .unwrap_or(DEFAULT_MIN_INTERVAL),
            max_interval: self
                .duration(table, "poll", "max_interval")
                .unwrap_or(DEFAULT_MAX_INTERVAL),
            per_host: self
                .positive_int(table, "poll", "per_host")
                .map(|n| n.min(256) as usize)
                .unwrap_or(DEFAULT_PER_HOST),
            max_items: self
                .positive_int(table, "poll", "max_items")
                .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
                .unwrap_or(DEFAULT_MAX_ITEMS),
        }
    }

    pub(super) fn interval(&mut self, table: Option<&Table>, prefix: &str) -> Option<Duration> {
        let interval = self.duration(table, prefix, "interval")?;
        if interval < MIN_INTERVAL {
            self.problem(
                join_key(prefix, "interval"),
                format!(
                    "{} is too short; the minimum is {}",
                    crate::duration::human(interval),
                    crate::duration::human(MIN_INTERVAL)
                ),
            );
            return None;
        }
        Some(interval)
    }

    pub(super) fn classifier(&mut self, table: Option<&Table>) -> ClassifierConfig {
        if let Some(table) = table {
            self.check_keys(table, "classifier", CLASSIFIER_KEYS);
        }
        let profile = match self.string(table, "classifier", "profile") {
            None => ProfileSource::Builtin(crate::profiles::DEFAULT_PROFILE.to_string()),
            Some(raw) => match raw.strip_prefix("builtin:") {
                Some(name) if crate::profiles::builtin_profile_text(name).is_some() => {
                    ProfileSource::Builtin(name.to_string())
                }
                Some(name) => {
                    self.problem(
                        "classifier.profile",
                        format!(
                            "no built-in profile `{name}` (built in: {})",
                            crate::profiles::BUILTIN_PROFILES.join(", ")
                        ),
                    );
                    ProfileSource::Builtin(crate::profiles::DEFAULT_PROFILE.to_string())
                }
                None => {
                    let path = self.resolve_path(&raw);
                    if !path.is_file() {
                        self.problem(
                            "classifier.profile",
                            format!("profile file {} does not exist", path.display()),
                        );
                    }
                    ProfileSource::Path(path)
                }
            },
        };
        let threshold = match table.and_then(|t| t.get("threshold")) {
            None => None,
            Some(Value::Float(value)) if (0.0..=1.0).contains(value) => Some(*value),
            Some(Value::Integer(value)) if (0..=1).contains(value) => Some(*value as f64),
            Some(other) => {
                self.problem(
                    "classifier.threshold",
                    format!("must be a number between 0 and 1, found {other}"),
                );
                None
            }
        };
        let story_window = match self.duration_or_zero(table, "classifier", "story_window") {
            Some(window) if window > MAX_STORY_WINDOW => {
                self.problem(
                    "classifier.story_window",
                    "must be at most 72h: a story takes no report 72 hours after it opens",
                );
                DEFAULT_STORY_WINDOW
            }
            other => other.unwrap_or(DEFAULT_STORY_WINDOW),
        };
        ClassifierConfig {
            profile,
            threshold,
            story_window,
        }
    }

    pub(super) fn delivery(&mut self, table: Option<&Table>) -> DeliveryConfig {
        if let Some(table) = table {
            self.check_keys(table, "delivery", DELIVERY_KEYS);
        }
        DeliveryConfig {
            max_attempts: self
                .positive_int(table, "delivery", "max_attempts")
                .map(|n| n.min(u64::from(u32::MAX)) as u32)
                .unwrap_or(DEFAULT_MAX_ATTEMPTS),
            retry_base: self
                .duration(table, "delivery", "retry_base")
                .unwrap_or(DEFAULT_RETRY_BASE),
            retry_max: self
                .duration(table, "delivery", "retry_max")
                .unwrap_or(DEFAULT_RETRY_MAX),
            timeout: self
                .duration(table, "delivery", "timeout")
                .unwrap_or(DEFAULT_DELIVERY_TIMEOUT),
            max_age: self
                .duration(table, "delivery", "max_age")
                .unwrap_or(DEFAULT_MAX_ALERT_AGE),
        }
    }

    pub(super) fn server(&mut self, table: Option<&Table>) -> ServerConfig {
        if let Some(table) = table {
            self.check_keys(table, "server", SERVER_KEYS);
        }
        let raw = self
            .string(table, "server", "listen")
            .unwrap_or_else(|| DEFAULT_LISTEN.to_string());
        if raw == "off" {
            return ServerConfig { listen: None };
        }
        match raw.parse::<std::net::SocketAddr>() {
            Ok(addr) => {
                if !addr.ip().is_loopback() {
                    tracing::debug!(%addr, "The status server listens beyond loopback.");
                }
                ServerConfig { listen: Some(addr) }
            }
            Err(_) => {
                self.problem(
                    "server.listen",
                    format!(
                        "`{raw}` is not an address and port such as \"127.0.0.1:9464\", or \"off\""
                    ),
                );
                ServerConfig { listen: None }
            }
        }
    }

    pub(super) fn log(&mut self, table: Option<&Table>) -> LogConfig {
        if let Some(table) = table {
            self.check_keys(table, "log", LOG_KEYS);
        }
        let format = match self.string(table, "log", "format").as_deref() {
            None | Some("human") => LogFormat::Human,
            Some("json") => LogFormat::Json,
            Some(other) => {
                self.problem(
                    "log.format",
                    format!("`{other}` is not a log format; use \"human\" or \"json\""),
                );
                LogFormat::Human
            }
        };
        let level = self
            .string(table, "log", "level")
            .unwrap_or_else(|| "info".to_string());
        // Only levels and target=level directives reach tracing-subscriber. The config_text
        // fuzzer found that 0.3.23 panics on some non-ASCII directives, and that a span
        // field filter (`x[{f=regex}]`) compiles its regex into a DFA that can take minutes
        // and gigabytes; neither is useful in a config file.
        if !is_plain_filter(&level) || tracing_subscriber::EnvFilter::try_new(&level).is_err() {
            self.problem(
                "log.level",
                format!(
                    "`{level}` is not a log level or filter; use a level (\"info\") or \
                     target=level pairs (\"info,parleyd=debug\"); span and field filters are \
                     not accepted"
                ),
            );
        }
        LogConfig { level, format }
    }
}

/// A filter made only of levels and `target=level` pairs: ASCII letters, digits, `_`, `:`,
/// `=`, `,`, `.`, `-` and spaces.
fn is_plain_filter(filter: &str) -> bool {
    filter
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_:=,.- ".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_filters_are_levels_and_target_pairs_only() {
        assert!(is_plain_filter("info"));
        assert!(is_plain_filter("warn,parleyd=debug,parleyd::poll=trace"));
        assert!(
            !is_plain_filter("parleyd[{feed=.*x}]=debug"),
            "field filters compile regexes"
        );
        assert!(!is_plain_filter("infö"));
    }
}
