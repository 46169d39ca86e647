//! Scores a classifier against a labelled JSON Lines file: precision, recall, F1, false
//! positives by category, misses.

use super::{Classifier, Profile};
use crate::model::Event;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::collections::BTreeMap;

/// One labelled line: an article plus the right answer. Reads the team's format (`label`
/// a boolean, `event` the event kind) and the real-news format (`label` a class name,
/// `event` the id of the real-world event, `ambiguous`, `date`, `source`).
#[derive(Debug, Clone, Deserialize)]
#[serde(from = "RawLabelled")]
pub struct Labelled {
    /// Any id; echoed in the report.
    pub id: serde_json::Value,
    /// Headline.
    pub title: String,
    /// Lead.
    pub summary: String,
    /// Whether it should alert.
    pub label: bool,
    /// The expected event kind, for relevant items.
    pub event: Option<Event>,
    /// The real-world event the item reports: items of one event stay in one fold.
    pub group: Option<String>,
    /// A free-form category ("sanctions", "other-pair", …) for grouping errors; a class
    /// name given as the label counts as one.
    pub category: Option<String>,
    /// A split name ("tune", "heldout"), for filtering.
    pub split: Option<String>,
    /// A borderline call the labelling rule does not settle: left out of the scores.
    pub ambiguous: bool,
    /// When it was published: `published` (RFC 3339), else `date` (a day, read as noon
    /// UTC). The clock of story grouping.
    pub published: Option<DateTime<Utc>>,
    /// The outlet or page it came from.
    pub source: Option<String>,
}

/// Class names that mean "should alert" when `label` is a string; any other name is a
/// negative class (`us_iran_other`, `other_talks`, `unrelated`, …).
pub const POSITIVE_LABELS: &[&str] = &["talks_or_channel", "relevant", "positive"];

#[derive(Deserialize)]
#[serde(untagged)]
enum LabelValue {
    Flag(bool),
    Class(String),
}

#[derive(Deserialize)]
struct RawLabelled {
    #[serde(default)]
    id: serde_json::Value,
    #[serde(default)]
    title: String,
    #[serde(default)]
    summary: Option<String>,
    label: LabelValue,
    #[serde(default)]
    event: Option<String>,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    split: Option<String>,
    #[serde(default)]
    ambiguous: bool,
    #[serde(default)]
    published: Option<String>,
    #[serde(default)]
    date: Option<String>,
    #[serde(default)]
    source: Option<String>,
}

/// `2025-04-12T10:00:00Z`, or a day `2025-04-12` read as noon UTC (the middle of the day
/// whatever the outlet's zone).
fn publication_time(published: Option<&str>, date: Option<&str>) -> Option<DateTime<Utc>> {
    if let Some(time) = published.and_then(|p| DateTime::parse_from_rfc3339(p).ok()) {
        return Some(time.with_timezone(&Utc));
    }
    let day = chrono::NaiveDate::parse_from_str(date?, "%Y-%m-%d").ok()?;
    Some(day.and_hms_opt(12, 0, 0)?.and_utc())
}

impl From<RawLabelled> for Labelled {
    fn from(raw: RawLabelled) -> Labelled {
        let (label, class) = match raw.label {
            LabelValue::Flag(flag) => (flag, None),
            LabelValue::Class(name) => (POSITIVE_LABELS.contains(&name.as_str()), Some(name)),
        };
        // The team's files name the event kind; real-news files name the real event.
        let kind = raw
            .event
            .as_deref()
            .and_then(|e| serde_json::from_value(serde_json::Value::String(e.into())).ok());
        let group = if kind.is_some() { None } else { raw.event };
        Labelled {
            id: raw.id,
            title: raw.title,
            summary: raw.summary.unwrap_or_default(),
            label,
            event: kind,
            group,
            category: raw.category.or(class),
            split: raw.split,
            ambiguous: raw.ambiguous,
            published: publication_time(raw.published.as_deref(), raw.date.as_deref()),
            source: raw.source,
        }
    }
}

impl Labelled {
    /// The id as text.
    pub fn id_text(&self) -> String {
        match &self.id {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }

    /// What keeps items together in cross-validation: the real-world event, or the item
    /// itself when it names none.
    pub fn group_key(&self) -> String {
        self.group
            .clone()
            .unwrap_or_else(|| format!("item:{}", self.id_text()))
    }
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
    /// Adds another report's counts and items to this one (pooling folds).
    pub fn absorb(&mut self, other: &EvalReport) {
        self.items += other.items;
        self.true_positives += other.true_positives;
        self.false_positives += other.false_positives;
        self.false_negatives += other.false_negatives;
        self.true_negatives += other.true_negatives;
        self.event_correct += other.event_correct;
        self.event_checked += other.event_checked;
        self.false_positive_items
            .extend(other.false_positive_items.iter().cloned());
        self.missed_items.extend(other.missed_items.iter().cloned());
    }

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

/// One item classified once, at threshold zero: whether an event linked the parties,
/// and the score to compare with any threshold afterwards.
#[derive(Debug, Clone)]
pub struct Scored<'a> {
    /// The labelled item.
    pub item: &'a Labelled,
    /// An event linked the two parties (the verdict before the threshold).
    pub linked: bool,
    /// The verdict's score.
    pub score: f64,
    /// The event kind of the link.
    pub event: Option<Event>,
    /// The verdict's first reason.
    pub reason: String,
}

impl Scored<'_> {
    /// The verdict at a threshold: what the daemon would do with that threshold.
    pub fn relevant_at(&self, threshold: f64) -> bool {
        self.linked && self.score >= threshold
    }
}

/// Classifies the items that are not ambiguous, once, under `profile` with threshold zero.
pub fn score_items<'a>(
    profile: &Profile,
    items: impl IntoIterator<Item = &'a Labelled>,
) -> Vec<Scored<'a>> {
    let classifier = Classifier::new(profile.clone(), Some(0.0));
    items
        .into_iter()
        .filter(|item| !item.ambiguous)
        .map(|item| {
            let verdict = classifier.classify(&item.title, &item.summary);
            Scored {
                item,
                linked: verdict.relevant,
                score: verdict.score,
                event: verdict.event,
                reason: verdict.reasons.into_iter().next().unwrap_or_default(),
            }
        })
        .collect()
}

/// Compares scored items with their labels at a threshold.
pub fn report<'s, 'a: 's>(
    scored: impl IntoIterator<Item = &'s Scored<'a>>,
    threshold: f64,
) -> EvalReport {
    let mut report = EvalReport::default();
    for s in scored {
        report.items += 1;
        let item = s.item;
        let miss = || Miss {
            id: item.id_text(),
            category: item.category.clone().unwrap_or_else(|| "(none)".into()),
            title: item.title.clone(),
            score: s.score,
            reason: s.reason.clone(),
        };
        match (item.label, s.relevant_at(threshold)) {
            (true, true) => {
                report.true_positives += 1;
                if let Some(expected) = item.event {
                    report.event_checked += 1;
                    report.event_correct += usize::from(s.event == Some(expected));
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

/// Classifies every item that is not ambiguous and compares with its label, at the
/// classifier's threshold.
pub fn evaluate(classifier: &Classifier, items: &[Labelled]) -> EvalReport {
    let scored = score_items(classifier.profile(), items);
    report(&scored, classifier.threshold())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::train::{Fold, cross_validate, train_threshold};
    use crate::classify::{DEFAULT_PROFILE, builtin_profile};

    fn item(line: &str) -> Labelled {
        serde_json::from_str(line).unwrap()
    }

    #[test]
    fn reads_the_team_format_and_the_real_news_format() {
        let team = item(r#"{"id": "t1", "title": "a", "label": true, "event": "channel"}"#);
        assert!(team.label);
        assert_eq!(team.event, Some(Event::Channel));
        assert_eq!(team.group, None);
        let real = item(
            r#"{"id": "r1", "title": "a", "summary": null, "label": "other_talks", "ambiguous": true, "event": "2019-06-abe-visit", "date": "2019-06-12", "source": "x"}"#,
        );
        assert!(!real.label);
        assert!(real.ambiguous);
        assert_eq!(real.category.as_deref(), Some("other_talks"));
        assert_eq!(real.group.as_deref(), Some("2019-06-abe-visit"));
        assert!(item(r#"{"title": "a", "label": "talks_or_channel"}"#).label);
    }

    #[test]
    fn ambiguous_items_are_left_out_of_the_scores() {
        let items = vec![
            item(r#"{"id": 1, "title": "US and Iran hold talks in Oman", "label": true}"#),
            item(r#"{"id": 2, "title": "Markets rise", "label": true, "ambiguous": true}"#),
        ];
        let classifier = Classifier::new(builtin_profile(DEFAULT_PROFILE).unwrap(), None);
        let report = evaluate(&classifier, &items);
        assert_eq!(report.items, 1);
        assert_eq!(report.recall(), 1.0);
    }

    #[test]
    fn the_threshold_with_the_best_f1_is_learned_and_a_tie_keeps_the_current_one() {
        let items: Vec<Labelled> = (0..4)
            .map(|i| {
                item(&format!(
                    r#"{{"id": {i}, "title": "t", "label": {}}}"#,
                    i < 2
                ))
            })
            .collect();
        let scored = |scores: [f64; 4]| -> Vec<Scored<'_>> {
            items
                .iter()
                .zip(scores)
                .map(|(item, score)| Scored {
                    item,
                    linked: true,
                    score,
                    event: None,
                    reason: String::new(),
                })
                .collect()
        };
        // Positives at 0.5 and 0.7, negatives at 0.4 and 0.45: anything in (0.45, 0.5]
        // separates them; 0.5 is the highest such score.
        assert_eq!(train_threshold(&scored([0.5, 0.7, 0.4, 0.45]), 0.6), 0.5);
        // 0.7 and the current 0.6 both separate them: the current one stays.
        assert_eq!(train_threshold(&scored([0.8, 0.7, 0.4, 0.45]), 0.6), 0.6);
        // The current 0.9 lets nothing through: 0.7 is the highest that separates them.
        assert_eq!(train_threshold(&scored([0.8, 0.7, 0.4, 0.45]), 0.9), 0.7);
        // Nothing linked above the floor: the current threshold stays.
        assert_eq!(train_threshold(&scored([0.1, 0.2, 0.1, 0.2]), 0.6), 0.6);
    }

    #[test]
    fn folds_keep_every_item_of_an_event_together() {
        let mut lines = Vec::new();
        for event in 0..12 {
            for outlet in 0..3 {
                lines.push(format!(
                    r#"{{"id": "e{event}o{outlet}", "title": "US and Iran hold talks in Oman", "label": "talks_or_channel", "event": "ev{event}"}}"#
                ));
            }
        }
        let items: Vec<Labelled> = lines.iter().map(|l| item(l)).collect();
        let profile = builtin_profile(DEFAULT_PROFILE).unwrap();
        let (folds, pooled) = cross_validate(
            &profile,
            &items,
            4,
            crate::classify::train::Learn::Threshold,
        );
        assert_eq!(folds.len(), 4);
        assert_eq!(pooled.items, 36);
        // 12 events in 4 folds, round-robin: 3 events (9 items) in each.
        for fold in &folds {
            assert_eq!((fold.groups, fold.held_out), (3, 9), "{fold:?}");
        }
        assert_eq!(pooled.recall(), 1.0);
        // The same file gives the same folds.
        let (again, _) = cross_validate(
            &profile,
            &items,
            4,
            crate::classify::train::Learn::Threshold,
        );
        let thresholds = |f: &[Fold]| f.iter().map(|x| x.threshold).collect::<Vec<_>>();
        assert_eq!(thresholds(&folds), thresholds(&again));
    }
}
