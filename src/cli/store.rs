//! `parleyd stats` and `parleyd replay`: read-only looks at the store, or at the running
//! daemon that holds it; `parleyd store check|export|import`, which need the store itself.

use super::access::StoreAccess;
use anyhow::{Context, Result};
use clap::Subcommand;
use parleyd::config::Config;
use parleyd::store::{CHECK_LIMIT, Store, StoreError};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `parleyd store …`: what needs the store itself, so the daemon must be stopped.
#[derive(Debug, Subcommand)]
pub(super) enum StoreCommand {
    /// Read every record, compare with the store's counts, and list what is wrong (exit 1
    /// if anything is).
    Check {
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Write every record to FILE as JSON lines: a backup `store import` reads back.
    Export {
        /// The file to write (it must not exist yet).
        file: PathBuf,
    },
    /// Fill a new, empty store at storage.path from an export.
    Import {
        /// A file `store export` wrote.
        file: PathBuf,
    },
}

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

/// Opens the store itself: these commands do not go through a running daemon.
fn open_store(config: &Config) -> Result<Store, StoreError> {
    Store::open(&config.storage.path, config.storage.cache_capacity)
}

pub(super) fn check(path: &Path, json: bool) -> Result<ExitCode> {
    let config = Config::load_without_sink_secrets(path)?;
    let store_path = config.storage.path.display().to_string();
    let checked = open_store(&config).and_then(|store| {
        let report = store.check_all(CHECK_LIMIT)?;
        if report.problems().is_empty() {
            store.close()?;
        }
        Ok(report)
    });
    let (report, problems) = match checked {
        Ok(report) => {
            let problems = report.problems();
            (Some(report), problems)
        }
        Err(err @ StoreError::Damaged { .. }) => (None, vec![err.to_string()]),
        Err(err) => return Err(err.into()),
    };
    if json {
        let line = serde_json::json!({
            "store": store_path,
            "sound": problems.is_empty(),
            "problems": problems,
            "recorded": report.as_ref().map(|r| &r.recorded),
            "scanned": report.as_ref().map(|r| &r.scanned),
        });
        println!("{line}");
    } else {
        println!("store:    {store_path}");
        if let Some(report) = &report {
            let counted = &report.scanned;
            println!(
                "records:  {} articles, {} feeds, {} stories, {} alerts pending, {} sent, {} dead",
                counted.articles,
                counted.feeds,
                counted.stories,
                counted.pending(),
                counted.sent,
                counted.dead_letters()
            );
        }
        if problems.is_empty() {
            println!("sound:    every record read, and the counts agree");
        }
        for problem in &problems {
            println!("problem:  {problem}");
        }
    }
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub(super) fn export(path: &Path, file: &Path) -> Result<ExitCode> {
    let config = Config::load_without_sink_secrets(path)?;
    let store = open_store(&config)?;
    let out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(file)
        .with_context(|| format!("cannot create {}", file.display()))?;
    let mut out = std::io::BufWriter::new(out);
    let written = store
        .export(&mut out)
        .with_context(|| format!("export to {}", file.display()))?;
    out.into_inner()
        .map_err(|err| err.into_error())
        .and_then(|f| f.sync_all())
        .with_context(|| format!("cannot write {}", file.display()))?;
    store.close()?;
    eprintln!(
        "{written} records of {} exported to {}",
        store.path().display(),
        file.display()
    );
    Ok(ExitCode::SUCCESS)
}

pub(super) fn import(path: &Path, file: &Path) -> Result<ExitCode> {
    let config = Config::load_without_sink_secrets(path)?;
    let input =
        std::fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?;
    let store = open_store(&config)?;
    let read = store
        .import(std::io::BufReader::new(input))
        .with_context(|| format!("import from {}", file.display()))?;
    store.close()?;
    eprintln!(
        "{read} records imported from {} into {}",
        file.display(),
        store.path().display()
    );
    Ok(ExitCode::SUCCESS)
}
