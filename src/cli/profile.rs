//! `parleyd profile build`, `profile train` and `profile show`.

use anyhow::{Context, Result};
use clap::Subcommand;
use parleyd::classify::eval::{report, score_items};
use parleyd::classify::train::{Learn, rules_only, train_model, train_threshold};
use parleyd::classify::{DEFAULT_PROFILE, Model, Profile, builtin_profile};
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
    /// Learn from a labelled JSON Lines file (the format `eval` reads) and write the
    /// profile with what was learned: the threshold with the best F1 on the file (the
    /// model's, if the profile has one, else the rules'), or with `--model` a new model
    /// over the rules' verdict and the words, replacing any model the profile had.
    Train {
        /// The labelled file.
        file: PathBuf,
        /// The profile to start from; the built-in default profile when absent.
        #[arg(long)]
        profile: Option<PathBuf>,
        /// Where to write the trained profile.
        #[arg(short, long)]
        output: PathBuf,
        /// Train a new model (hundreds of labelled items or more; the built-in one learned
        /// from 2,709).
        #[arg(long)]
        model: bool,
        /// With `--model`: write only the model table, the `model.toml` that `profile
        /// build` takes from a corpus folder.
        #[arg(long, requires = "model")]
        model_only: bool,
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

/// What `profile train` learns and writes.
pub(super) struct TrainMode {
    pub(super) learn: Learn,
    /// Write only the `[model]` table (`--model-only`).
    pub(super) model_only: bool,
}

/// Fewer labelled items than this make a model that knows little beyond the rules.
const FEW_ITEMS_FOR_A_MODEL: usize = 500;

pub(super) fn train(
    file: &Path,
    base: Option<&Path>,
    output: &Path,
    mode: TrainMode,
) -> Result<ExitCode> {
    let mut profile = match base {
        Some(path) => Profile::load(path)?,
        None => builtin_profile(DEFAULT_PROFILE)?,
    };
    let items = super::classify::read_labelled(file, None)?;
    let write = |text: String| {
        std::fs::write(output, text).with_context(|| format!("cannot write {}", output.display()))
    };
    match mode.learn {
        Learn::Threshold => {
            // The threshold of what decides: the model's if there is one.
            let scored = score_items(&profile, &items);
            let old = model_threshold(&profile);
            let before = report(&scored, old);
            let threshold = train_threshold(&scored, old);
            let after = report(&scored, threshold);
            let which = match profile.model.as_mut() {
                Some(model) => {
                    model.threshold = threshold;
                    "the model's threshold"
                }
                None => {
                    profile.threshold = threshold;
                    "threshold"
                }
            };
            write(profile.to_toml())?;
            eprintln!(
                "wrote {}: {which} {threshold:.3} (F1 {:.3} on {} items of {}; was {:.3} at {:.3})",
                output.display(),
                after.f1(),
                after.items,
                file.display(),
                before.f1(),
                old,
            );
        }
        Learn::Model => {
            let mut rules = rules_only(&profile);
            let before = report(&score_items(&rules, &items), rules.threshold);
            let model = train_model(&rules, &items);
            let weights = model.weights.len();
            if model.trained_on < FEW_ITEMS_FOR_A_MODEL {
                eprintln!(
                    "warning: a model from {} labelled items knows little beyond the rules; \
                     check it with `eval --folds` before using it",
                    model.trained_on
                );
            }
            rules.model = Some(model);
            let after = report(&score_items(&rules, &items), model_threshold(&rules));
            if mode.model_only {
                write(model_toml(
                    rules.model.as_ref().expect("a model was just trained"),
                ))?;
            } else {
                write(rules.to_toml())?;
            }
            eprintln!(
                "wrote {}: a model of {weights} weights from {} items of {}; F1 on those same \
                 items {:.3} (the rules alone {:.3}); `eval --folds` measures it honestly",
                output.display(),
                after.items,
                file.display(),
                after.f1(),
                before.f1(),
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn model_threshold(profile: &Profile) -> f64 {
    profile
        .model
        .as_ref()
        .map_or(profile.threshold, |m| m.threshold)
}

/// The `[model]` table alone, as a corpus folder's `model.toml` holds it.
fn model_toml(model: &Model) -> String {
    let body = toml::to_string_pretty(model).expect("a model serialises to TOML");
    format!(
        "# The trained model of a profile, written by `parleyd profile train --model-only`;\n\
         # `parleyd profile build` puts it in the profile as [model]. Rebuild it whenever the\n\
         # rules change: `rules` is the fingerprint of the rules it was trained with.\n\n{body}"
    )
}

pub(super) fn show(file: Option<&Path>) -> Result<ExitCode> {
    let profile = match file {
        Some(path) => Profile::load(path)?,
        None => builtin_profile(DEFAULT_PROFILE)?,
    };
    print!("{}", profile.to_toml());
    Ok(ExitCode::SUCCESS)
}
