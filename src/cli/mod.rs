//! The command line's shape (clap) and the dispatch to one file per command family.
//!
//! `daemon` runs the daemon and single cycles, `check` validates a config, `classify`
//! scores text and feeds, `feeds`, `alerts` and `store` read and repair the state, and
//! `profile` builds and prints profiles; `dist` writes the completions and man pages a
//! package ships. The helpers here are the ones several share.

mod access;
mod alerts;
mod check;
mod classify;
mod daemon;
mod dist;
mod feeds;
mod profile;
mod store;

use alerts::{AlertState, AlertsCommand};
use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use feeds::FeedsCommand;
use parleyd::classify::train::Learn;
use parleyd::config::Config;
use parleyd::telemetry;
use profile::ProfileCommand;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use store::StoreCommand;

/// Watches news feeds and alerts when new talks or a new channel between two parties is reported.
#[derive(Debug, Parser)]
#[command(name = "parleyd", version, about)]
pub(crate) struct Cli {
    /// The config file.
    #[arg(
        long,
        short,
        global = true,
        env = "PARLEYD_CONFIG",
        default_value = parleyd::config::DEFAULT_CONFIG_PATH
    )]
    config: PathBuf,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the daemon: poll every feed on its interval until SIGTERM or SIGINT.
    Run,
    /// Poll every feed once, classify, deliver pending alerts, exit.
    Once,
    /// Validate the config, list every problem, and show what would run.
    CheckConfig,
    /// Classify JSON Lines from stdin ({"id", "title", "summary"}), one verdict line each.
    Classify {
        /// A profile file; the built-in default profile when absent.
        #[arg(long)]
        profile: Option<PathBuf>,
    },
    /// Print what parleyd reads from one feed: one JSON line per article with its verdict,
    /// scored with the config's classifier settings, as the daemon would score it.
    Preview {
        /// A feed URL (http, https, file) or a path to a feed file.
        target: String,
        /// A profile file instead of the config's (with its own threshold); without a
        /// config (none given, none at the default path) the built-in default profile.
        #[arg(long)]
        profile: Option<PathBuf>,
    },
    /// Score the classifier on a labelled JSON Lines file (a `label` field on each line).
    Eval {
        /// The labelled file.
        file: PathBuf,
        /// A profile file; the built-in default profile when absent.
        #[arg(long)]
        profile: Option<PathBuf>,
        /// Only items whose `split` field has this value.
        #[arg(long)]
        split: Option<String>,
        /// Cross-validate in K folds: the profile's learned part (its model, trained anew
        /// in each fold, or the rules' threshold for a profile without one) is learned on
        /// K-1 folds and scored on the held-out one; prints each fold and the pooled
        /// figures.
        #[arg(long, value_name = "K", value_parser = clap::value_parser!(u16).range(2..=50))]
        folds: Option<u16>,
        /// What a fold keeps together: `event` (every item of one real-world event in one
        /// fold) or `item` (plain k-fold).
        #[arg(long, value_name = "FIELD", default_value = "event", value_parser = ["event", "item"], requires = "folds")]
        group_by: String,
        /// With `--folds`: leave the profile's model out and learn only the rules'
        /// threshold in each fold.
        #[arg(long, requires = "folds")]
        threshold_only: bool,
        /// Replay the items oldest first (`published` or `date`) and report story grouping:
        /// per real-world `event`, the alerts it would send and the reports that joined
        /// another event's story.
        #[arg(long, conflicts_with_all = ["folds", "min_precision", "min_recall", "min_f1"])]
        stories: bool,
        /// Exit 1 if precision is below this.
        #[arg(long)]
        min_precision: Option<f64>,
        /// Exit 1 if recall is below this.
        #[arg(long)]
        min_recall: Option<f64>,
        /// Exit 1 if F1 is below this.
        #[arg(long)]
        min_f1: Option<f64>,
    },
    /// Store size and counts.
    Stats {
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Re-score stored articles under a profile and print what would have alerted (sends
    /// nothing).
    Replay {
        /// How far back, e.g. "7d" or "36h".
        #[arg(long, default_value = "7d")]
        since: String,
        /// A profile file; the config's profile when absent.
        #[arg(long)]
        profile: Option<PathBuf>,
    },
    /// Show each feed's health: last success, last error, failures in a row, items, next poll.
    Feeds {
        #[command(subcommand)]
        action: Option<FeedsCommand>,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// List alerts (pending, sent, dead), re-queue dead ones, or send a test alert.
    Alerts {
        #[command(subcommand)]
        action: Option<AlertsCommand>,
        /// Only alerts in this state.
        #[arg(long, value_enum)]
        state: Option<AlertState>,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Build or show topic profiles.
    #[command(subcommand)]
    Profile(ProfileCommand),
    /// Check the store in full, or back it up and restore it (the daemon must be stopped).
    #[command(subcommand)]
    Store(StoreCommand),
    /// Write shell completions and man pages into DIR (for packagers; hidden from help).
    #[command(hide = true)]
    GenerateAssets {
        /// The folder to write completions/ and man/ into.
        dir: PathBuf,
    },
}

pub(crate) fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Run => daemon::run_daemon(&cli.config),
        Command::Once => daemon::run_once(&cli.config),
        Command::CheckConfig => check::check_config(&cli.config),
        Command::Classify { profile } => classify::classify(profile.as_deref()),
        Command::Preview { target, profile } => {
            classify::preview(&target, profile.as_deref(), &cli.config)
        }
        Command::Feeds {
            action: Some(FeedsCommand::Import { file, append }),
            ..
        } => feeds::import_opml(&file, append.as_deref()),
        Command::Feeds { action: None, json } => feeds::feeds(&cli.config, json),
        Command::Stats { json } => store::stats(&cli.config, json),
        Command::Replay { since, profile } => {
            store::replay(&cli.config, &since, profile.as_deref())
        }
        Command::Eval {
            file,
            profile,
            split,
            folds,
            group_by,
            threshold_only,
            stories,
            min_precision,
            min_recall,
            min_f1,
        } => classify::eval(
            &file,
            profile.as_deref(),
            split.as_deref(),
            classify::EvalMode {
                folds: folds.map(usize::from),
                group_by_event: group_by == "event",
                threshold_only,
                stories,
            },
            classify::Floors {
                precision: min_precision,
                recall: min_recall,
                f1: min_f1,
            },
        ),
        Command::Alerts {
            action: None,
            state,
            json,
        } => alerts::list_alerts(&cli.config, state, json),
        Command::Alerts {
            action: Some(AlertsCommand::Retry { id, all_dead }),
            ..
        } => alerts::retry_alerts(&cli.config, id.as_deref(), all_dead),
        Command::Alerts {
            action: Some(AlertsCommand::Test { sink }),
            ..
        } => alerts::test_alert(&cli.config, &sink),
        Command::Profile(ProfileCommand::Build { dir, output }) => profile::build(&dir, &output),
        Command::Store(StoreCommand::Check { json }) => store::check(&cli.config, json),
        Command::Store(StoreCommand::Export { file }) => store::export(&cli.config, &file),
        Command::Store(StoreCommand::Import { file }) => store::import(&cli.config, &file),
        Command::Profile(ProfileCommand::Show { file }) => profile::show(file.as_deref()),
        Command::Profile(ProfileCommand::Train {
            file,
            profile,
            output,
            model,
            model_only,
        }) => profile::train(
            &file,
            profile.as_deref(),
            &output,
            profile::TrainMode {
                learn: if model {
                    Learn::Model
                } else {
                    Learn::Threshold
                },
                model_only,
            },
        ),
        Command::GenerateAssets { dir } => dist::generate_assets(&dir),
    }
}

/// Loads the config and starts logging as it says.
fn load_config(path: &Path) -> Result<Config> {
    let config = Config::load(path)?;
    telemetry::init(&config.log.level, config.log.format);
    for warning in config.warnings() {
        tracing::warn!(file = %config.source.display(), key = %warning.key, why = %warning.why, "Config warning.");
    }
    Ok(config)
}

/// The multi-threaded tokio runtime the async commands run on.
fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}
