//! `parleyd profile build` and `parleyd profile show`.

use anyhow::{Context, Result};
use clap::Subcommand;
use parleyd::classify::eval::{report, score_items};
use parleyd::classify::train::train_threshold;
use parleyd::classify::{DEFAULT_PROFILE, Profile, builtin_profile};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub(super) enum ProfileCommand {
    /// Build a profile from a corpus folder (lexicon.toml plus .txt articles).
    Build {
        /// The corpus folder.
        dir: PathBuf,
        /// Where to write the profile.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Learn a profile's threshold from a labelled JSON Lines file (the format `eval`
    /// reads) and write the profile with it: the threshold with the best F1 on the file.
    Train {
        /// The labelled file.
        file: PathBuf,
        /// The profile to start from; the built-in default profile when absent.
        #[arg(long)]
        profile: Option<PathBuf>,
        /// Where to write the trained profile.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Print a profile (the built-in default when no file is given).
    Show {
        /// A profile file.
        file: Option<PathBuf>,
    },
}

pub(super) fn build(dir: &Path, output: &Path) -> Result<ExitCode> {
    let profile = Profile::build(dir)?;
    std::fs::write(output, profile.to_toml())
        .with_context(|| format!("cannot write {}", output.display()))?;
    eprintln!(
        "wrote {} ({} learned terms from {} documents)",
        output.display(),
        profile.learned.terms.len(),
        profile.learned.documents
    );
    Ok(ExitCode::SUCCESS)
}

pub(super) fn train(file: &Path, base: Option<&Path>, output: &Path) -> Result<ExitCode> {
    let mut profile = match base {
        Some(path) => Profile::load(path)?,
        None => builtin_profile(DEFAULT_PROFILE)?,
    };
    let items = super::classify::read_labelled(file, None)?;
    let scored = score_items(&profile, &items);
    let old = profile.threshold;
    let before = report(&scored, old);
    let threshold = train_threshold(&scored, old);
    let after = report(&scored, threshold);
    profile.threshold = threshold;
    std::fs::write(output, profile.to_toml())
        .with_context(|| format!("cannot write {}", output.display()))?;
    eprintln!(
        "wrote {}: threshold {threshold:.3} (F1 {:.3} on {} items of {}; was {:.3} at {:.3})",
        output.display(),
        after.f1(),
        after.items,
        file.display(),
        before.f1(),
        old,
    );
    Ok(ExitCode::SUCCESS)
}

pub(super) fn show(file: Option<&Path>) -> Result<ExitCode> {
    let profile = match file {
        Some(path) => Profile::load(path)?,
        None => builtin_profile(DEFAULT_PROFILE)?,
    };
    print!("{}", profile.to_toml());
    Ok(ExitCode::SUCCESS)
}
