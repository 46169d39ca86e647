//! Learns a profile's model or threshold from labelled items, and cross-validates that
//! learning with every report of one real-world event in one fold.

use super::eval::Labelled;
use super::eval::{EvalReport, Scored, report, score_items};
use super::model::{self, Example, Model};
use super::{Classifier, Profile};
use rustc_hash::FxHashMap;

/// What `profile train` learns, and so what a cross-validation retrains in each fold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Learn {
    /// A new model over the rules' verdict and the words (`profile train --model`; what
    /// a cross-validation of a profile with a model retrains).
    Model,
    /// Only a threshold: for `profile train`, the threshold of what decides (the
    /// model's, if the profile has one); for a cross-validation, the rules' threshold
    /// with the model left out.
    Threshold,
}

/// Trains a model on the items that are not ambiguous, reading the rules of `profile`
/// (its own model, if any, is not used).
pub fn train_model<'a>(profile: &Profile, items: impl IntoIterator<Item = &'a Labelled>) -> Model {
    let rules = rules_only(profile);
    let (examples, names) = examples(&rules, items);
    model::train(&examples, &names, rules.rules_fingerprint())
}

/// The model's features of the items that are not ambiguous under the rules of `rules`
/// (a profile without a model), and the name of every feature key among them.
fn examples<'a>(
    rules: &Profile,
    items: impl IntoIterator<Item = &'a Labelled>,
) -> (Vec<Example>, FxHashMap<u64, String>) {
    let classifier = Classifier::new(rules.clone(), None);
    let mut names: FxHashMap<u64, String> = FxHashMap::default();
    let examples = items
        .into_iter()
        .filter(|item| !item.ambiguous)
        .map(|item| {
            let features = classifier
                .model_example(&item.title, &item.summary)
                .into_iter()
                .map(|(key, name, value)| {
                    names.entry(key).or_insert(name);
                    (key, value)
                })
                .collect();
            Example {
                features,
                label: item.label,
            }
        })
        .collect();
    (examples, names)
}

/// The profile without its model: the rules a model is trained on.
pub fn rules_only(profile: &Profile) -> Profile {
    Profile {
        model: None,
        ..profile.clone()
    }
}

/// The lowest threshold a profile may be trained to: below it a verdict with no link
/// could pass on corpus similarity alone, which the scorer never allows.
pub const MIN_THRESHOLD: f64 = 0.3;

/// The threshold with the best F1 on the scored items (the rules' scores, or a model's
/// probabilities). On a tie the profile's own threshold stays (on separable training items a
/// higher one would sit right under the lowest positive and miss held-out ones); between
/// other thresholds the higher wins. With no link among the items the own one stays.
pub fn train_threshold<'s, 'a: 's>(
    scored: impl IntoIterator<Item = &'s Scored<'a>> + Clone,
    current: f64,
) -> f64 {
    // Each distinct score is the highest threshold that still lets it (and everything
    // above) through.
    let mut candidates: Vec<f64> = scored
        .clone()
        .into_iter()
        .filter(|s| s.linked && s.score >= MIN_THRESHOLD)
        .map(|s| s.score)
        .collect();
    candidates.sort_by(|a, b| b.total_cmp(a));
    candidates.dedup();
    // The current threshold first, then the highest: a later one must be strictly better.
    let mut best = (report(scored.clone(), current).f1(), current);
    for candidate in candidates {
        let f1 = report(scored.clone(), candidate).f1();
        if f1 > best.0 + 1e-12 {
            best = (f1, candidate);
        }
    }
    best.1
}

/// One fold of a cross-validation: the threshold trained on the other folds and the
/// report on this one.
#[derive(Debug, Clone)]
pub struct Fold {
    /// Items scored in this fold.
    pub held_out: usize,
    /// Real-world events (or single items) in this fold.
    pub groups: usize,
    /// The threshold learned on the other folds.
    pub threshold: f64,
    /// The report on this fold at that threshold.
    pub report: EvalReport,
}

/// K-fold cross-validation where every item of one group (a real-world event) sits in one
/// fold, so no event is both trained on and scored. Groups go to folds round-robin in
/// the order of a stable hash of their key: the same file always gives the same folds.
/// Each fold learns what `learn` says on the other folds. Returns the folds and the
/// pooled report over all of them.
pub fn cross_validate(
    profile: &Profile,
    items: &[Labelled],
    folds: usize,
    learn: Learn,
) -> (Vec<Fold>, EvalReport) {
    let folds = folds.max(2);
    let kept: Vec<&Labelled> = items.iter().filter(|item| !item.ambiguous).collect();
    let fold_of = assign_folds(&kept, folds);
    let rules = rules_only(profile);
    let rule_scores = (learn == Learn::Threshold).then(|| score_items(&rules, items));
    // The rules' reading of every item, once: each fold trains on a share of it.
    let all_examples = (learn == Learn::Model).then(|| examples(&rules, kept.iter().copied()));
    let mut out = Vec::with_capacity(folds);
    let mut pooled = EvalReport::default();
    for fold in 0..folds {
        let in_fold = |index: &usize| fold_of[*index] == fold;
        let (threshold, scored) = match &rule_scores {
            Some(scored) => {
                let train = (0..scored.len())
                    .filter(|i| !in_fold(i))
                    .map(|i| &scored[i]);
                let threshold = train_threshold(train, profile.threshold);
                let test: Vec<Scored> = (0..scored.len())
                    .filter(in_fold)
                    .map(|i| scored[i].clone())
                    .collect();
                (threshold, test)
            }
            None => {
                let (examples, names) = all_examples.as_ref().expect("computed for a model");
                let train: Vec<Example> = (0..kept.len())
                    .filter(|i| !in_fold(i))
                    .map(|i| examples[i].clone())
                    .collect();
                let model = model::train(&train, names, rules.rules_fingerprint());
                let threshold = model.threshold;
                let trained = Profile {
                    model: Some(model),
                    ..rules.clone()
                };
                let test = (0..kept.len()).filter(in_fold).map(|i| kept[i]);
                (threshold, score_items(&trained, test))
            }
        };
        let groups = scored
            .iter()
            .map(|s| s.item.group_key())
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        let fold_report = report(&scored, threshold);
        pooled.absorb(&fold_report);
        out.push(Fold {
            held_out: scored.len(),
            groups,
            threshold,
            report: fold_report,
        });
    }
    (out, pooled)
}

/// Each item's fold: groups (real-world events) go round-robin in the order of a stable
/// hash of their key.
fn assign_folds(items: &[&Labelled], folds: usize) -> Vec<usize> {
    let mut groups: Vec<(u64, String)> = items
        .iter()
        .map(|item| {
            let key = item.group_key();
            (xxhash_rust::xxh3::xxh3_64(key.as_bytes()), key)
        })
        .collect();
    groups.sort();
    groups.dedup();
    let fold_of_group: std::collections::HashMap<&str, usize> = groups
        .iter()
        .enumerate()
        .map(|(index, (_, key))| (key.as_str(), index % folds))
        .collect();
    items
        .iter()
        .map(|item| fold_of_group[item.group_key().as_str()])
        .collect()
}
