//! `parleyd feeds`: each feed's health from the store, and `feeds import` from OPML.

use super::access::StoreAccess;
use anyhow::{Context, Result};
use clap::Subcommand;
use parleyd::config::Config;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub(super) enum FeedsCommand {
    /// Turn an OPML export from a feed reader into [[feeds]] entries.
    Import {
        /// The OPML file.
        file: PathBuf,
        /// Append the new feeds to this config file instead of printing them.
        #[arg(long)]
        append: Option<PathBuf>,
    },
}

pub(super) fn feeds(path: &Path, json: bool) -> Result<ExitCode> {
    let config = Config::load_without_sink_secrets(path)?;
    let rows = StoreAccess::open(&config)?.feeds(&config)?;
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
    for feed in &rows {
        if json {
            writeln!(out, "{}", serde_json::to_string(feed)?)?;
        } else {
            let error = match (&feed.last_error_kind, feed.consecutive_failures) {
                (Some(kind), n) if n > 0 => {
                    format!("{kind}: {}", feed.last_error.as_deref().unwrap_or(""))
                }
                _ => String::new(),
            };
            writeln!(
                out,
                "{:<24} {:<8} {:<19}  {:<19}  {:>4} {:>6}  {}",
                feed.name.chars().take(24).collect::<String>(),
                feed.health,
                time(feed.last_success),
                time(feed.next_poll),
                feed.consecutive_failures,
                feed.items_seen,
                error.chars().take(100).collect::<String>(),
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn import_opml(file: &Path, append: Option<&Path>) -> Result<ExitCode> {
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
