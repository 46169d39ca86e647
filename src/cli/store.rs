//! `parleyd stats` and `parleyd replay`: read-only looks at the store.

use super::classify::load_classifier;
use super::open_store;
use anyhow::{Context, Result};
use parleyd::classify::Classifier;
use parleyd::config::Config;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

pub(super) fn stats(path: &Path, json: bool) -> Result<ExitCode> {
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

pub(super) fn replay(path: &Path, since: &str, profile: Option<&Path>) -> Result<ExitCode> {
    let config = Config::load(path)?;
    let since = parleyd::duration::parse(since).context("--since")?;
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
