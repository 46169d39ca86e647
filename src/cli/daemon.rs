//! `parleyd run` and `parleyd once`, with the signal handling and SIGHUP reload of `run`.

use super::{load_config, runtime};
use anyhow::{Context, Result};
use parleyd::config::Config;
use parleyd::daemon;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;

pub(super) fn run_once(path: &Path) -> Result<ExitCode> {
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

pub(super) fn run_daemon(path: &Path) -> Result<ExitCode> {
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

/// The first SIGTERM or SIGINT starts a graceful shutdown; a second one exits at once (130),
/// without a log line that could stand in its way.
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
            // Act first, log after: whatever happens to the log line, the stop has begun.
            if round == 0 {
                shutdown.cancel();
                tracing::info!(signal = name, "Received a stop signal.");
            } else {
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
            for warning in config.warnings() {
                tracing::warn!(file = %config.source.display(), key = %warning.key, why = %warning.why, "Config warning.");
            }
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
