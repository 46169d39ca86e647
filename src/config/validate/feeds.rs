//! `[[feeds]]`: each feed's URL, name and interval, with no URL or name listed twice.
//!
//! A relative `file:` URL is resolved against the config file's folder.

use super::keys::FEED_KEYS;
use super::{Walker, normalise};
use crate::config::{FeedConfig, PollConfig};
use std::collections::HashMap;
use toml::Value;
use url::Url;

impl Walker<'_> {
    pub(super) fn feeds(&mut self, value: Option<&Value>, poll: &PollConfig) -> Vec<FeedConfig> {
        let tables = self.array_of_tables(value, "feeds");
        if tables.is_empty() && value.is_none() {
            self.problem(
                "feeds",
                "no feeds configured; add at least one [[feeds]] entry with a `url`",
            );
        }
        let mut feeds: Vec<FeedConfig> = Vec::with_capacity(tables.len());
        // Where each URL and name was first listed. Maps, not lists: a search of a list per
        // feed made this check quadratic, a tenth of a 20,000-feed `once` that found
        // nothing new (BENCHMARKS.md, "20,000 feeds").
        let mut seen_urls: HashMap<String, usize> = HashMap::with_capacity(tables.len());
        let mut seen_names: HashMap<String, usize> = HashMap::with_capacity(tables.len());
        for (index, table) in tables.into_iter().enumerate() {
            let prefix = format!("feeds[{index}]");
            self.check_keys(table, &prefix, FEED_KEYS);
            let url = match self.string(Some(table), &prefix, "url") {
                Some(raw) => self.feed_url(&raw, &prefix),
                None => {
                    if table.get("url").is_none() {
                        self.problem(format!("{prefix}.url"), "is required");
                    }
                    None
                }
            };
            let name = self.string(Some(table), &prefix, "name");
            let interval = self.interval(Some(table), &prefix);
            let alert_on_first_poll = self.boolean(Some(table), &prefix, "alert_on_first_poll");
            let Some(url) = url else { continue };
            let name = name
                .filter(|n| !n.trim().is_empty())
                .unwrap_or_else(|| default_feed_name(&url));
            if let Some(first) = seen_urls.get(url.as_str()) {
                self.problem(
                    format!("{prefix}.url"),
                    format!("duplicates feeds[{first}].url; each feed may be listed once"),
                );
                continue;
            }
            seen_urls.insert(url.as_str().to_string(), index);
            if let Some(first) = seen_names.get(&name) {
                self.problem(
                    format!("{prefix}.name"),
                    format!(
                        "`{name}` is already the name of feeds[{first}]; give each feed its own name"
                    ),
                );
            }
            seen_names.entry(name.clone()).or_insert(index);
            feeds.push(FeedConfig {
                url,
                name,
                interval: interval.unwrap_or(poll.interval),
                alert_on_first_poll: alert_on_first_poll.unwrap_or(poll.alert_on_first_poll),
            });
        }
        feeds
    }

    fn feed_url(&mut self, raw: &str, prefix: &str) -> Option<Url> {
        let key = format!("{prefix}.url");
        // `file:relative/path` is resolved against the config file's folder, so a config and
        // its bundled feeds can move together (the offline demo relies on this).
        if let Some(rest) = raw.strip_prefix("file:")
            && !rest.starts_with('/')
        {
            let path = normalise(&self.base_dir.join(rest));
            return match Url::from_file_path(&path) {
                Ok(url) => Some(url),
                Err(()) => {
                    self.problem(key, format!("cannot make a file URL of {}", path.display()));
                    None
                }
            };
        }
        match Url::parse(raw) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => {
                Some(url)
            }
            Ok(url) if url.scheme() == "file" => Some(url),
            Ok(url) => {
                self.problem(
                    key,
                    format!(
                        "scheme `{}` is not supported; use http://, https:// or file://",
                        url.scheme()
                    ),
                );
                None
            }
            Err(err) => {
                // Quoted as the logs show URLs: a query or user info may hold a token.
                let shown = crate::redact::display_unparsed_url(raw);
                self.problem(key, format!("`{shown}` is not a valid URL: {err}"));
                None
            }
        }
    }
}

fn default_feed_name(url: &Url) -> String {
    match url.host_str() {
        Some(host) => format!("{host}{}", url.path().trim_end_matches('/')),
        None => url
            .path_segments()
            .and_then(|mut segments| segments.next_back().map(String::from))
            .unwrap_or_else(|| url.to_string()),
    }
}
