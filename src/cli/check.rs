//! `parleyd check-config`: validates the config and prints what would run.

use anyhow::Result;
use parleyd::classify::Classifier;
use parleyd::config::{Config, ProfileSource, SinkKind};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

pub(super) fn check_config(path: &Path) -> Result<ExitCode> {
    let config = match Config::load(path) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("{err}");
            return Ok(ExitCode::from(2));
        }
    };
    for warning in config.warnings() {
        eprintln!(
            "{}: {}: warning: {}",
            config.source.display(),
            warning.key,
            warning.why
        );
    }
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
        parleyd::duration::human(config.poll.interval),
        config.poll.concurrency,
        parleyd::duration::human(config.poll.timeout),
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
            parleyd::duration::human(feed.interval)
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
            SinkKind::Webhook { url, signing_key } => {
                let host = url::Url::parse(url.expose())
                    .ok()
                    .and_then(|u| u.host_str().map(String::from))
                    .unwrap_or_default();
                let signed = signing_key
                    .as_ref()
                    .map(|s| format!(", signed with the secret from {}", s.origin()))
                    .unwrap_or_default();
                format!("webhook to {host}, URL from {}{signed}", url.origin())
            }
            SinkKind::Discord { url, .. } => format!("discord, URL from {}", url.origin()),
            SinkKind::Teams { url } => format!("teams, URL from {}", url.origin()),
            SinkKind::Ntfy { url, token, .. } => {
                let auth = token
                    .as_ref()
                    .map(|t| format!(", token from {}", t.origin()))
                    .unwrap_or_default();
                format!("ntfy, topic URL from {}{auth}", url.origin())
            }
            SinkKind::Email(email) => {
                let tls = match email.tls {
                    parleyd::config::SmtpTls::Starttls => "STARTTLS",
                    parleyd::config::SmtpTls::Tls => "TLS",
                    parleyd::config::SmtpTls::None => "no TLS",
                };
                let login = email
                    .credentials
                    .as_ref()
                    .map(|(_, password)| format!(", password from {}", password.origin()))
                    .unwrap_or_default();
                format!(
                    "email via {}:{} ({tls}{login}) to {} recipient{}",
                    email.host,
                    email.port,
                    email.to.len(),
                    if email.to.len() == 1 { "" } else { "s" }
                )
            }
        };
        writeln!(out, "    {:<24} {detail}", sink.name)?;
    }
    Ok(ExitCode::SUCCESS)
}
