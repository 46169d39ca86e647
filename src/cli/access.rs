//! How the store commands (`feeds`, `stats`, `alerts`, `alerts retry`, `replay`) reach the
//! store: directly when no process holds it, through the running daemon's control API when
//! one does. Both ways give the same rows ([`parleyd::control::report`]), so the commands
//! print the same either way.

use super::classify::load_classifier;
use anyhow::{Context, Result};
use parleyd::classify::Classifier;
use parleyd::config::Config;
use parleyd::control::{
    AlertRow, AlertState, Client, ControlError, FeedRow, ProfileText, ReplayReport, ReplayRequest,
    RetryRequest, report,
};
use parleyd::store::{Store, StoreError, StoreStats};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The store itself, or the daemon that holds it.
pub(super) enum StoreAccess {
    /// No process held the store: this command opened it.
    Direct(Store),
    /// A daemon holds it and answered on its control API.
    Daemon {
        client: Client,
        runtime: tokio::runtime::Runtime,
    },
}

/// A store this command opened is closed cleanly on every way out, so the next open finds
/// the clean-shutdown mark.
impl Drop for StoreAccess {
    fn drop(&mut self) {
        if let StoreAccess::Direct(store) = self
            && let Err(err) = store.close()
        {
            eprintln!("parleyd: {err}");
        }
    }
}

impl StoreAccess {
    /// Opens the store `config` names, or, when a process holds it, asks the daemon
    /// listening on the config's `[server] listen` address.
    ///
    /// # Errors
    /// When the store is held and no daemon answers (or refuses the token), naming the
    /// store and the address.
    pub(super) fn open(config: &Config) -> Result<StoreAccess> {
        let (path, cache) = (&config.storage.path, config.storage.cache_capacity);
        match Store::open_now(path, cache) {
            Ok(store) => return Ok(StoreAccess::Direct(store)),
            Err(StoreError::Locked { .. }) => {}
            Err(err) => return Err(err.into()),
        }
        let Some(listen) = config.server.listen else {
            anyhow::bail!(
                "the store at {} is in use by another process (a running parleyd?), and {} turns the control API off ([server] listen = \"off\"); stop the daemon, or turn the listener on and restart it",
                path.display(),
                config.source.display()
            );
        };
        let runtime = super::runtime()?;
        let asked = Client::new(listen, path).and_then(|client| {
            runtime.block_on(client.hello())?;
            Ok(client)
        });
        let api_error = match asked {
            Ok(client) => return Ok(StoreAccess::Daemon { client, runtime }),
            Err(err) => err,
        };
        // A process that has just stopped (or a `parleyd once`) holds the lock for a
        // moment and serves no API: wait for it, as opening normally does.
        match Store::open(path, cache) {
            Ok(store) => Ok(StoreAccess::Direct(store)),
            Err(StoreError::Locked { .. }) => match api_error {
                ControlError::Unreachable { .. } => Err(anyhow::Error::new(api_error).context(
                    format!(
                        "the store at {} is in use by another process, and its control API does not answer",
                        path.display()
                    ),
                )),
                other => Err(other.into()),
            },
            Err(err) => Err(err.into()),
        }
    }

    /// Every configured feed's health (the daemon's running config when asked).
    pub(super) fn feeds(&self, config: &Config) -> Result<Vec<FeedRow>> {
        match self {
            StoreAccess::Direct(store) => Ok(report::feeds(store, config)?),
            StoreAccess::Daemon { client, runtime } => Ok(runtime.block_on(client.feeds())?),
        }
    }

    /// The store directory and its counts.
    pub(super) fn stats(&self) -> Result<(PathBuf, StoreStats)> {
        match self {
            StoreAccess::Direct(store) => Ok((store.path().to_path_buf(), store.stats()?)),
            StoreAccess::Daemon { client, runtime } => Ok(runtime.block_on(client.stats())?),
        }
    }

    /// Alerts in one state, or all, oldest first.
    pub(super) fn alerts(&self, only: Option<AlertState>) -> Result<Vec<AlertRow>> {
        match self {
            StoreAccess::Direct(store) => Ok(report::alerts(store, only)?),
            StoreAccess::Daemon { client, runtime } => Ok(runtime.block_on(client.alerts(only))?),
        }
    }

    /// Re-queues dead alerts, durably; returns how many.
    pub(super) fn retry(&self, request: &RetryRequest) -> Result<usize> {
        match self {
            StoreAccess::Direct(store) => {
                let moved = report::retry(store, request)?;
                super::runtime()?.block_on(store.flush())?;
                Ok(moved)
            }
            StoreAccess::Daemon { client, runtime } => Ok(runtime.block_on(client.retry(request))?),
        }
    }

    /// Re-scores the articles of the last `since` under `profile` (the config's when
    /// absent; the daemon's running one when asked).
    pub(super) fn replay(
        &self,
        config: &Config,
        since: Duration,
        profile: Option<&Path>,
    ) -> Result<ReplayReport> {
        match self {
            StoreAccess::Direct(store) => {
                let classifier = match profile {
                    Some(_) => load_classifier(profile)?,
                    None => Classifier::from_source(
                        &config.classifier.profile,
                        config.classifier.threshold,
                    )?,
                };
                let cutoff = chrono::Utc::now() - chrono::Duration::from_std(since)?;
                Ok(report::replay(store, &classifier, cutoff)?)
            }
            StoreAccess::Daemon { client, runtime } => {
                let profile = match profile {
                    Some(path) => Some(ProfileText {
                        name: path.display().to_string(),
                        toml: std::fs::read_to_string(path)
                            .with_context(|| format!("cannot read {}", path.display()))?,
                    }),
                    None => None,
                };
                let request = ReplayRequest {
                    since_seconds: since.as_secs(),
                    profile,
                };
                Ok(runtime.block_on(client.replay(&request))?)
            }
        }
    }
}
