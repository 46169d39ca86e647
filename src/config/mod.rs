//! Loads the TOML config, validates all of it at once, and resolves secrets from the environment.
//!
//! Loading has two steps, as in ripgrep's low/high args: the file is parsed into a plain
//! TOML table, then `validate` walks that table and builds a typed [`Config`], collecting
//! every problem (unknown key, bad URL, bad duration, missing variable…) with its key path
//! instead of stopping at the first. `${VAR}` references are resolved only after parsing, so
//! a TOML syntax error can never quote a substituted secret.

pub mod opml;
mod placeholder;
mod secret;
mod validate;

/// URL redaction lives in [`crate::redact`]; this name stays for the callers that use it here.
pub use crate::redact::display_url;
pub use secret::{Secret, SigningKey};

use std::path::{Path, PathBuf};
use std::time::Duration;
use url::Url;

/// The default config path when neither `--config` nor `$PARLEYD_CONFIG` is given.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/parleyd/parleyd.toml";

/// Five minutes: frequent enough for breaking news, polite enough for any publisher.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5 * 60);
/// Twenty seconds for a whole request: a slow feed must not hold a fetch slot for long.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);
/// Connecting takes milliseconds when a host is up; ten seconds means it is not.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Fetches in flight at once; polling is I/O-bound, so this is far above the core count.
pub const DEFAULT_CONCURRENCY: usize = 32;
/// The largest feed body accepted (decoded bytes). Real news feeds are well under 2 MiB.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 8 * 1024 * 1024;
/// Articles published longer ago than this never alert, even when first seen now: feeds
/// that reshuffle or re-date old items must not resurface week-old news.
pub const DEFAULT_MAX_ARTICLE_AGE: Duration = Duration::from_secs(48 * 3600);
/// Reports published this close to a story's latest report join it unless a marker tells
/// them apart, whatever their words (see `parleyd::classify::story`): reports of one event
/// cluster within a day or so. The same as `classify::STORY_JOIN_WINDOW`; a test checks it.
pub const DEFAULT_STORY_WINDOW: Duration = Duration::from_secs(36 * 3600);
/// The longest `story_window` means anything: a story takes no report 72 hours after it
/// opens (`classify::STORY_OPEN_FOR`; a test checks they agree).
pub const MAX_STORY_WINDOW: Duration = Duration::from_secs(72 * 3600);
/// The floor under every poll schedule.
pub const DEFAULT_MIN_INTERVAL: Duration = Duration::from_secs(1);
/// A server may ask us to come back later, but not later than this.
pub const DEFAULT_MAX_INTERVAL: Duration = Duration::from_secs(3600);
/// Thirty feeds on one site are fetched two at a time, not thirty at once.
pub const DEFAULT_PER_HOST: usize = 2;
/// Items taken from one feed per poll, newest first. News feeds carry 10 to 100; a feed
/// with 155,000 tiny items once took 1.5 GB to poll and 172 MB of store, and a feed that
/// rotates its guids would add that on every poll.
pub const DEFAULT_MAX_ITEMS: usize = 500;
/// A month of articles is plenty to look back on with `replay`; older ones are pruned.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);
/// sled's own default cache is 1 GiB; a feed daemon needs far less. On the load farm
/// (1000 feeds x 50 items) 16 MiB kept a cold start at 50 MB of RSS instead of 76 MB, at
/// the same speed; at 5000 feeds x 20 items 8 MiB took another 6-10 MB off every run at the
/// same speed, since a poll reads only its own feed's state and newest articles
/// (BENCHMARKS.md, "Memory at 5000 feeds").
pub const DEFAULT_CACHE_CAPACITY: u64 = 8 * 1024 * 1024;
/// Delivery attempts before an alert is parked as dead (about a day with the default back-off).
pub const DEFAULT_MAX_ATTEMPTS: u32 = 30;
/// The first retry waits this long; each later one doubles, up to the maximum.
pub const DEFAULT_RETRY_BASE: Duration = Duration::from_secs(2);
/// The longest wait between two delivery attempts.
pub const DEFAULT_RETRY_MAX: Duration = Duration::from_secs(3600);
/// A sink that has not answered in this time is treated as failed for this attempt.
pub const DEFAULT_DELIVERY_TIMEOUT: Duration = Duration::from_secs(15);
/// News older than a day is no longer an alert; it goes to the dead-letter list instead.
pub const DEFAULT_MAX_ALERT_AGE: Duration = Duration::from_secs(24 * 3600);

/// The validated configuration. Every field is ready to use.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was loaded from (for messages, and as the base of relative paths).
    pub source: PathBuf,
    /// Where the state lives.
    pub storage: StorageConfig,
    /// Defaults for fetching feeds.
    pub poll: PollConfig,
    /// Which profile decides relevance.
    pub classifier: ClassifierConfig,
    /// How alerts are retried.
    pub delivery: DeliveryConfig,
    /// Log level and format.
    pub log: LogConfig,
    /// The status server.
    pub server: ServerConfig,
    /// The feeds to watch, at least one.
    pub feeds: Vec<FeedConfig>,
    /// Where alerts go. May be empty: articles are still stored and classified.
    pub sinks: Vec<SinkConfig>,
}

/// `[storage]`.
#[derive(Debug, Clone)]
pub struct StorageConfig {
    /// The sled directory; relative paths are relative to the config file.
    pub path: PathBuf,
    /// sled's page cache size in bytes.
    pub cache_capacity: u64,
    /// Articles first seen longer ago than this are pruned (their keys stay, so they never
    /// alert again).
    pub retention: Duration,
}

/// `[poll]`.
#[derive(Debug, Clone)]
pub struct PollConfig {
    /// Default time between two polls of a feed.
    pub interval: Duration,
    /// Limit for one whole request, body included.
    pub timeout: Duration,
    /// Limit for establishing a connection.
    pub connect_timeout: Duration,
    /// Fetches in flight at once.
    pub concurrency: usize,
    /// Largest accepted body, counted on decoded bytes while streaming.
    pub max_body_bytes: u64,
    /// Alert on the items already in a feed the first time it is polled.
    pub alert_on_first_poll: bool,
    /// Items published longer ago than this do not alert.
    pub max_article_age: Duration,
    /// The shortest time between two polls of a feed, whatever else says.
    pub min_interval: Duration,
    /// The longest a server's hint (Cache-Control, ttl, Retry-After) may stretch it.
    pub max_interval: Duration,
    /// Fetches in flight at once to one host.
    pub per_host: usize,
    /// Items read from one feed per poll, newest first; the rest are counted and skipped.
    pub max_items: usize,
}

impl Default for PollConfig {
    fn default() -> PollConfig {
        PollConfig {
            interval: DEFAULT_INTERVAL,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            concurrency: DEFAULT_CONCURRENCY,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            alert_on_first_poll: false,
            max_article_age: DEFAULT_MAX_ARTICLE_AGE,
            min_interval: DEFAULT_MIN_INTERVAL,
            max_interval: DEFAULT_MAX_INTERVAL,
            per_host: DEFAULT_PER_HOST,
            max_items: DEFAULT_MAX_ITEMS,
        }
    }
}

/// `[classifier]`.
#[derive(Debug, Clone)]
pub struct ClassifierConfig {
    /// Which profile to use.
    pub profile: ProfileSource,
    /// Overrides the profile's own threshold when set (its model's, when it has one).
    pub threshold: Option<f64>,
    /// How close in publication time a report joins a story without sharing its words
    /// (`story_window`); zero joins only reports that share most of a story's words.
    pub story_window: Duration,
}

/// Where a profile comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum ProfileSource {
    /// A profile compiled into the binary, e.g. `builtin:us-iran`.
    Builtin(String),
    /// A profile file on disk.
    Path(PathBuf),
}

/// `[delivery]`.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// Attempts before an alert is moved to the dead-letter list.
    pub max_attempts: u32,
    /// First retry delay; doubles per attempt, with jitter.
    pub retry_base: Duration,
    /// Cap on the retry delay.
    pub retry_max: Duration,
    /// Limit for one delivery request.
    pub timeout: Duration,
    /// An alert not delivered within this time of being queued is dead-lettered.
    pub max_age: Duration,
}

/// `[server]`.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where `/healthz`, `/readyz`, `/metrics` and the status page listen; `None` is off.
    pub listen: Option<std::net::SocketAddr>,
}

/// Loopback only: the status page shows what parleyd watches, which is nobody else's business.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9464";

/// `[log]`.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// A tracing filter such as `info` or `parleyd=debug`; `RUST_LOG` wins over it.
    pub level: String,
    /// Human or JSON lines.
    pub format: LogFormat,
}

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Readable lines, coloured on a terminal.
    Human,
    /// One JSON object a line, for log shippers.
    Json,
}

/// One `[[feeds]]` entry.
#[derive(Debug, Clone)]
pub struct FeedConfig {
    /// `http(s)://` or `file://` (a `file:` URL with a relative path is resolved against the
    /// config file's folder).
    pub url: Url,
    /// A short name for logs and alerts; defaults to the URL's host.
    pub name: String,
    /// Time between polls of this feed.
    pub interval: Duration,
    /// Whether this feed's first poll alerts on its backlog.
    pub alert_on_first_poll: bool,
}

impl FeedConfig {
    /// The URL as safe to log: scheme, host and path, never the query (it may hold a token).
    pub fn display_url(&self) -> String {
        display_url(&self.url)
    }
}

/// One `[[sinks]]` entry.
#[derive(Debug, Clone)]
pub struct SinkConfig {
    /// Unique name; defaults to the kind (`slack`, `webhook-2`, …).
    pub name: String,
    /// What it is and where it sends.
    pub kind: SinkKind,
    /// Which alerts it takes.
    pub route: Route,
    /// At most this many messages per window; the rest go out as one digest.
    pub flood: Option<Flood>,
}

/// A sink's flood guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flood {
    /// Messages (alerts or digests) per window.
    pub limit: u32,
    /// The sliding window.
    pub window: Duration,
}

/// The default flood guard of the sinks people read (Slack, Discord, Teams, ntfy, email): a
/// channel or inbox that pings more than ten times in ten minutes is one people mute.
pub const DEFAULT_SLACK_FLOOD: Flood = Flood {
    limit: 10,
    window: Duration::from_secs(600),
};

/// Which alerts a sink takes. Empty lists take everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Route {
    /// Alerts scoring below this are not sent to the sink.
    pub min_score: Option<f64>,
    /// Only alerts from these feeds (by name).
    pub feeds: Vec<String>,
    /// Only these event kinds.
    pub events: Vec<crate::model::Event>,
}

impl Route {
    /// Whether an alert with this feed, event and score goes to the sink.
    pub fn accepts(&self, feed: &str, event: Option<crate::model::Event>, score: f64) -> bool {
        self.min_score.is_none_or(|min| score >= min)
            && (self.feeds.is_empty() || self.feeds.iter().any(|f| f == feed))
            && (self.events.is_empty() || event.is_some_and(|e| self.events.contains(&e)))
    }
}

/// The kinds of sink.
#[derive(Debug, Clone)]
pub enum SinkKind {
    /// Prints alerts on standard output.
    Stdout {
        /// Text for people, or one JSON object a line.
        json: bool,
    },
    /// A Slack incoming webhook.
    Slack {
        /// The webhook URL (a secret: it is the credential).
        url: Secret,
        /// A mention to put in front of every alert (`<!here>`, `<!channel>`, `<@U123>`);
        /// none unless configured.
        mention: Option<String>,
    },
    /// A generic JSON webhook.
    Webhook {
        /// The receiver's URL (treated as a secret, since such URLs often carry tokens).
        url: Secret,
        /// The Standard Webhooks signing key (`secret = "whsec_…"`), if the receiver verifies.
        signing_key: Option<SigningKey>,
    },
    /// A Discord channel webhook (an embed per alert).
    Discord {
        /// The webhook URL (a secret: its last segment is the webhook's token).
        url: Secret,
        /// Who to ping; none unless configured.
        mention: Option<DiscordMention>,
    },
    /// A Microsoft Teams workflow ("When a Teams webhook request is received"), posting an
    /// Adaptive Card.
    Teams {
        /// The workflow URL (a secret: its `sig` query parameter is the credential).
        url: Secret,
    },
    /// An ntfy topic.
    Ntfy {
        /// The topic URL, `https://ntfy.sh/TOPIC` (a secret: on a public server the topic
        /// name is the only access control).
        url: Secret,
        /// An access token (`tk_…`) for a protected topic, sent as a bearer token.
        token: Option<Secret>,
        /// ntfy's priority, 1 (min) to 5 (max); the server's default (3) when absent.
        priority: Option<u8>,
    },
    /// Email through an SMTP server, one message per alert.
    Email(Box<EmailSink>),
}

/// Who a Discord alert pings. Discord only pings whom `allowed_mentions` names, so feed
/// text can never ping anyone, whatever it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiscordMention {
    /// `@everyone`.
    Everyone,
    /// `@here`.
    Here,
    /// A role, by id.
    Role(String),
    /// A user, by id.
    User(String),
}

/// How the email sink talks to its SMTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS, which must succeed (port 587 by default).
    Starttls,
    /// TLS from the first byte (port 465 by default).
    Tls,
    /// No encryption: only for a relay on the same machine (port 25 by default).
    None,
}

impl SmtpTls {
    /// The usual port for this mode.
    pub fn default_port(self) -> u16 {
        match self {
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
            SmtpTls::None => 25,
        }
    }
}

/// An email sink's server, login and addresses.
#[derive(Debug, Clone)]
pub struct EmailSink {
    /// The SMTP server's host name (checked against its certificate).
    pub host: String,
    /// Its port.
    pub port: u16,
    /// STARTTLS, implicit TLS or none.
    pub tls: SmtpTls,
    /// The login, when the server wants one (`username` and `password` together).
    pub credentials: Option<(Secret, Secret)>,
    /// The sender, `Name <address>` or a bare address.
    pub from: lettre::message::Mailbox,
    /// The recipients (at least one).
    pub to: Vec<lettre::message::Mailbox>,
    /// An extra CA certificate (PEM) to trust, for a relay with a private CA.
    pub ca_file: Option<PathBuf>,
}

impl SinkKind {
    /// The config name of the kind.
    pub fn as_str(&self) -> &'static str {
        match self {
            SinkKind::Stdout { .. } => "stdout",
            SinkKind::Slack { .. } => "slack",
            SinkKind::Webhook { .. } => "webhook",
            SinkKind::Discord { .. } => "discord",
            SinkKind::Teams { .. } => "teams",
            SinkKind::Ntfy { .. } => "ntfy",
            SinkKind::Email(_) => "email",
        }
    }

    /// The URL this sink posts to, for the kinds that post to one.
    pub fn url(&self) -> Option<&Secret> {
        match self {
            SinkKind::Slack { url, .. }
            | SinkKind::Webhook { url, .. }
            | SinkKind::Discord { url, .. }
            | SinkKind::Teams { url }
            | SinkKind::Ntfy { url, .. } => Some(url),
            SinkKind::Stdout { .. } | SinkKind::Email(_) => None,
        }
    }

    /// Whether people read this sink's messages as they arrive, so it gets the default
    /// flood guard and a flood of alerts arrives as a digest instead.
    pub fn is_read_by_people(&self) -> bool {
        !matches!(self, SinkKind::Stdout { .. } | SinkKind::Webhook { .. })
    }
}

/// One thing wrong with a config file: the key it is about and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Key path such as `feeds[2].url`, or `(file)` for the whole file.
    pub key: String,
    /// What is wrong and, where possible, what would be right.
    pub why: String,
}

/// Whether loading a config resolves the sinks' secrets (`${NAME}`, `${credential:NAME}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkSecrets {
    /// Look every one up: for the commands that send (`run`, `once`, `alerts test`) and
    /// for `check-config`.
    Resolve,
    /// Check their syntax but read nothing: for the commands that only read or repair the
    /// store (`feeds`, `stats`, `alerts`, `alerts retry`, `replay`), which an operator must
    /// be able to run without the service's credentials. A sink URL written as a reference
    /// is then a [`Secret::unresolved`] and a webhook's signing key is absent.
    Leave,
}

/// A config that could not be loaded, with every problem found.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error(
        "{file}: cannot read the config file: {cause}{}",
        default_path_hint(file, cause)
    )]
    Read {
        /// The config file.
        file: PathBuf,
        /// Why (in the message, so not also a `source()`, which would print it twice).
        cause: std::io::Error,
    },
    /// The file was read but is not a valid config.
    #[error("{}", render_problems(file, problems))]
    Invalid {
        /// The config file.
        file: PathBuf,
        /// Every problem found, in file order.
        problems: Vec<Problem>,
    },
}

/// Someone who never gave a path is told how to give one: the default is a guess about
/// where a packaged install keeps its config, and a new user's config is elsewhere.
fn default_path_hint(file: &Path, cause: &std::io::Error) -> &'static str {
    if file == Path::new(DEFAULT_CONFIG_PATH) && cause.kind() == std::io::ErrorKind::NotFound {
        " (this is the default path; name your config with --config PATH or $PARLEYD_CONFIG)"
    } else {
        ""
    }
}

fn render_problems(file: &Path, problems: &[Problem]) -> String {
    let mut out = format!(
        "{}: {} problem{} found",
        file.display(),
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    for problem in problems {
        out.push_str(&format!(
            "\n  {}: {}: {}",
            file.display(),
            problem.key,
            problem.why
        ));
    }
    out
}

impl Config {
    /// The keys whose secret is written in the file itself (`sinks[0].url`), rather than
    /// read from the environment or a systemd credential.
    pub fn inline_secrets(&self) -> Vec<String> {
        let mut keys = Vec::new();
        for (index, sink) in self.sinks.iter().enumerate() {
            let mut inline = |key: &str, secret: bool| {
                if secret {
                    keys.push(format!("sinks[{index}].{key}"));
                }
            };
            if let Some(url) = sink.kind.url() {
                inline("url", url.is_inline());
            }
            match &sink.kind {
                SinkKind::Webhook { signing_key, .. } => {
                    inline(
                        "secret",
                        signing_key.as_ref().is_some_and(SigningKey::is_inline),
                    );
                }
                SinkKind::Ntfy { token, .. } => {
                    inline("token", token.as_ref().is_some_and(Secret::is_inline));
                }
                SinkKind::Email(email) => {
                    if let Some((_, password)) = &email.credentials {
                        inline("password", password.is_inline());
                    }
                }
                _ => {}
            }
        }
        keys
    }

    /// A warning for each secret written in the file itself when users other than the
    /// file's owner may read it (group or others have read permission); none when the
    /// file's mode cannot be read.
    fn exposed_secrets(&self) -> Vec<Problem> {
        use std::os::unix::fs::PermissionsExt;
        let inline = self.inline_secrets();
        if inline.is_empty() {
            return Vec::new();
        }
        let Ok(metadata) = std::fs::metadata(&self.source) else {
            return Vec::new();
        };
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o044 == 0 {
            return Vec::new();
        }
        inline
            .into_iter()
            .map(|key| Problem {
                key,
                why: format!(
                    "holds a secret inline and users other than the file's owner can read the file (mode {mode:03o}); run `chmod 600` on it, or take the secret from the environment or a systemd credential"
                ),
            })
            .collect()
    }

    /// Loads and validates a config file, resolving `${VAR}` from the process environment.
    ///
    /// # Errors
    /// [`ConfigError::Read`] if the file cannot be read, [`ConfigError::Invalid`] with every
    /// problem found otherwise.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Config::load_with_env(path, &|name| std::env::var(name).ok())
    }

    /// Loads and validates a config file without resolving its sinks' secrets (see
    /// [`SinkSecrets::Leave`]).
    ///
    /// # Errors
    /// As [`Config::load`], except that a missing variable or credential is no problem.
    pub fn load_without_sink_secrets(path: &Path) -> Result<Config, ConfigError> {
        let text = read_text(path)?;
        Config::validate_text(&text, path, &|_| None, SinkSecrets::Leave)
    }

    /// Like [`Config::load`], with an explicit variable lookup (for tests).
    ///
    /// # Errors
    /// As [`Config::load`].
    pub fn load_with_env(
        path: &Path,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let text = read_text(path)?;
        Config::from_str_with_env(&text, path, lookup)
    }

    /// What is valid but almost certainly not meant: sink URLs that are still an example's
    /// placeholder, and secrets written inline in a file others may read. `check-config`
    /// prints these and the daemon logs them at start; neither refuses the config, since a
    /// placeholder may be on purpose in a test setup.
    pub fn warnings(&self) -> Vec<Problem> {
        let mut warnings = placeholder::placeholder_warnings(self);
        warnings.extend(self.exposed_secrets());
        warnings
    }

    /// Parses and validates config text as if it were read from `path`.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] with every problem found.
    pub fn from_str_with_env(
        text: &str,
        path: &Path,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        Config::validate_text(text, path, lookup, SinkSecrets::Resolve)
    }

    fn validate_text(
        text: &str,
        path: &Path,
        lookup: &dyn Fn(&str) -> Option<String>,
        secrets: SinkSecrets,
    ) -> Result<Config, ConfigError> {
        let base_dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        validate::validate(text, path, &base_dir, lookup, secrets).map_err(|problems| {
            ConfigError::Invalid {
                file: path.to_path_buf(),
                problems,
            }
        })
    }
}

/// A config file's text, or why it cannot be had.
fn read_text(path: &Path) -> Result<String, ConfigError> {
    let bytes = std::fs::read(path).map_err(|cause| ConfigError::Read {
        file: path.to_path_buf(),
        cause,
    })?;
    String::from_utf8(bytes).map_err(|err| ConfigError::Invalid {
        file: path.to_path_buf(),
        problems: vec![Problem {
            key: "(file)".into(),
            why: format!(
                "is not valid UTF-8 (first bad byte at offset {})",
                err.utf8_error().valid_up_to()
            ),
        }],
    })
}
