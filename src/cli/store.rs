//! `parleyd stats` and `parleyd replay`: read-only looks at the store, or at the running
//! daemon that holds it.

use super::access::StoreAccess;
use anyhow::{Context, Result};
use parleyd::config::Config;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

pub(super) fn stats(path: &Path, json: bool) -> Result<ExitCode> {
    let config = Config::load_without_sink_secrets(path)?;
    let (store, stats) = StoreAccess::open(&config)?.stats()?;
    if json {
        println!("{}", serde_json::to_string(&stats)?);
    } else {
        println!("store:        {}", store.display());
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

pub(super) fn replay(path: &Path, since: &str, profile: Option<&Path>) -> Result<ExitCode> {
    let config = Config::load_without_sink_secrets(path)?;
    let since = parleyd::duration::parse(since).context("--since")?;
    let report = StoreAccess::open(&config)?.replay(&config, since, profile)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for line in &report.would_alert {
        serde_json::to_writer(&mut out, line)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    eprintln!(
        "{} of {} stored articles since {} would alert (nothing was sent)",
        report.would_alert.len(),
        report.articles,
        report.cutoff.format("%Y-%m-%d %H:%M")
    );
    Ok(ExitCode::SUCCESS)
}
