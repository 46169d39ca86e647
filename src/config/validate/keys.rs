//! Which keys each table may hold; any other key is reported with a did-you-mean.
//!
//! Also the shape checks for `[section]` and `[[list]]` tables.

use super::{Walker, join_key};
use toml::{Table, Value};

pub(super) const TOP_KEYS: &[&str] = &[
    "storage",
    "poll",
    "classifier",
    "delivery",
    "log",
    "server",
    "feeds",
    "sinks",
];
pub(super) const STORAGE_KEYS: &[&str] = &["path", "cache_capacity", "retention"];
pub(super) const POLL_KEYS: &[&str] = &[
    "interval",
    "timeout",
    "connect_timeout",
    "concurrency",
    "max_body_size",
    "alert_on_first_poll",
    "max_article_age",
    "min_interval",
    "max_interval",
    "per_host",
    "max_items",
];
pub(super) const CLASSIFIER_KEYS: &[&str] = &["profile", "threshold", "story_window"];
pub(super) const DELIVERY_KEYS: &[&str] = &[
    "max_attempts",
    "retry_base",
    "retry_max",
    "timeout",
    "max_age",
];
pub(super) const LOG_KEYS: &[&str] = &["level", "format"];
pub(super) const FEED_KEYS: &[&str] = &["url", "name", "interval", "alert_on_first_poll"];
/// Every key a `[[sinks]]` table may hold; which of them a kind takes is [`kind_keys`].
pub(super) const SINK_KEYS: &[&str] = &[
    "kind",
    "name",
    "url",
    "format",
    "secret",
    "mention",
    "token",
    "priority",
    "host",
    "port",
    "tls",
    "username",
    "password",
    "from",
    "to",
    "ca_file",
    "min_score",
    "feeds",
    "events",
    "flood_limit",
    "flood_window",
];
/// The keys every sink takes: its kind, name, route and flood guard.
pub(super) const COMMON_SINK_KEYS: &[&str] = &[
    "kind",
    "name",
    "min_score",
    "feeds",
    "events",
    "flood_limit",
    "flood_window",
];

/// The keys of one sink kind besides the common ones; `None` for an unknown kind.
pub(super) fn kind_keys(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "stdout" => &["format"],
        "slack" => &["url", "mention"],
        "webhook" => &["url", "secret"],
        "discord" => &["url", "mention"],
        "teams" => &["url"],
        "ntfy" => &["url", "token", "priority"],
        "email" => &[
            "host", "port", "tls", "username", "password", "from", "to", "ca_file",
        ],
        _ => return None,
    })
}
pub(super) const SERVER_KEYS: &[&str] = &["listen"];
pub(super) const SINK_KINDS: &[&str] = &[
    "stdout", "slack", "webhook", "discord", "teams", "ntfy", "email",
];

impl Walker<'_> {
    /// Reports keys that are not in `allowed`, with a suggestion when one is close.
    pub(super) fn check_keys(&mut self, table: &Table, prefix: &str, allowed: &[&str]) {
        for key in table.keys() {
            if allowed.contains(&key.as_str()) {
                continue;
            }
            let suggestion = allowed
                .iter()
                .map(|candidate| (strsim::levenshtein(key, candidate), candidate))
                .filter(|(distance, _)| *distance <= 2)
                .min();
            let why = match suggestion {
                Some((_, candidate)) => format!("unknown key (did you mean `{candidate}`?)"),
                None => format!("unknown key (expected one of: {})", allowed.join(", ")),
            };
            self.problem(join_key(prefix, key), why);
        }
    }

    /// A `[section]` table, or an empty one if absent; a non-table is a problem.
    pub(super) fn section<'t>(&mut self, table: &'t Table, name: &str) -> Option<&'t Table> {
        match table.get(name) {
            None => None,
            Some(Value::Table(section)) => Some(section),
            Some(other) => {
                self.problem(
                    name,
                    format!("must be a table (`[{name}]`), found {}", other.type_str()),
                );
                None
            }
        }
    }

    pub(super) fn array_of_tables<'t>(
        &mut self,
        value: Option<&'t Value>,
        name: &str,
    ) -> Vec<&'t Table> {
        match value {
            None => Vec::new(),
            Some(Value::Array(items)) => {
                let mut tables = Vec::with_capacity(items.len());
                for (index, item) in items.iter().enumerate() {
                    match item {
                        Value::Table(table) => tables.push(table),
                        other => self.problem(
                            format!("{name}[{index}]"),
                            format!("must be a table (`[[{name}]]`), found {}", other.type_str()),
                        ),
                    }
                }
                tables
            }
            Some(other) => {
                self.problem(
                    name,
                    format!(
                        "must be a list of `[[{name}]]` tables, found {}",
                        other.type_str()
                    ),
                );
                Vec::new()
            }
        }
    }
}
