//! `parleyd alerts`: list the outbox, sent and dead alerts, re-queue dead ones, send a test.

use super::access::StoreAccess;
use super::runtime;
use anyhow::Result;
use clap::Subcommand;
use parleyd::config::Config;
use parleyd::control::{RetryRequest, report};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub(super) enum AlertsCommand {
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
pub(super) enum AlertState {
    Pending,
    Sent,
    Dead,
}

pub(super) fn list_alerts(path: &Path, only: Option<AlertState>, json: bool) -> Result<ExitCode> {
    let config = Config::load_without_sink_secrets(path)?;
    let only = only.map(|state| match state {
        AlertState::Pending => report::AlertState::Pending,
        AlertState::Sent => report::AlertState::Sent,
        AlertState::Dead => report::AlertState::Dead,
    });
    let rows = StoreAccess::open(&config)?.alerts(only)?;
    let mut out = std::io::stdout().lock();
    if !json {
        writeln!(
            out,
            "{:<8} {:<32} {:<12} {:>3}  {:<20}  TITLE",
            "STATE", "ID", "SINK", "TRY", "QUEUED"
        )?;
    }
    for alert in &rows {
        if json {
            writeln!(out, "{}", serde_json::to_string(alert)?)?;
        } else {
            let title: String = alert
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
                "{:<8} {:<32} {:<12} {:>3}  {:<20}  {title}{error}",
                alert.state.as_str(),
                alert.id,
                alert.sink,
                alert.attempts,
                alert.queued.format("%Y-%m-%d %H:%M:%S"),
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn retry_alerts(path: &Path, id: Option<&str>, all_dead: bool) -> Result<ExitCode> {
    anyhow::ensure!(
        id.is_some() || all_dead,
        "say which alert to retry: an id, or --all-dead"
    );
    let config = Config::load_without_sink_secrets(path)?;
    let request = RetryRequest {
        id: id.map(str::to_string),
        all_dead,
    };
    let moved = StoreAccess::open(&config)?.retry(&request)?;
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

pub(super) fn test_alert(path: &Path, sink_name: &str) -> Result<ExitCode> {
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
    match runtime()?.block_on(notifier.send(
        sink,
        &alert,
        &parleyd::model::StorySummary::alone(&alert),
    )) {
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
