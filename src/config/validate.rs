//! Walks a parsed TOML table and builds a [`Config`], collecting every problem on the way.

use super::secret::{Secret, interpolate};
use super::*;
use toml::{Table, Value};

const TOP_KEYS: &[&str] = &[
    "storage",
    "poll",
    "classifier",
    "delivery",
    "log",
    "server",
    "feeds",
    "sinks",
];
const STORAGE_KEYS: &[&str] = &["path", "cache_capacity", "retention"];
const POLL_KEYS: &[&str] = &[
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
];
const CLASSIFIER_KEYS: &[&str] = &["profile", "threshold"];
const DELIVERY_KEYS: &[&str] = &[
    "max_attempts",
    "retry_base",
    "retry_max",
    "timeout",
    "max_age",
];
const LOG_KEYS: &[&str] = &["level", "format"];
const FEED_KEYS: &[&str] = &["url", "name", "interval", "alert_on_first_poll"];
const SINK_KEYS: &[&str] = &[
    "kind",
    "name",
    "url",
    "format",
    "secret",
    "mention",
    "min_score",
    "feeds",
    "events",
    "flood_limit",
    "flood_window",
];
const SINK_KINDS: &[&str] = &["stdout", "slack", "webhook"];

/// The default state directory, as systemd's `StateDirectory=parleyd` creates it.
const DEFAULT_STORAGE_PATH: &str = "/var/lib/parleyd";
/// Polling more often than this is never needed for news and looks like abuse to a host.
const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// Builds a [`Config`] from TOML text, or returns every problem found.
pub(super) fn validate(
    text: &str,
    path: &Path,
    base_dir: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, Vec<Problem>> {
    let table: Table = match toml::from_str(text) {
        Ok(table) => table,
        Err(err) => return Err(vec![syntax_problem(text, &err)]),
    };
    let mut walker = Walker {
        problems: Vec::new(),
        lookup,
        base_dir: absolute(base_dir),
    };
    walker.check_keys(&table, "", TOP_KEYS);

    let section = walker.section(&table, "storage");
    let storage = walker.storage(section);
    let section = walker.section(&table, "poll");
    let poll = walker.poll(section);
    let section = walker.section(&table, "classifier");
    let classifier = walker.classifier(section);
    let section = walker.section(&table, "delivery");
    let delivery = walker.delivery(section);
    let section = walker.section(&table, "log");
    let log = walker.log(section);
    let section = walker.section(&table, "server");
    let server = walker.server(section);
    let feeds = walker.feeds(table.get("feeds"), &poll);
    let feed_names: Vec<String> = feeds.iter().map(|f| f.name.clone()).collect();
    let sinks = walker.sinks(table.get("sinks"), &feed_names);

    if walker.problems.is_empty() {
        Ok(Config {
            source: path.to_path_buf(),
            storage,
            poll,
            classifier,
            delivery,
            log,
            server,
            feeds,
            sinks,
        })
    } else {
        Err(walker.problems)
    }
}

/// A TOML syntax error, reported by line and column only. The toml crate's own message
/// quotes the offending line, which could hold a pasted webhook URL, so it is not used.
fn syntax_problem(text: &str, err: &toml::de::Error) -> Problem {
    let location = match err.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("line {line}, column {column}")
        }
        None => "(unknown position)".to_string(),
    };
    Problem {
        key: location,
        why: format!("TOML syntax error: {}", err.message().trim_end()),
    }
}

fn absolute(dir: &Path) -> PathBuf {
    if dir.is_absolute() {
        dir.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|cwd| cwd.join(dir))
            .unwrap_or_else(|_| dir.to_path_buf())
    }
}

/// Removes `.` and `name/..` pairs without touching the file system, so paths in messages
/// read as the user would write them (the file need not exist yet).
fn normalise(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if matches!(out.components().next_back(), Some(Component::Normal(_))) {
                    out.pop();
                } else {
                    out.push(component);
                }
            }
            other => out.push(other),
        }
    }
    out
}

fn join_key(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

struct Walker<'a> {
    problems: Vec<Problem>,
    lookup: &'a dyn Fn(&str) -> Option<String>,
    base_dir: PathBuf,
}

impl Walker<'_> {
    fn problem(&mut self, key: impl Into<String>, why: impl Into<String>) {
        self.problems.push(Problem {
            key: key.into(),
            why: why.into(),
        });
    }

    /// Reports keys that are not in `allowed`, with a suggestion when one is close.
    fn check_keys(&mut self, table: &Table, prefix: &str, allowed: &[&str]) {
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
    fn section<'t>(&mut self, table: &'t Table, name: &str) -> Option<&'t Table> {
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

    fn string(&mut self, table: Option<&Table>, prefix: &str, key: &str) -> Option<String> {
        match table?.get(key)? {
            Value::String(value) => Some(value.clone()),
            other => {
                self.problem(
                    join_key(prefix, key),
                    format!("must be a string, found {}", other.type_str()),
                );
                None
            }
        }
    }

    fn boolean(&mut self, table: Option<&Table>, prefix: &str, key: &str) -> Option<bool> {
        match table?.get(key)? {
            Value::Boolean(value) => Some(*value),
            other => {
                self.problem(
                    join_key(prefix, key),
                    format!("must be true or false, found {}", other.type_str()),
                );
                None
            }
        }
    }

    fn positive_int(&mut self, table: Option<&Table>, prefix: &str, key: &str) -> Option<u64> {
        match table?.get(key)? {
            Value::Integer(value) if *value > 0 => Some(*value as u64),
            Value::Integer(value) => {
                self.problem(
                    join_key(prefix, key),
                    format!("must be a positive number, found {value}"),
                );
                None
            }
            other => {
                self.problem(
                    join_key(prefix, key),
                    format!("must be a whole number, found {}", other.type_str()),
                );
                None
            }
        }
    }

    /// A humantime duration string such as `"5m"`; bare numbers are refused because their
    /// unit would be a guess.
    fn duration(&mut self, table: Option<&Table>, prefix: &str, key: &str) -> Option<Duration> {
        let full_key = join_key(prefix, key);
        match table?.get(key)? {
            Value::String(text) => match humantime::parse_duration(text) {
                Ok(duration) if !duration.is_zero() => Some(duration),
                Ok(_) => {
                    self.problem(full_key, "must be longer than zero");
                    None
                }
                Err(_) => {
                    self.problem(
                        full_key,
                        format!(
                            "`{text}` is not a duration; use a number with a unit, e.g. \"90s\", \"5m\", \"2h\" (units: ms, s, m, h, d)"
                        ),
                    );
                    None
                }
            },
            Value::Integer(number) => {
                self.problem(
                    full_key,
                    format!("`{number}` has no unit; write it as a string such as \"{number}s\" or \"{number}m\""),
                );
                None
            }
            other => {
                self.problem(
                    full_key,
                    format!(
                        "must be a duration string such as \"5m\", found {}",
                        other.type_str()
                    ),
                );
                None
            }
        }
    }

    /// A byte size: a whole number of bytes or a string such as `"8MiB"`.
    fn byte_size(&mut self, table: Option<&Table>, prefix: &str, key: &str) -> Option<u64> {
        let full_key = join_key(prefix, key);
        match table?.get(key)? {
            Value::Integer(value) if *value > 0 => Some(*value as u64),
            Value::String(text) => match parse_byte_size(text) {
                Some(size) if size > 0 => Some(size),
                _ => {
                    self.problem(
                        full_key,
                        format!("`{text}` is not a size; use e.g. \"512KiB\", \"8MiB\" or a number of bytes"),
                    );
                    None
                }
            },
            other => {
                self.problem(
                    full_key,
                    format!(
                        "must be a size such as \"8MiB\", found {}",
                        other.type_str()
                    ),
                );
                None
            }
        }
    }

    /// A string that may hold `${VAR}` references, resolved into a [`Secret`].
    fn secret(&mut self, table: &Table, prefix: &str, key: &str) -> Option<Secret> {
        let full_key = join_key(prefix, key);
        let raw = self.string(Some(table), prefix, key)?;
        match interpolate(&raw, self.lookup) {
            Ok((value, names)) => {
                let origin = if names.is_empty() {
                    "an inline value".to_string()
                } else {
                    names
                        .iter()
                        .map(|name| match name.strip_prefix("credential:") {
                            Some(credential) => format!("credential {credential}"),
                            None => format!("${name}"),
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                Some(Secret::new(value, origin))
            }
            Err(why) => {
                self.problem(full_key, why);
                None
            }
        }
    }

    fn storage(&mut self, table: Option<&Table>) -> StorageConfig {
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

    fn resolve_path(&self, raw: &str) -> PathBuf {
        let path = PathBuf::from(raw);
        if path.is_absolute() {
            normalise(&path)
        } else {
            normalise(&self.base_dir.join(path))
        }
    }

    fn poll(&mut self, table: Option<&Table>) -> PollConfig {
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
        }
    }

    fn interval(&mut self, table: Option<&Table>, prefix: &str) -> Option<Duration> {
        let interval = self.duration(table, prefix, "interval")?;
        if interval < MIN_INTERVAL {
            self.problem(
                join_key(prefix, "interval"),
                format!(
                    "{} is too short; the minimum is {}",
                    humantime::format_duration(interval),
                    humantime::format_duration(MIN_INTERVAL)
                ),
            );
            return None;
        }
        Some(interval)
    }

    fn classifier(&mut self, table: Option<&Table>) -> ClassifierConfig {
        if let Some(table) = table {
            self.check_keys(table, "classifier", CLASSIFIER_KEYS);
        }
        let profile = match self.string(table, "classifier", "profile") {
            None => ProfileSource::Builtin(crate::classify::DEFAULT_PROFILE.to_string()),
            Some(raw) => match raw.strip_prefix("builtin:") {
                Some(name) if crate::classify::builtin_profile_text(name).is_some() => {
                    ProfileSource::Builtin(name.to_string())
                }
                Some(name) => {
                    self.problem(
                        "classifier.profile",
                        format!(
                            "no built-in profile `{name}` (built in: {})",
                            crate::classify::BUILTIN_PROFILES.join(", ")
                        ),
                    );
                    ProfileSource::Builtin(crate::classify::DEFAULT_PROFILE.to_string())
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
        ClassifierConfig { profile, threshold }
    }

    fn delivery(&mut self, table: Option<&Table>) -> DeliveryConfig {
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

    fn server(&mut self, table: Option<&Table>) -> ServerConfig {
        if let Some(table) = table {
            self.check_keys(table, "server", &["listen"]);
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

    fn log(&mut self, table: Option<&Table>) -> LogConfig {
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

    fn array_of_tables<'t>(&mut self, value: Option<&'t Value>, name: &str) -> Vec<&'t Table> {
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

    fn feeds(&mut self, value: Option<&Value>, poll: &PollConfig) -> Vec<FeedConfig> {
        let tables = self.array_of_tables(value, "feeds");
        if tables.is_empty() && value.is_none() {
            self.problem(
                "feeds",
                "no feeds configured; add at least one [[feeds]] entry with a `url`",
            );
        }
        let mut feeds: Vec<FeedConfig> = Vec::with_capacity(tables.len());
        let mut seen_urls: Vec<(String, usize)> = Vec::new();
        let mut seen_names: Vec<(String, usize)> = Vec::new();
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
            if let Some((_, first)) = seen_urls.iter().find(|(u, _)| *u == url.as_str()) {
                self.problem(
                    format!("{prefix}.url"),
                    format!("duplicates feeds[{first}].url; each feed may be listed once"),
                );
                continue;
            }
            seen_urls.push((url.as_str().to_string(), index));
            if let Some((_, first)) = seen_names.iter().find(|(n, _)| *n == name) {
                self.problem(
                    format!("{prefix}.name"),
                    format!(
                        "`{name}` is already the name of feeds[{first}]; give each feed its own name"
                    ),
                );
            }
            seen_names.push((name.clone(), index));
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
                self.problem(key, format!("`{raw}` is not a valid URL: {err}"));
                None
            }
        }
    }

    fn sinks(&mut self, value: Option<&Value>, feed_names: &[String]) -> Vec<SinkConfig> {
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
                    if table.contains_key("url") {
                        self.problem(format!("{prefix}.url"), "a stdout sink takes no url");
                    }
                    Some(SinkKind::Stdout { json })
                }
                "slack" | "webhook" => {
                    if table.contains_key("format") {
                        self.problem(
                            format!("{prefix}.format"),
                            format!("only stdout sinks take a format, not {kind_name}"),
                        );
                    }
                    let only = |key: &str, kind: &str| kind_name != kind && table.contains_key(key);
                    if only("secret", "webhook") {
                        self.problem(
                            format!("{prefix}.secret"),
                            "only webhook sinks take a signing secret",
                        );
                    }
                    if only("mention", "slack") {
                        self.problem(
                            format!("{prefix}.mention"),
                            "only slack sinks take a mention",
                        );
                    }
                    let url = self.sink_url(table, &prefix);
                    if kind_name == "slack" {
                        let mention = self.mention(table, &prefix);
                        url.map(|url| SinkKind::Slack { url, mention })
                    } else {
                        let secret = self.signing_secret(table, &prefix);
                        url.map(|url| SinkKind::Webhook { url, secret })
                    }
                }
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
            let default_flood =
                matches!(kind, SinkKind::Slack { .. }).then_some(DEFAULT_SLACK_FLOOD);
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

    fn string_list(&mut self, table: &Table, prefix: &str, key: &str) -> Vec<String> {
        match table.get(key) {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| match item {
                    Value::String(s) => Some(s.clone()),
                    other => {
                        self.problem(
                            format!("{prefix}.{key}[{i}]"),
                            format!("must be a string, found {}", other.type_str()),
                        );
                        None
                    }
                })
                .collect(),
            Some(other) => {
                self.problem(
                    format!("{prefix}.{key}"),
                    format!("must be a list of strings, found {}", other.type_str()),
                );
                Vec::new()
            }
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
    /// environment. The message on error never shows the value.
    fn signing_secret(&mut self, table: &Table, prefix: &str) -> Option<Secret> {
        if !table.contains_key("secret") {
            return None;
        }
        let secret = self.secret(table, prefix, "secret")?;
        if crate::notify::webhook::decode_secret(secret.expose()).is_none() {
            self.problem(
                format!("{prefix}.secret"),
                format!(
                    "the value from {} is not `whsec_` followed by base64 (value not shown)",
                    secret.origin()
                ),
            );
            return None;
        }
        Some(secret)
    }

    /// The URL of a slack or webhook sink: resolved from the environment, checked to be
    /// http(s), and never quoted in a message.
    fn sink_url(&mut self, table: &Table, prefix: &str) -> Option<Secret> {
        let key = format!("{prefix}.url");
        if !table.contains_key("url") {
            self.problem(
                key,
                "is required; put it in an environment variable and write url = \"${PARLEYD_SLACK_WEBHOOK}\"",
            );
            return None;
        }
        let secret = self.secret(table, prefix, "url")?;
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

fn default_feed_name(url: &Url) -> String {
    match url.host_str() {
        Some(host) => format!("{host}{}", url.path().trim_end_matches('/')),
        None => url
            .path_segments()
            .and_then(|mut segments| segments.next_back().map(String::from))
            .unwrap_or_else(|| url.to_string()),
    }
}

/// Parses `"8MiB"`, `"512 KiB"`, `"2MB"` or `"1024"` into bytes.
fn parse_byte_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1024,
        "m" | "mb" | "mib" => 1024 * 1024,
        "g" | "gb" | "gib" => 1024 * 1024 * 1024,
        _ => return None,
    };
    number.checked_mul(multiplier)
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

    fn load(text: &str) -> Result<Config, Vec<Problem>> {
        let env = |name: &str| {
            (name == "HOOK").then(|| "https://hooks.slack.example/T/B/xyz".to_string())
        };
        validate(
            text,
            Path::new("/etc/parleyd/test.toml"),
            Path::new("/etc/parleyd"),
            &env,
        )
    }

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

    #[test]
    fn minimal_config_gets_defaults() {
        let config = load("[[feeds]]\nurl = \"https://example.org/rss.xml\"\n").unwrap();
        assert_eq!(config.feeds[0].name, "example.org/rss.xml");
        assert_eq!(config.feeds[0].interval, DEFAULT_INTERVAL);
        assert_eq!(config.storage.path, PathBuf::from("/var/lib/parleyd"));
        assert!(config.sinks.is_empty());
    }

    #[test]
    fn relative_file_urls_resolve_against_the_config_folder() {
        let config = load("[[feeds]]\nurl = \"file:feeds/a.xml\"\n").unwrap();
        assert_eq!(
            config.feeds[0].url.as_str(),
            "file:///etc/parleyd/feeds/a.xml"
        );
    }

    #[test]
    fn every_problem_is_reported() {
        let problems = load(
            r#"
[poll]
intervall = "5m"
timeout = 20
[[feeds]]
url = "ftp://example.org/x"
[[feeds]]
url = "https://example.org/a"
interval = "5 parsecs"
[[feeds]]
url = "https://example.org/a"
[[sinks]]
kind = "slack"
url = "${MISSING}"
"#,
        )
        .unwrap_err();
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            vec![
                "poll.intervall",
                "poll.timeout",
                "feeds[0].url",
                "feeds[1].interval",
                "feeds[2].url",
                "sinks[0].url"
            ],
            "{problems:#?}"
        );
        assert!(problems[0].why.contains("did you mean `interval`"));
        assert!(problems[5].why.contains("MISSING"));
    }

    #[test]
    fn paths_are_normalised() {
        assert_eq!(
            normalise(Path::new("/a/b/../c/./d")),
            PathBuf::from("/a/c/d")
        );
        assert_eq!(normalise(Path::new("../x")), PathBuf::from("../x"));
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(parse_byte_size("8MiB"), Some(8 * 1024 * 1024));
        assert_eq!(parse_byte_size("512 KiB"), Some(512 * 1024));
        assert_eq!(parse_byte_size("12"), Some(12));
        assert_eq!(parse_byte_size("12 parsecs"), None);
    }
}
