//! `parleyd alerts`: list the outbox, sent and dead alerts, re-queue dead ones, send a test.

use super::{open_store, runtime};
use anyhow::Result;
use clap::Subcommand;
use parleyd::config::Config;
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

pub(super) fn retry_alerts(path: &Path, id: Option<&str>, all_dead: bool) -> Result<ExitCode> {
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
