//! `parleyd profile build` and `parleyd profile show`.

use anyhow::{Context, Result};
use clap::Subcommand;
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

pub(super) fn show(file: Option<&Path>) -> Result<ExitCode> {
    let profile = match file {
        Some(path) => Profile::load(path)?,
        None => builtin_profile(DEFAULT_PROFILE)?,
    };
    print!("{}", profile.to_toml());
    Ok(ExitCode::SUCCESS)
}
