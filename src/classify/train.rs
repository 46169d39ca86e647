//! Learns a profile's threshold from labelled items, and cross-validates that learning
//! with every report of one real-world event in one fold.

use super::Profile;
use super::eval::Labelled;
use super::eval::{EvalReport, Scored, report, score_items};

/// The lowest threshold a profile may be trained to: below it a verdict with no link
/// could pass on corpus similarity alone, which the scorer never allows.
pub const MIN_THRESHOLD: f64 = 0.3;

/// The threshold with the best F1 on the scored items: the one learned part of a
/// profile. On a tie the profile's own threshold stays (on separable training items a
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
/// Returns the folds and the pooled report over all of them.
pub fn cross_validate(
    profile: &Profile,
    items: &[Labelled],
    folds: usize,
) -> (Vec<Fold>, EvalReport) {
    let folds = folds.max(2);
    let scored = score_items(profile, items);
    let mut groups: Vec<(u64, String)> = scored
        .iter()
        .map(|s| {
            let key = s.item.group_key();
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
    let fold_of: Vec<usize> = scored
        .iter()
        .map(|s| fold_of_group[s.item.group_key().as_str()])
        .collect();
    let mut out = Vec::with_capacity(folds);
    let mut pooled = EvalReport::default();
    for fold in 0..folds {
        let train = scored.iter().zip(&fold_of).filter(|(_, f)| **f != fold);
        let threshold = train_threshold(train.map(|(s, _)| s), profile.threshold);
        let test: Vec<&Scored> = scored
            .iter()
            .zip(&fold_of)
            .filter(|(_, f)| **f == fold)
            .map(|(s, _)| s)
            .collect();
        let groups = test
            .iter()
            .map(|s| s.item.group_key())
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        let fold_report = report(test.iter().copied(), threshold);
        pooled.absorb(&fold_report);
        out.push(Fold {
            held_out: test.len(),
            groups,
            threshold,
            report: fold_report,
        });
    }
    (out, pooled)
}
