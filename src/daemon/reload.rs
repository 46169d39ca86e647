//! A config reload: a new pipeline for the new config on the running store.
//!
//! Feeds that stay keep their state; [`super::run`] swaps the running tasks.

use super::StartError;
use super::pipeline::Pipeline;
use crate::config::Config;

/// A pipeline for a reloaded config, on the running store.
pub(super) fn reload(current: &Pipeline, config: Config) -> Result<Pipeline, StartError> {
    if config.storage.path != current.config().storage.path {
        tracing::warn!(
            old = %current.config().storage.path.display(),
            new = %config.storage.path.display(),
            "storage.path changed; it takes effect at the next restart."
        );
    }
    let old: Vec<&str> = current
        .config()
        .feeds
        .iter()
        .map(|f| f.url.as_str())
        .collect();
    let new: Vec<&str> = config.feeds.iter().map(|f| f.url.as_str()).collect();
    let added = new.iter().filter(|u| !old.contains(u)).count();
    let removed = old.iter().filter(|u| !new.contains(u)).count();
    let next = Pipeline::with_store(config, current.store().clone())?;
    tracing::info!(
        feeds = next.config().feeds.len(),
        added,
        removed,
        sinks = next.config().sinks.len(),
        "Config reloaded."
    );
    Ok(next)
}
