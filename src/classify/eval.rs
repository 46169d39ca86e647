//! Scores a classifier against a labelled JSON Lines file: precision, recall, F1, false
//! positives by category, misses.

use super::Classifier;
use crate::model::Event;
use serde::Deserialize;
use std::collections::BTreeMap;

/// One labelled line: an article plus the right answer.
#[derive(Debug, Clone, Deserialize)]
pub struct Labelled {
    /// Any id; echoed in the report.
    #[serde(default)]
    pub id: serde_json::Value,
    /// Headline.
    #[serde(default)]
    pub title: String,
    /// Lead.
    #[serde(default)]
    pub summary: String,
    /// Whether it should alert.
    pub label: bool,
    /// The expected event kind, for relevant items.
    #[serde(default)]
    pub event: Option<Event>,
    /// A free-form category ("sanctions", "other-pair", …) for grouping errors.
    #[serde(default)]
    pub category: Option<String>,
    /// A split name ("tune", "heldout"), for filtering.
    #[serde(default)]
    pub split: Option<String>,
}

/// One wrongly classified item.
#[derive(Debug, Clone, PartialEq)]
pub struct Miss {
    /// The item's id as written in the file.
    pub id: String,
    /// Its category, or "(none)".
    pub category: String,
    /// Its headline.
    pub title: String,
    /// The score it got.
    pub score: f64,
    /// The classifier's first reason.
    pub reason: String,
}

impl std::fmt::Display for Miss {
    /// `id [category] score title  (reason)`, one line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} [{}] {:.3} {}  ({})",
            self.id, self.category, self.score, self.title, self.reason
        )
    }
}

/// The outcome of an evaluation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EvalReport {
    /// Items evaluated.
    pub items: usize,
    /// Relevant and flagged.
    pub true_positives: usize,
    /// Not relevant but flagged.
    pub false_positives: usize,
    /// Relevant but not flagged.
    pub false_negatives: usize,
    /// Not relevant and not flagged.
    pub true_negatives: usize,
    /// Flagged with the right event kind, among true positives that name one.
    pub event_correct: usize,
    /// True positives whose expected event kind is given.
    pub event_checked: usize,
    /// False positives.
    pub false_positive_items: Vec<Miss>,
    /// False negatives.
    pub missed_items: Vec<Miss>,
}

impl EvalReport {
    /// TP / (TP + FP); 1 when nothing was flagged.
    pub fn precision(&self) -> f64 {
        ratio(
            self.true_positives,
            self.true_positives + self.false_positives,
        )
    }

    /// TP / (TP + FN); 1 when nothing was relevant.
    pub fn recall(&self) -> f64 {
        ratio(
            self.true_positives,
            self.true_positives + self.false_negatives,
        )
    }

    /// The harmonic mean of precision and recall.
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }

    /// False positives counted by category.
    pub fn false_positives_by_category(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for miss in &self.false_positive_items {
            *out.entry(miss.category.clone()).or_default() += 1;
        }
        out
    }
}

fn ratio(numerator: usize, denominator: usize) -> f64 {
    if denominator == 0 {
        1.0
    } else {
        numerator as f64 / denominator as f64
    }
}

/// Classifies every item and compares with its label.
pub fn evaluate<'a>(
    classifier: &Classifier,
    items: impl IntoIterator<Item = &'a Labelled>,
) -> EvalReport {
    let mut report = EvalReport::default();
    for item in items {
        report.items += 1;
        let verdict = classifier.classify(&item.title, &item.summary);
        let miss = || Miss {
            id: match &item.id {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            },
            category: item.category.clone().unwrap_or_else(|| "(none)".into()),
            title: item.title.clone(),
            score: verdict.score,
            reason: verdict.reasons.first().cloned().unwrap_or_default(),
        };
        match (item.label, verdict.relevant) {
            (true, true) => {
                report.true_positives += 1;
                if let Some(expected) = item.event {
                    report.event_checked += 1;
                    report.event_correct += usize::from(verdict.event == Some(expected));
                }
            }
            (false, true) => {
                report.false_positives += 1;
                report.false_positive_items.push(miss());
            }
            (true, false) => {
                report.false_negatives += 1;
                report.missed_items.push(miss());
            }
            (false, false) => report.true_negatives += 1,
        }
    }
    report
}
