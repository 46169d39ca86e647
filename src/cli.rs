//! Subcommands: argument shapes (clap) and what each one does.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use parleyd::classify::eval::{Labelled, evaluate};
use parleyd::classify::{Classifier, DEFAULT_PROFILE, Profile, builtin_profile};
use parleyd::config::{Config, LogFormat, ProfileSource, SinkKind};
use parleyd::{daemon, telemetry};
use serde::Deserialize;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;

/// Watches news feeds and alerts when new talks or a new channel between two parties is reported.
#[derive(Debug, Parser)]
#[command(name = "parleyd", version, about)]
pub(crate) struct Cli {
    /// The config file.
    #[arg(
        long,
        short,
        global = true,
        env = "PARLEYD_CONFIG",
        default_value = parleyd::config::DEFAULT_CONFIG_PATH
    )]
    config: PathBuf,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the daemon: poll every feed on its interval until SIGTERM or SIGINT.
    Run,
    /// Poll every feed once, classify, deliver pending alerts, exit.
    Once,
    /// Validate the config, list every problem, and show what would run.
    CheckConfig,
    /// Classify JSON Lines from stdin ({"id", "title", "summary"}), one verdict line each.
    Classify {
        /// A profile file; the built-in default profile when absent.
        #[arg(long)]
        profile: Option<PathBuf>,
    },
    /// Print what parleyd reads from one feed: one JSON line per article with its verdict.
    Preview {
        /// A feed URL (http, https, file) or a path to a feed file.
        target: String,
        /// A profile file; the built-in default profile when absent.
        #[arg(long)]
        profile: Option<PathBuf>,
    },
    /// Score the classifier on a labelled JSON Lines file (a `label` field on each line).
    Eval {
        /// The labelled file.
        file: PathBuf,
        /// A profile file; the built-in default profile when absent.
        #[arg(long)]
        profile: Option<PathBuf>,
        /// Only items whose `split` field has this value.
        #[arg(long)]
        split: Option<String>,
        /// Exit 1 if precision is below this.
        #[arg(long)]
        min_precision: Option<f64>,
        /// Exit 1 if recall is below this.
        #[arg(long)]
        min_recall: Option<f64>,
        /// Exit 1 if F1 is below this.
        #[arg(long)]
        min_f1: Option<f64>,
    },
    /// Store size and counts.
    Stats {
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Re-score stored articles under a profile and print what would have alerted (sends
    /// nothing).
    Replay {
        /// How far back, e.g. "7d" or "36h".
        #[arg(long, default_value = "7d")]
        since: String,
        /// A profile file; the config's profile when absent.
        #[arg(long)]
        profile: Option<PathBuf>,
    },
    /// Show each feed's health: last success, last error, failures in a row, items, next poll.
    Feeds {
        #[command(subcommand)]
        action: Option<FeedsCommand>,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// List alerts (pending, sent, dead), re-queue dead ones, or send a test alert.
    Alerts {
        #[command(subcommand)]
        action: Option<AlertsCommand>,
        /// Only alerts in this state.
        #[arg(long, value_enum)]
        state: Option<AlertState>,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Build or show topic profiles.
    #[command(subcommand)]
    Profile(ProfileCommand),
}

#[derive(Debug, Subcommand)]
enum FeedsCommand {
    /// Turn an OPML export from a feed reader into [[feeds]] entries.
    Import {
        /// The OPML file.
        file: PathBuf,
        /// Append the new feeds to this config file instead of printing them.
        #[arg(long)]
        append: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum AlertsCommand {
    /// Re-queue a dead-lettered alert by id, or all of them.
    Retry {
        /// The alert id (as `parleyd alerts` shows it).
        id: Option<String>,
        /// Re-queue every dead-lettered alert.
        #[arg(long, conflicts_with = "id")]
        all_dead: bool,
    },
    /// Send a test alert through one configured sink, now.
    Test {
        /// The sink's name.
        sink: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum AlertState {
    Pending,
    Sent,
    Dead,
}

#[derive(Debug, Subcommand)]
enum ProfileCommand {
    /// Build a profile from a corpus folder (lexicon.toml plus .txt articles).
    Build {
        /// The corpus folder.
        dir: PathBuf,
        /// Where to write the profile.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Print a profile (the built-in default when no file is given).
    Show {
        /// A profile file.
        file: Option<PathBuf>,
    },
}

pub(crate) fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Run => run_daemon(&cli.config),
        Command::Once => run_once(&cli.config),
        Command::CheckConfig => check_config(&cli.config),
        Command::Classify { profile } => classify(profile.as_deref()),
        Command::Preview { target, profile } => preview(&target, profile.as_deref()),
        Command::Feeds {
            action: Some(FeedsCommand::Import { file, append }),
            ..
        } => import_opml(&file, append.as_deref()),
        Command::Feeds { action: None, json } => feeds(&cli.config, json),
        Command::Stats { json } => stats(&cli.config, json),
        Command::Replay { since, profile } => replay(&cli.config, &since, profile.as_deref()),
        Command::Eval {
            file,
            profile,
            split,
            min_precision,
            min_recall,
            min_f1,
        } => eval(
            &file,
            profile.as_deref(),
            split.as_deref(),
            Floors {
                precision: min_precision,
                recall: min_recall,
                f1: min_f1,
            },
        ),
        Command::Alerts {
            action: None,
            state,
            json,
        } => list_alerts(&cli.config, state, json),
        Command::Alerts {
            action: Some(AlertsCommand::Retry { id, all_dead }),
            ..
        } => retry_alerts(&cli.config, id.as_deref(), all_dead),
        Command::Alerts {
            action: Some(AlertsCommand::Test { sink }),
            ..
        } => test_alert(&cli.config, &sink),
        Command::Profile(ProfileCommand::Build { dir, output }) => profile_build(&dir, &output),
        Command::Profile(ProfileCommand::Show { file }) => profile_show(file.as_deref()),
    }
}

fn load_config(path: &Path) -> Result<Config> {
    let config = Config::load(path)?;
    telemetry::init(&config.log.level, config.log.format);
    Ok(config)
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn run_once(path: &Path) -> Result<ExitCode> {
    let config = load_config(path)?;
    let report = runtime()?.block_on(daemon::once(config))?;
    tracing::info!(
        feeds_ok = report.feeds_ok,
        feeds_failed = report.feeds_failed,
        new_articles = report.new_articles,
        queued = report.queued,
        sent = report.sent,
        delivery_failed = report.delivery_failed,
        dead = report.dead,
        "Cycle finished."
    );
    Ok(if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn run_daemon(path: &Path) -> Result<ExitCode> {
    let config = load_config(path)?;
    let rt = runtime()?;
    rt.block_on(async {
        let shutdown = CancellationToken::new();
        let (reload_tx, reload_rx) = tokio::sync::mpsc::channel(4);
        spawn_signal_handler(shutdown.clone(), path.to_path_buf(), reload_tx)?;
        daemon::run(config, reload_rx, shutdown).await?;
        Ok(ExitCode::SUCCESS)
    })
}

/// The first SIGTERM or SIGINT starts a graceful shutdown; a second one exits at once.
/// SIGHUP re-reads the config: a valid one is handed to the daemon, an invalid one is
/// logged problem by problem and the running config stays.
fn spawn_signal_handler(
    shutdown: CancellationToken,
    path: PathBuf,
    reloads: tokio::sync::mpsc::Sender<Config>,
) -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
    let mut hup = signal(SignalKind::hangup()).context("cannot listen for SIGHUP")?;
    tokio::spawn(async move {
        for round in 0.. {
            let name = loop {
                tokio::select! {
                    _ = term.recv() => break "SIGTERM",
                    _ = int.recv() => break "SIGINT",
                    _ = hup.recv() => reload_config(&path, &reloads).await,
                }
            };
            if round == 0 {
                tracing::info!(signal = name, "Received a stop signal.");
                shutdown.cancel();
            } else {
                tracing::warn!(signal = name, "Second stop signal: exiting now.");
                std::process::exit(130);
            }
        }
    });
    Ok(())
}

async fn reload_config(path: &Path, reloads: &tokio::sync::mpsc::Sender<Config>) {
    tracing::info!(config = %path.display(), "SIGHUP: reloading the config.");
    match Config::load(path) {
        Ok(config) => {
            if reloads.send(config).await.is_err() {
                tracing::warn!("The daemon is stopping; the reload is dropped.");
            }
        }
        Err(parleyd::config::ConfigError::Invalid { file, problems }) => {
            for problem in &problems {
                tracing::error!(file = %file.display(), key = %problem.key, why = %problem.why, "Config problem.");
            }
            tracing::error!(
                problems = problems.len(),
                "Reload refused; the running config stays."
            );
        }
        Err(err) => tracing::error!(error = %err, "Reload refused; the running config stays."),
    }
}

fn check_config(path: &Path) -> Result<ExitCode> {
    let config = match Config::load(path) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("{err}");
            return Ok(ExitCode::from(2));
        }
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}: OK", config.source.display())?;
    writeln!(out, "  storage:  {}", config.storage.path.display())?;
    let profile = match &config.classifier.profile {
        ProfileSource::Builtin(name) => format!("builtin:{name}"),
        ProfileSource::Path(path) => path.display().to_string(),
    };
    match Classifier::from_source(&config.classifier.profile, config.classifier.threshold) {
        Ok(classifier) => writeln!(
            out,
            "  profile:  {profile} (threshold {:.2})",
            classifier.threshold()
        )?,
        Err(err) => {
            eprintln!("{}: classifier.profile: {err}", config.source.display());
            return Ok(ExitCode::from(2));
        }
    }
    writeln!(
        out,
        "  polling:  every {} by default, {} at once, timeout {}, first poll {}",
        humantime::format_duration(config.poll.interval),
        config.poll.concurrency,
        humantime::format_duration(config.poll.timeout),
        if config.poll.alert_on_first_poll {
            "alerts on the backlog"
        } else {
            "stores the backlog without alerting"
        }
    )?;
    writeln!(out, "  feeds ({}):", config.feeds.len())?;
    for feed in &config.feeds {
        writeln!(
            out,
            "    {:<24} {}  every {}",
            feed.name,
            feed.display_url(),
            humantime::format_duration(feed.interval)
        )?;
    }
    writeln!(out, "  sinks ({}):", config.sinks.len())?;
    if config.sinks.is_empty() {
        writeln!(out, "    (none: matches are stored but nobody is alerted)")?;
    }
    for sink in &config.sinks {
        let detail = match &sink.kind {
            SinkKind::Stdout { json } => {
                format!("stdout ({})", if *json { "json" } else { "text" })
            }
            SinkKind::Slack { url, .. } => format!("slack, URL from {}", url.origin()),
            SinkKind::Webhook { url, secret } => {
                let host = url::Url::parse(url.expose())
                    .ok()
                    .and_then(|u| u.host_str().map(String::from))
                    .unwrap_or_default();
                let signed = secret
                    .as_ref()
                    .map(|s| format!(", signed with the secret from {}", s.origin()))
                    .unwrap_or_default();
                format!("webhook to {host}, URL from {}{signed}", url.origin())
            }
        };
        writeln!(out, "    {:<24} {detail}", sink.name)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// One input line of `parleyd classify`.
#[derive(Debug, Deserialize)]
struct ClassifyInput {
    #[serde(default)]
    id: serde_json::Value,
    #[serde(default)]
    title: String,
    #[serde(default)]
    summary: String,
}

/// One output line of `parleyd classify`, fields in the documented order.
#[derive(Debug, serde::Serialize)]
struct ClassifyOutput {
    id: serde_json::Value,
    relevant: bool,
    event: Option<parleyd::Event>,
    score: f64,
    reasons: Vec<String>,
}

fn load_classifier(profile: Option<&Path>) -> Result<Classifier> {
    let profile = match profile {
        Some(path) => Profile::load(path)?,
        None => builtin_profile(DEFAULT_PROFILE)?,
    };
    Ok(Classifier::new(profile, None))
}

fn classify(profile: Option<&Path>) -> Result<ExitCode> {
    telemetry::init("warn", LogFormat::Human);
    let classifier = load_classifier(profile)?;
    let stdin = std::io::stdin().lock();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut bad_lines = 0;
    for (index, line) in stdin.split(b'\n').enumerate() {
        let line = line.context("cannot read standard input")?;
        let text = String::from_utf8_lossy(&line);
        if text.trim().is_empty() {
            continue;
        }
        let result = match serde_json::from_str::<ClassifyInput>(&text) {
            Ok(input) => {
                let verdict = classifier.classify(&input.title, &input.summary);
                serde_json::to_value(ClassifyOutput {
                    id: input.id,
                    relevant: verdict.relevant,
                    event: verdict.event,
                    score: verdict.score,
                    reasons: verdict.reasons,
                })?
            }
            Err(err) => {
                bad_lines += 1;
                serde_json::json!({
                    "id": null,
                    "error": format!("line {}: not an article object: {err}", index + 1),
                })
            }
        };
        serde_json::to_writer(&mut out, &result)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(if bad_lines == 0 {
        ExitCode::SUCCESS
    } else {
        eprintln!("parleyd: {bad_lines} input line(s) were not article objects");
        ExitCode::from(1)
    })
}

fn preview(target: &str, profile: Option<&Path>) -> Result<ExitCode> {
    telemetry::init("warn", LogFormat::Human);
    let url = match url::Url::parse(target) {
        Ok(url) if matches!(url.scheme(), "http" | "https" | "file") => url,
        _ => {
            let path = std::fs::canonicalize(target)
                .with_context(|| format!("{target} is neither a feed URL nor a readable file"))?;
            url::Url::from_file_path(&path)
                .map_err(|()| anyhow::anyhow!("cannot make a file URL of {}", path.display()))?
        }
    };
    let feed = parleyd::config::FeedConfig {
        name: parleyd::config::display_url(&url),
        url,
        interval: parleyd::config::DEFAULT_INTERVAL,
        alert_on_first_poll: false,
    };
    let classifier = load_classifier(profile)?;
    let poller = parleyd::poll::Poller::new(&parleyd::config::PollConfig::default())?;
    let fetched =
        runtime()?.block_on(poller.fetch(&feed, &parleyd::poll::Validators::default()))?;
    let parleyd::poll::Fetched::Body(body) = fetched else {
        anyhow::bail!(
            "{}: the server answered 304 Not Modified to an unconditional request",
            feed.name
        );
    };
    let parsed = parleyd::parse::parse_feed(
        &body.bytes,
        body.content_type.as_deref(),
        parleyd::parse::Source {
            name: &feed.name,
            url: &feed.url,
        },
        chrono::Utc::now(),
    )?;
    eprintln!(
        "{}: {} item(s){}{}",
        feed.name,
        parsed.articles.len(),
        parsed
            .title
            .as_deref()
            .map(|t| format!(", feed title \"{t}\""))
            .unwrap_or_default(),
        parsed
            .recovered
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default()
    );
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for article in &parsed.articles {
        let verdict = classifier.classify_article(article);
        let line = serde_json::json!({
            "key": article.key,
            "title": article.title,
            "link": article.link,
            "published": article.published.map(|p| p.to_rfc3339()),
            "summary": article.summary,
            "verdict": {
                "relevant": verdict.relevant,
                "event": verdict.event,
                "score": verdict.score,
                "reasons": verdict.reasons,
            },
        });
        serde_json::to_writer(&mut out, &line)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn feeds(path: &Path, json: bool) -> Result<ExitCode> {
    let config = Config::load(path)?;
    let store = open_store(&config)?;
    let mut out = std::io::stdout().lock();
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map_or_else(
            || "-".to_string(),
            |t| t.format("%Y-%m-%d %H:%M:%S").to_string(),
        )
    };
    if !json {
        writeln!(
            out,
            "{:<24} {:<8} {:<19}  {:<19}  {:>4} {:>6}  LAST ERROR",
            "FEED", "HEALTH", "LAST SUCCESS", "NEXT POLL", "FAIL", "ITEMS"
        )?;
    }
    for feed in &config.feeds {
        let state = store.feed_state(feed.url.as_str())?.unwrap_or_default();
        let health = state.health();
        if json {
            let line = serde_json::json!({
                "name": feed.name,
                "url": feed.display_url(),
                "health": health,
                "last_success": state.last_success.map(|t| t.to_rfc3339()),
                "last_attempt": state.last_attempt.map(|t| t.to_rfc3339()),
                "last_error": state.last_error,
                "last_error_kind": state.last_error_kind,
                "consecutive_failures": state.consecutive_failures,
                "items_seen": state.items_seen,
                "next_poll": state.next_poll.map(|t| t.to_rfc3339()),
                "moved_to": state.moved_to,
                "title": state.title,
            });
            writeln!(out, "{line}")?;
        } else {
            let error = match (&state.last_error_kind, state.consecutive_failures) {
                (Some(kind), n) if n > 0 => {
                    format!("{kind}: {}", state.last_error.as_deref().unwrap_or(""))
                }
                _ => String::new(),
            };
            writeln!(
                out,
                "{:<24} {:<8} {:<19}  {:<19}  {:>4} {:>6}  {}",
                feed.name.chars().take(24).collect::<String>(),
                health,
                time(state.last_success),
                time(state.next_poll),
                state.consecutive_failures,
                state.items_seen,
                error.chars().take(100).collect::<String>(),
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn import_opml(file: &Path, append: Option<&Path>) -> Result<ExitCode> {
    let text = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let outlines = parleyd::config::opml::feeds(&String::from_utf8_lossy(&text));
    anyhow::ensure!(
        !outlines.is_empty(),
        "{}: no <outline> with an xmlUrl; is it an OPML export?",
        file.display()
    );
    let existing: Vec<String> = match append {
        Some(config) => {
            let text = std::fs::read_to_string(config)
                .with_context(|| format!("cannot read {}", config.display()))?;
            let table: toml::Table = toml::from_str(&text).map_err(|e| {
                anyhow::anyhow!("{}: not valid TOML: {}", config.display(), e.message())
            })?;
            table
                .get("feeds")
                .and_then(|f| f.as_array())
                .map(|feeds| {
                    feeds
                        .iter()
                        .filter_map(|f| f.get("url")?.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        }
        None => Vec::new(),
    };
    let mut entries = String::new();
    let mut added = 0;
    for outline in outlines.iter().filter(|o| !existing.contains(&o.url)) {
        entries.push_str("\n[[feeds]]\n");
        entries.push_str(&format!(
            "url = {}\n",
            toml::Value::String(outline.url.clone())
        ));
        if let Some(title) = &outline.title {
            entries.push_str(&format!("name = {}\n", toml::Value::String(title.clone())));
        }
        added += 1;
    }
    match append {
        None => print!("{entries}"),
        Some(config) => {
            let mut text = std::fs::read_to_string(config)?;
            text.push_str(&entries);
            toml::from_str::<toml::Table>(&text).map_err(|e| {
                anyhow::anyhow!(
                    "appending would break {}: {}",
                    config.display(),
                    e.message()
                )
            })?;
            std::fs::write(config, text)
                .with_context(|| format!("cannot write {}", config.display()))?;
            eprintln!(
                "added {added} feed(s) to {} ({} already there); check it with `parleyd check-config`",
                config.display(),
                outlines.len() - added
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn stats(path: &Path, json: bool) -> Result<ExitCode> {
    let config = Config::load(path)?;
    let stats = open_store(&config)?.stats()?;
    if json {
        println!("{}", serde_json::to_string(&stats)?);
    } else {
        println!("store:        {}", config.storage.path.display());
        println!(
            "size on disk: {:.1} MiB",
            stats.size_on_disk as f64 / (1024.0 * 1024.0)
        );
        println!("articles:     {}", stats.articles);
        println!("feeds:        {}", stats.feeds);
        println!("stories:      {}", stats.stories);
        println!(
            "alerts:       {} pending, {} sent, {} dead",
            stats.pending, stats.sent, stats.dead
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn replay(path: &Path, since: &str, profile: Option<&Path>) -> Result<ExitCode> {
    let config = Config::load(path)?;
    let since = humantime::parse_duration(since)
        .with_context(|| format!("--since `{since}` is not a duration such as \"7d\""))?;
    let classifier = match profile {
        Some(_) => load_classifier(profile)?,
        None => Classifier::from_source(&config.classifier.profile, config.classifier.threshold)?,
    };
    let store = open_store(&config)?;
    let cutoff = chrono::Utc::now() - chrono::Duration::from_std(since)?;
    let articles = store.articles_since(cutoff)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut would_alert = 0;
    for stored in &articles {
        let verdict = classifier.classify_article(&stored.article);
        if !verdict.relevant {
            continue;
        }
        would_alert += 1;
        let line = serde_json::json!({
            "first_seen": stored.article.first_seen.to_rfc3339(),
            "feed": stored.article.feed,
            "title": stored.article.title,
            "link": stored.article.link,
            "event": verdict.event,
            "score": verdict.score,
            "was_relevant": stored.verdict.as_ref().map(|v| v.relevant),
            "reasons": verdict.reasons,
        });
        serde_json::to_writer(&mut out, &line)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    eprintln!(
        "{would_alert} of {} stored articles since {} would alert (nothing was sent)",
        articles.len(),
        cutoff.format("%Y-%m-%d %H:%M")
    );
    Ok(ExitCode::SUCCESS)
}

fn open_store(config: &Config) -> Result<parleyd::Store> {
    Ok(parleyd::Store::open(
        &config.storage.path,
        config.storage.cache_capacity,
    )?)
}

fn list_alerts(path: &Path, only: Option<AlertState>, json: bool) -> Result<ExitCode> {
    let config = Config::load(path)?;
    let store = open_store(&config)?;
    let mut rows: Vec<(
        AlertState,
        parleyd::Alert,
        Option<chrono::DateTime<chrono::Utc>>,
    )> = Vec::new();
    let wanted = |state: AlertState| only.is_none_or(|o| o == state);
    if wanted(AlertState::Pending) {
        rows.extend(
            store
                .pending_alerts()?
                .into_iter()
                .map(|a| (AlertState::Pending, a, None)),
        );
    }
    if wanted(AlertState::Sent) {
        rows.extend(
            store
                .sent_alerts()?
                .into_iter()
                .map(|s| (AlertState::Sent, s.alert, Some(s.sent_at))),
        );
    }
    if wanted(AlertState::Dead) {
        rows.extend(
            store
                .dead_alerts()?
                .into_iter()
                .map(|a| (AlertState::Dead, a, None)),
        );
    }
    rows.sort_by_key(|(_, alert, _)| alert.created);
    let mut out = std::io::stdout().lock();
    if !json {
        writeln!(
            out,
            "{:<8} {:<32} {:<12} {:>3}  {:<20}  TITLE",
            "STATE", "ID", "SINK", "TRY", "QUEUED"
        )?;
    }
    for (state, alert, sent_at) in &rows {
        let state_name = match state {
            AlertState::Pending => "pending",
            AlertState::Sent => "sent",
            AlertState::Dead => "dead",
        };
        if json {
            let also = store.also_reported_by(alert)?;
            let line = serde_json::json!({
                "state": state_name,
                "id": alert.id,
                "sink": alert.sink,
                "attempts": alert.attempts,
                "queued": alert.created.to_rfc3339(),
                "sent_at": sent_at.map(|t| t.to_rfc3339()),
                "next_attempt": alert.next_attempt.to_rfc3339(),
                "last_error": alert.last_error,
                "event": alert.verdict.event,
                "score": alert.verdict.score,
                "title": alert.article.title,
                "link": alert.article.link,
                "feed": alert.article.feed,
                "also_reported_by": also,
            });
            writeln!(out, "{line}")?;
        } else {
            let title: String = alert
                .article
                .title
                .chars()
                .filter(|c| !c.is_control())
                .take(70)
                .collect();
            let error = alert
                .last_error
                .as_deref()
                .map(|e| format!("  [{e}]"))
                .unwrap_or_default();
            writeln!(
                out,
                "{state_name:<8} {:<32} {:<12} {:>3}  {:<20}  {title}{error}",
                alert.id,
                alert.sink,
                alert.attempts,
                alert.created.format("%Y-%m-%d %H:%M:%S"),
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn retry_alerts(path: &Path, id: Option<&str>, all_dead: bool) -> Result<ExitCode> {
    anyhow::ensure!(
        id.is_some() || all_dead,
        "say which alert to retry: an id, or --all-dead"
    );
    let config = Config::load(path)?;
    let store = open_store(&config)?;
    let moved = store.retry_dead(id, chrono::Utc::now())?;
    runtime()?.block_on(store.flush())?;
    if moved == 0 {
        eprintln!(
            "parleyd: no dead-lettered alert{}",
            id.map(|id| format!(" with id {id}")).unwrap_or_default()
        );
        return Ok(ExitCode::from(1));
    }
    println!("re-queued {moved} alert(s); the daemon or the next `parleyd once` delivers them");
    Ok(ExitCode::SUCCESS)
}

fn test_alert(path: &Path, sink_name: &str) -> Result<ExitCode> {
    let config = Config::load(path)?;
    let Some(sink) = config.sinks.iter().find(|s| s.name == sink_name) else {
        let names: Vec<&str> = config.sinks.iter().map(|s| s.name.as_str()).collect();
        anyhow::bail!(
            "{}: no sink named `{sink_name}` (sinks: {})",
            path.display(),
            names.join(", ")
        );
    };
    let now = chrono::Utc::now();
    let alert = parleyd::Alert {
        id: format!("test-{}", now.timestamp_millis()),
        sink: sink.name.clone(),
        article: parleyd::Article {
            key: "test".into(),
            feed: "parleyd test".into(),
            feed_url: "https://parleyd.invalid/test".into(),
            title: "parleyd test alert: this sink works".into(),
            link: None,
            summary: "Sent by `parleyd alerts test`. No news here.".into(),
            published: Some(now),
            first_seen: now,
        },
        verdict: parleyd::Verdict {
            relevant: true,
            event: None,
            score: 1.0,
            reasons: vec!["a test sent by hand".into()],
        },
        created: now,
        attempts: 0,
        next_attempt: now,
        last_error: None,
        held: false,
    };
    let notifier = parleyd::notify::Notifier::new(&config.delivery)?;
    match runtime()?.block_on(notifier.send(sink, &alert, &[])) {
        Ok(()) => {
            println!("sink `{}` accepted the test alert", sink.name);
            Ok(ExitCode::SUCCESS)
        }
        Err(err) => {
            eprintln!("parleyd: {err}");
            Ok(ExitCode::from(1))
        }
    }
}

/// Minimum scores for `eval`.
struct Floors {
    precision: Option<f64>,
    recall: Option<f64>,
    f1: Option<f64>,
}

fn eval(
    file: &Path,
    profile: Option<&Path>,
    split: Option<&str>,
    floors: Floors,
) -> Result<ExitCode> {
    telemetry::init("warn", LogFormat::Human);
    let classifier = load_classifier(profile)?;
    let text = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let mut items = Vec::new();
    for (index, line) in String::from_utf8_lossy(&text).lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let item: Labelled = serde_json::from_str(line).with_context(|| {
            format!(
                "{}: line {}: not a labelled item",
                file.display(),
                index + 1
            )
        })?;
        if split.is_none_or(|wanted| item.split.as_deref() == Some(wanted)) {
            items.push(item);
        }
    }
    anyhow::ensure!(
        !items.is_empty(),
        "{}: no items to evaluate",
        file.display()
    );
    let report = evaluate(&classifier, &items);
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{} items{}: precision {:.3}, recall {:.3}, F1 {:.3}",
        report.items,
        split.map(|s| format!(" (split {s})")).unwrap_or_default(),
        report.precision(),
        report.recall(),
        report.f1()
    )?;
    writeln!(
        out,
        "TP {}  FP {}  FN {}  TN {}  event kind right in {} of {}",
        report.true_positives,
        report.false_positives,
        report.false_negatives,
        report.true_negatives,
        report.event_correct,
        report.event_checked
    )?;
    if !report.false_positive_items.is_empty() {
        writeln!(out, "\nfalse positives by category:")?;
        for (category, count) in report.false_positives_by_category() {
            writeln!(out, "  {category:<16} {count}")?;
        }
        writeln!(out, "\nfalse positives:")?;
        for miss in &report.false_positive_items {
            writeln!(out, "  {miss}")?;
        }
    }
    if !report.missed_items.is_empty() {
        writeln!(out, "\nmisses:")?;
        for miss in &report.missed_items {
            writeln!(out, "  {miss}")?;
        }
    }
    let mut failed = Vec::new();
    for (name, value, floor) in [
        ("precision", report.precision(), floors.precision),
        ("recall", report.recall(), floors.recall),
        ("F1", report.f1(), floors.f1),
    ] {
        if let Some(floor) = floor
            && value < floor
        {
            failed.push(format!("{name} {value:.3} is below the floor {floor:.3}"));
        }
    }
    if failed.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("parleyd: {}", failed.join("; "));
        Ok(ExitCode::from(1))
    }
}

fn profile_build(dir: &Path, output: &Path) -> Result<ExitCode> {
    let profile = Profile::build(dir)?;
    std::fs::write(output, profile.to_toml())
        .with_context(|| format!("cannot write {}", output.display()))?;
    eprintln!(
        "wrote {} ({} learned terms from {} documents)",
        output.display(),
        profile.learned.terms.len(),
        profile.learned.documents
    );
    Ok(ExitCode::SUCCESS)
}

fn profile_show(file: Option<&Path>) -> Result<ExitCode> {
    let profile = match file {
        Some(path) => Profile::load(path)?,
        None => builtin_profile(DEFAULT_PROFILE)?,
    };
    print!("{}", profile.to_toml());
    Ok(ExitCode::SUCCESS)
}
