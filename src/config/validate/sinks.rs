//! `[[sinks]]`: each sink's kind, URL, signing key, route and flood guard (the keys of
//! Discord, Teams, ntfy and email sinks are read in `sink_kinds`).
//!
//! A sink takes only the keys of its kind; a URL or secret is never quoted in a message.

use super::Walker;
use super::keys::{COMMON_SINK_KEYS, SINK_KEYS, SINK_KINDS, kind_keys};
use crate::config::secret::{Secret, SigningKey};
use crate::config::{DEFAULT_SLACK_FLOOD, Flood, Route, SinkConfig, SinkKind};
use toml::{Table, Value};
use url::Url;

impl Walker<'_> {
    pub(super) fn sinks(
        &mut self,
        value: Option<&Value>,
        feed_names: &[String],
    ) -> Vec<SinkConfig> {
        let tables = self.array_of_tables(value, "sinks");
        let mut sinks: Vec<SinkConfig> = Vec::with_capacity(tables.len());
        for (index, table) in tables.into_iter().enumerate() {
            let prefix = format!("sinks[{index}]");
            self.check_keys(table, &prefix, SINK_KEYS);
            let Some(kind_name) = self.string(Some(table), &prefix, "kind") else {
                if table.get("kind").is_none() {
                    self.problem(
                        format!("{prefix}.kind"),
                        format!("is required (one of: {})", SINK_KINDS.join(", ")),
                    );
                }
                continue;
            };
            self.check_kind_keys(table, &prefix, &kind_name);
            let kind = match kind_name.as_str() {
                "stdout" => {
                    let json = match self.string(Some(table), &prefix, "format").as_deref() {
                        None | Some("text") => false,
                        Some("json") => true,
                        Some(other) => {
                            self.problem(
                                format!("{prefix}.format"),
                                format!(
                                    "`{other}` is not a stdout format; use \"text\" or \"json\""
                                ),
                            );
                            false
                        }
                    };
                    Some(SinkKind::Stdout { json })
                }
                "slack" => {
                    let url = self.sink_url(table, &prefix);
                    let mention = self.mention(table, &prefix);
                    url.map(|url| SinkKind::Slack { url, mention })
                }
                "webhook" => {
                    let url = self.sink_url(table, &prefix);
                    let signing_key = self.signing_key(table, &prefix);
                    url.map(|url| SinkKind::Webhook { url, signing_key })
                }
                "discord" => self.discord(table, &prefix),
                "teams" => self
                    .sink_url(table, &prefix)
                    .map(|url| SinkKind::Teams { url }),
                "ntfy" => self.ntfy(table, &prefix),
                "email" => self.email(table, &prefix),
                other => {
                    self.problem(
                        format!("{prefix}.kind"),
                        format!(
                            "`{other}` is not a sink kind (one of: {})",
                            SINK_KINDS.join(", ")
                        ),
                    );
                    None
                }
            };
            let name = self.string(Some(table), &prefix, "name");
            let route = self.route(table, &prefix, feed_names);
            let flood_limit = match table.get("flood_limit") {
                Some(Value::Integer(0)) => Some(0),
                _ => self.positive_int(Some(table), &prefix, "flood_limit"),
            };
            let flood_window = self.duration(Some(table), &prefix, "flood_window");
            let Some(kind) = kind else { continue };
            let default_flood = kind.is_read_by_people().then_some(DEFAULT_SLACK_FLOOD);
            let flood = match (flood_limit, flood_window, default_flood) {
                // flood_limit = 0 turns the guard off.
                (Some(0), _, _) => None,
                (Some(limit), window, default) => Some(Flood {
                    limit: limit.min(u64::from(u32::MAX)) as u32,
                    window: window
                        .or(default.map(|d| d.window))
                        .unwrap_or(DEFAULT_SLACK_FLOOD.window),
                }),
                (None, Some(window), default) => Some(Flood {
                    limit: default.map_or(DEFAULT_SLACK_FLOOD.limit, |d| d.limit),
                    window,
                }),
                (None, None, default) => default,
            };
            let name = name.unwrap_or_else(|| {
                let same_kind = sinks
                    .iter()
                    .filter(|s| s.kind.as_str() == kind.as_str())
                    .count();
                if same_kind == 0 {
                    kind.as_str().to_string()
                } else {
                    format!("{}-{}", kind.as_str(), same_kind + 1)
                }
            });
            if sinks.iter().any(|s| s.name == name) {
                self.problem(
                    format!("{prefix}.name"),
                    format!("`{name}` is already the name of another sink"),
                );
                continue;
            }
            sinks.push(SinkConfig {
                name,
                kind,
                route,
                flood,
            });
        }
        sinks
    }

    /// `min_score`, `feeds` and `events` of a sink.
    fn route(&mut self, table: &Table, prefix: &str, feed_names: &[String]) -> Route {
        let min_score = match table.get("min_score") {
            None => None,
            Some(Value::Float(v)) if (0.0..=1.0).contains(v) => Some(*v),
            Some(Value::Integer(v)) if (0..=1).contains(v) => Some(*v as f64),
            Some(other) => {
                self.problem(
                    format!("{prefix}.min_score"),
                    format!("must be a number between 0 and 1, found {other}"),
                );
                None
            }
        };
        let feeds = self.string_list(table, prefix, "feeds");
        for (i, feed) in feeds.iter().enumerate() {
            if !feed_names.contains(feed) {
                self.problem(
                    format!("{prefix}.feeds[{i}]"),
                    format!(
                        "no feed is named `{feed}` (feed names: {})",
                        feed_names.join(", ")
                    ),
                );
            }
        }
        let mut events = Vec::new();
        for (i, event) in self.string_list(table, prefix, "events").iter().enumerate() {
            match event.as_str() {
                "talks" => events.push(crate::model::Event::Talks),
                "channel" => events.push(crate::model::Event::Channel),
                other => self.problem(
                    format!("{prefix}.events[{i}]"),
                    format!("`{other}` is not an event kind; use \"talks\" or \"channel\""),
                ),
            }
        }
        Route {
            min_score,
            feeds,
            events,
        }
    }

    /// A Slack mention: `here`, `channel`, `everyone`, or a user or group id.
    fn mention(&mut self, table: &Table, prefix: &str) -> Option<String> {
        let raw = self.string(Some(table), prefix, "mention")?;
        let mention = match raw.trim_start_matches('@') {
            "here" | "channel" | "everyone" => format!("<!{}>", raw.trim_start_matches('@')),
            id if id.starts_with('U') || id.starts_with('W') => format!("<@{id}>"),
            id if id.starts_with('S') => format!("<!subteam^{id}>"),
            _ => {
                self.problem(
                    format!("{prefix}.mention"),
                    "use \"here\", \"channel\", \"everyone\", a user id (U…) or a group id (S…)",
                );
                return None;
            }
        };
        Some(mention)
    }

    /// A Standard Webhooks signing secret: `whsec_` followed by base64, from the
    /// environment, decoded here once. The message on error never shows the value.
    fn signing_key(&mut self, table: &Table, prefix: &str) -> Option<SigningKey> {
        if !table.contains_key("secret") {
            return None;
        }
        let secret = self.secret(table, prefix, "secret")?;
        if !secret.is_resolved() {
            // Left unresolved for a command that sends nothing, so it signs nothing.
            return None;
        }
        let key = SigningKey::decode(&secret);
        if key.is_none() {
            self.problem(
                format!("{prefix}.secret"),
                format!(
                    "the value from {} is not `whsec_` followed by base64 (value not shown)",
                    secret.origin()
                ),
            );
        }
        key
    }

    /// Reports a key that sinks take, but not sinks of this kind (`secret` on a slack sink).
    /// Keys no sink takes are reported by `check_keys`, with a did-you-mean.
    fn check_kind_keys(&mut self, table: &Table, prefix: &str, kind: &str) {
        let Some(own) = kind_keys(kind) else { return };
        for key in table.keys() {
            let key = key.as_str();
            if SINK_KEYS.contains(&key) && !COMMON_SINK_KEYS.contains(&key) && !own.contains(&key) {
                let takes = if own.is_empty() {
                    "none but the common ones".to_string()
                } else {
                    own.join(", ")
                };
                self.problem(
                    format!("{prefix}.{key}"),
                    format!("a {kind} sink takes no `{key}` (its own keys: {takes})"),
                );
            }
        }
    }

    /// The URL of a sink that posts over HTTP: resolved from the environment, checked to be
    /// http(s), and never quoted in a message.
    pub(super) fn sink_url(&mut self, table: &Table, prefix: &str) -> Option<Secret> {
        let key = format!("{prefix}.url");
        if !table.contains_key("url") {
            self.problem(
                key,
                "is required; put it in an environment variable and write url = \"${PARLEYD_SLACK_WEBHOOK}\"",
            );
            return None;
        }
        let secret = self.secret(table, prefix, "url")?;
        if !secret.is_resolved() {
            // Nothing to check without its value; a command that sends resolves it.
            return Some(secret);
        }
        match Url::parse(secret.expose()) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => {
                Some(secret)
            }
            _ => {
                self.problem(
                    key,
                    format!(
                        "the value from {} is not an http(s) URL (value not shown)",
                        secret.origin()
                    ),
                );
                None
            }
        }
    }
}
