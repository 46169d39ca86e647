//! The learned part of a verdict: a logistic model over the scorer's own verdict and the
//! words of the headline and lead, trained from labelled items by `parleyd profile train`.
//!
//! The rules read who does what to whom and are precise, but real outlets word talks in
//! more ways than a lexicon lists. The model weighs the rules' verdict (linked or not,
//! the score, why not) together with the words around it, so wordings the rules miss can
//! still pass when the words say talks, and it stays readable: every weight is a named
//! word, word pair or rule outcome in the profile's `[model]` table.

use super::text::{Token, stem_hash};
use rustc_hash::{FxHashMap, FxHasher};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::hash::Hasher;

/// How many words of the lead the model reads: the first sentence carries the news, the
/// rest is mostly background (cross-validated on real news, 30 words did as well as 60
/// and cost half as much).
pub const LEAD_WORDS: usize = 30;
/// A word or pair gets a weight only if this many training items have it: rarer ones
/// would learn single headlines, not the way news is written.
pub const MIN_ITEMS: usize = 3;
/// Passes over the training items.
const EPOCHS: u64 = 15;
/// Step size of each update.
const LEARNING_RATE: f64 = 0.2;
/// Pull of every weight towards zero, so no single word decides alone.
const L2: f64 = 1e-4;
/// Weights smaller than this change no verdict; they are left out of the profile.
const MIN_WEIGHT: f64 = 0.005;
/// The probability at or above which a trained model calls an article relevant: above
/// the even odds of 0.5, because a false alarm costs a user more than a late catch that
/// another outlet's report of the same story may still bring.
pub const DEFAULT_MODEL_THRESHOLD: f64 = 0.6;

/// A trained model as stored in a profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Model {
    /// Probability at or above which an article is relevant.
    pub threshold: f64,
    /// How many labelled items it was trained on.
    pub trained_on: usize,
    /// Fingerprint of the rules it was trained with ([`super::Profile::rules_fingerprint`]):
    /// a model reads the rules' verdicts, so other rules need a new model.
    pub rules: String,
    /// The log-odds of an article with none of the features.
    pub bias: f64,
    /// Feature → weight (log-odds). Features: `rule linked`, `rule score`, `rule
    /// miss-KIND`, `title W` and `title W W` for the headline's word stems and adjacent
    /// pairs, and `lead W` for the lead's stems.
    pub weights: BTreeMap<String, f64>,
}

/// Where a feature comes from; part of its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Title,
    Lead,
    Rule,
}

impl Section {
    fn name(self) -> &'static str {
        match self {
            Section::Title => "title",
            Section::Lead => "lead",
            Section::Rule => "rule",
        }
    }

    fn parse(name: &str) -> Option<Section> {
        [Section::Title, Section::Lead, Section::Rule]
            .into_iter()
            .find(|s| s.name() == name)
    }
}

/// What the rules concluded, as the model reads it.
#[derive(Debug, Clone, Copy)]
pub(super) struct RuleOutcome {
    /// An event linked the two parties.
    pub linked: bool,
    /// The rules' score (link and corpus similarity).
    pub score: f64,
    /// Why no event linked them (`negated`, `no-event`, …); `None` when linked.
    pub miss: Option<&'static str>,
}

fn key(section: Section, first: u64, second: Option<u64>) -> u64 {
    let mut hasher = FxHasher::default();
    hasher.write_u8(section as u8);
    hasher.write_u64(first);
    hasher.write_u64(second.unwrap_or(0));
    hasher.finish()
}

/// The words a `rule` feature can name.
const RULE_WORDS: &[&str] = &[
    "score",
    "linked",
    "miss-not-news",
    "miss-no-event",
    "miss-no-parties",
    "miss-one-party",
    "miss-other-party",
    "miss-background",
    "miss-opinion",
    "miss-negated",
];

/// The key of a feature written as in the profile ("title talk with"), or `None` if the
/// name can never be a feature: an unknown section or rule word, an empty word, a pair
/// where only single words are read (the lead, the rules), more than two words.
fn key_of_name(name: &str) -> Option<u64> {
    let mut parts = name.split(' ');
    let section = Section::parse(parts.next()?)?;
    let first = parts.next().filter(|w| !w.is_empty())?;
    let second = parts.next();
    if parts.next().is_some() || second.is_some_and(str::is_empty) {
        return None;
    }
    let pairs_read = section == Section::Title;
    if second.is_some() && !pairs_read {
        return None;
    }
    if section == Section::Rule && !RULE_WORDS.contains(&first) {
        return None;
    }
    Some(key(section, stem_hash(first), second.map(stem_hash)))
}

/// One feature of an article: its key, a way to name it, and its value.
pub(super) struct Feature<'t> {
    pub key: u64,
    section: Section,
    words: [&'t str; 2],
    pub value: f64,
    /// A word of it carries meaning (not "the", "be"): only such features are named in
    /// a reason, since they are what a reader can check.
    telling: bool,
}

impl Feature<'_> {
    /// The feature's name as the profile writes it.
    pub(super) fn name(&self) -> String {
        let section = self.section.name();
        let mut name =
            String::with_capacity(section.len() + self.words[0].len() + self.words[1].len() + 2);
        name.push_str(section);
        for word in self.words.iter().filter(|w| !w.is_empty()) {
            name.push(' ');
            name.push_str(word);
        }
        name
    }
}

/// The features of an article, sorted by key, once each: see [`visit_features`].
pub(super) fn features<'t>(
    tokens: &'t [Token],
    in_title: usize,
    rule: RuleOutcome,
) -> Vec<Feature<'t>> {
    let mut out = Vec::with_capacity(2 * LEAD_WORDS);
    visit_features(tokens, in_title, rule, |feature| out.push(feature));
    out.sort_unstable_by_key(|f| f.key);
    out.dedup_by_key(|f| f.key);
    out
}

/// Calls `visit` with each feature of an article: the rules' outcome, each stem and
/// adjacent pair of stems of the headline, and each stem of the lead's first
/// [`LEAD_WORDS`] words (pairs there added nothing in cross-validation). A word that
/// occurs twice is visited twice.
fn visit_features<'t>(
    tokens: &'t [Token],
    in_title: usize,
    rule: RuleOutcome,
    mut visit: impl FnMut(Feature<'t>),
) {
    let mut visit_rule = |word: &'static str, value: f64| {
        visit(Feature {
            key: key(Section::Rule, stem_hash(word), None),
            section: Section::Rule,
            words: [word, ""],
            value,
            telling: false,
        });
    };
    visit_rule("score", rule.score);
    match rule.miss {
        None if rule.linked => visit_rule("linked", 1.0),
        None => {}
        Some(kind) => visit_rule(kind, 1.0),
    }
    let title = &tokens[..in_title.min(tokens.len())];
    let lead = &tokens[title.len()..];
    let lead = &lead[..lead.len().min(LEAD_WORDS)];
    for (section, words) in [(Section::Title, title), (Section::Lead, lead)] {
        for (i, token) in words.iter().enumerate() {
            visit(Feature {
                key: key(section, token.stem_hash, None),
                section,
                words: [&token.stem, ""],
                value: 1.0,
                telling: token.content,
            });
            if section == Section::Lead {
                continue;
            }
            if let Some(next) = words.get(i + 1).filter(|n| n.sentence == token.sentence) {
                visit(Feature {
                    key: key(section, token.stem_hash, Some(next.stem_hash)),
                    section,
                    words: [&token.stem, &next.stem],
                    value: 1.0,
                    telling: token.content || next.content,
                });
            }
        }
    }
}

/// A model ready to score: weights by feature key.
#[derive(Debug, Clone)]
pub(super) struct Compiled {
    bias: f64,
    threshold: f64,
    weights: FxHashMap<u64, f64>,
}

/// A model's verdict on one article, with what weighed most.
#[derive(Debug, Clone)]
pub(super) struct Scoring {
    pub probability: f64,
    /// What the rules' outcome added, in log-odds.
    pub rules: f64,
    /// Up to two words (or pairs) of meaning that pushed towards relevant and one that
    /// pushed against, strongest first: the feature's name and its contribution in
    /// log-odds. Few, because every stored article keeps its reasons.
    pub for_: Vec<(String, f64)>,
    pub against: Vec<(String, f64)>,
}

impl Compiled {
    /// Compiles a model; `threshold` overrides its own.
    ///
    /// # Errors
    /// The first weight whose name is not a feature.
    pub(super) fn new(model: &Model, threshold: Option<f64>) -> Result<Compiled, String> {
        let mut weights = FxHashMap::default();
        if !model.bias.is_finite() {
            return Err(format!("model bias is not a number: {}", model.bias));
        }
        for (name, weight) in &model.weights {
            let key = key_of_name(name).ok_or_else(|| {
                format!(
                    "model weight `{name}` is not a feature (`rule WORD`, `title W [W]` or `lead W`)"
                )
            })?;
            if !weight.is_finite() {
                return Err(format!("model weight `{name}` is not a number: {weight}"));
            }
            weights.insert(key, *weight);
        }
        Ok(Compiled {
            bias: model.bias,
            threshold: threshold.unwrap_or(model.threshold),
            weights,
        })
    }

    /// The probability at or above which an article is relevant.
    pub(super) fn threshold(&self) -> f64 {
        self.threshold
    }

    /// Scores an article: the features the model has a weight for, each once.
    pub(super) fn score(&self, tokens: &[Token], in_title: usize, rule: RuleOutcome) -> Scoring {
        // Most of an article's words have no weight. The few that match are kept once
        // each (a word seen twice counts once); a scan of them is cheaper than sorting.
        let mut matched: Vec<(Feature<'_>, f64)> = Vec::with_capacity(LEAD_WORDS);
        visit_features(tokens, in_title, rule, |feature| {
            if let Some(weight) = self.weights.get(&feature.key)
                && !matched.iter().any(|(seen, _)| seen.key == feature.key)
            {
                let part = weight * feature.value;
                matched.push((feature, part));
            }
        });
        let mut z = self.bias;
        let mut rules = 0.0;
        let mut for_ = Strongest::<2>::default();
        let mut against = Strongest::<1>::default();
        for (index, (feature, part)) in matched.iter().enumerate() {
            z += part;
            if feature.section == Section::Rule {
                rules += part;
            } else if !feature.telling {
                // Counted, but not named.
            } else if *part > 0.0 {
                for_.offer(index, *part);
            } else if *part < 0.0 {
                against.offer(index, *part);
            }
        }
        Scoring {
            probability: sigmoid(z),
            rules,
            for_: for_.named(&matched),
            against: against.named(&matched),
        }
    }
}

/// The `N` contributions of largest size seen, largest first: what a reason names,
/// kept without sorting every feature of every article.
struct Strongest<const N: usize> {
    kept: [(usize, f64); N],
    len: usize,
}

impl<const N: usize> Strongest<N> {
    fn offer(&mut self, index: usize, part: f64) {
        let mut at = self.len.min(N);
        while at > 0 && self.kept[at - 1].1.abs() < part.abs() {
            at -= 1;
        }
        if at == N {
            return;
        }
        let end = self.len.min(N - 1);
        self.kept.copy_within(at..end, at + 1);
        self.kept[at] = (index, part);
        self.len = (self.len + 1).min(N);
    }

    fn named(&self, matched: &[(Feature<'_>, f64)]) -> Vec<(String, f64)> {
        self.kept[..self.len]
            .iter()
            .map(|(index, part)| (matched[*index].0.name(), *part))
            .collect()
    }
}

impl<const N: usize> Default for Strongest<N> {
    fn default() -> Self {
        Strongest {
            kept: [(0, 0.0); N],
            len: 0,
        }
    }
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z.clamp(-30.0, 30.0)).exp())
}

/// One labelled article's features, by key and name.
#[derive(Debug, Clone)]
pub struct Example {
    /// Feature keys and values, sorted by key.
    pub features: Vec<(u64, f64)>,
    /// Whether the article should alert.
    pub label: bool,
}

/// Trains a model by stochastic gradient descent on the log loss with an L2 pull. Each
/// pass visits the items in a fixed shuffled order, so the same examples always give the
/// same weights. `names` names every key the examples hold.
pub fn train(examples: &[Example], names: &FxHashMap<u64, String>, rules: String) -> Model {
    let kept = frequent_features(examples, names);
    // Each example's kept features, chosen once rather than in every pass.
    let features: Vec<Vec<(u64, f64)>> = examples
        .iter()
        .map(|e| {
            e.features
                .iter()
                .copied()
                .filter(|(key, _)| kept.contains(key))
                .collect()
        })
        .collect();
    let mut weights: FxHashMap<u64, f64> = kept.iter().map(|key| (*key, 0.0)).collect();
    let mut bias = 0.0;
    for epoch in 0..EPOCHS {
        for index in shuffled(examples.len(), epoch) {
            let z = bias
                + features[index]
                    .iter()
                    .map(|(key, value)| weights[key] * value)
                    .sum::<f64>();
            let error = sigmoid(z) - f64::from(u8::from(examples[index].label));
            bias -= LEARNING_RATE * error;
            for (key, value) in &features[index] {
                let weight = weights.get_mut(key).expect("kept features have a weight");
                *weight -= LEARNING_RATE * (error * value + L2 * *weight);
            }
        }
    }
    Model {
        threshold: DEFAULT_MODEL_THRESHOLD,
        trained_on: examples.len(),
        rules,
        bias: round4(bias),
        weights: weights
            .into_iter()
            .filter(|(_, w)| w.abs() >= MIN_WEIGHT)
            .map(|(key, w)| (names[&key].clone(), round4(w)))
            .collect(),
    }
}

fn round4(value: f64) -> f64 {
    (value * 10_000.0).round() / 10_000.0
}

/// The indices `0..len` in an order fixed by `pass`: sorted by a hash of both.
fn shuffled(len: usize, pass: u64) -> Vec<usize> {
    let mut order: Vec<(u64, usize)> = (0..len)
        .map(|i| {
            let mut hasher = FxHasher::default();
            hasher.write_u64(pass);
            hasher.write_usize(i);
            (
                xxhash_rust::xxh3::xxh3_64(&hasher.finish().to_le_bytes()),
                i,
            )
        })
        .collect();
    order.sort_unstable();
    order.into_iter().map(|(_, i)| i).collect()
}

/// The features at least [`MIN_ITEMS`] examples have, and every rule feature.
fn frequent_features(
    examples: &[Example],
    names: &FxHashMap<u64, String>,
) -> rustc_hash::FxHashSet<u64> {
    let mut counts: FxHashMap<u64, usize> = FxHashMap::default();
    for example in examples {
        for (key, _) in &example.features {
            *counts.entry(*key).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .filter(|(key, count)| {
            *count >= MIN_ITEMS || names.get(key).is_some_and(|n| n.starts_with("rule "))
        })
        .map(|(key, _)| key)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::text::{english_stemmer, tokenize_title_lead};

    fn linked() -> RuleOutcome {
        RuleOutcome {
            linked: true,
            score: 0.75,
            miss: None,
        }
    }

    #[test]
    fn every_feature_name_reads_back_as_its_key() {
        let stemmer = english_stemmer();
        let (tokens, in_title) = tokenize_title_lead(
            &stemmer,
            "Envoys meet in Muscat",
            "The two sides exchanged proposals.",
        );
        let features = features(&tokens, in_title, linked());
        assert!(features.iter().any(|f| f.name() == "title envoy meet"));
        assert!(features.iter().any(|f| f.name() == "lead exchang"));
        assert!(!features.iter().any(|f| f.name() == "lead exchang propos"));
        assert!(features.iter().any(|f| f.name() == "rule linked"));
        // A pair never spans the headline and the lead.
        assert!(!features.iter().any(|f| f.name() == "title muscat the"));
        for feature in &features {
            assert_eq!(
                key_of_name(&feature.name()),
                Some(feature.key),
                "{}",
                feature.name()
            );
        }
    }

    #[test]
    fn a_weight_that_names_no_feature_is_refused() {
        let mut model = Model {
            threshold: 0.6,
            trained_on: 0,
            rules: String::new(),
            bias: 0.0,
            weights: BTreeMap::from([("headline talk".to_string(), 1.0)]),
        };
        let err = Compiled::new(&model, None).unwrap_err();
        assert!(err.contains("`headline talk`"), "{err}");
        for never_read in [
            "title a b c",
            "lead a b",
            "rule nonsense",
            "title  talk",
            "title",
        ] {
            model.weights = BTreeMap::from([(never_read.to_string(), 1.0)]);
            assert!(Compiled::new(&model, None).is_err(), "{never_read}");
        }
        model.weights = BTreeMap::from([("title talk".to_string(), f64::NAN)]);
        assert!(Compiled::new(&model, None).is_err());
        model.weights = BTreeMap::from([("rule miss-negated".to_string(), -1.5)]);
        assert!(Compiled::new(&model, None).is_ok());
    }

    /// Items in the team's words: the word "round" goes with talks, "sanctions" against.
    fn examples() -> (Vec<Example>, FxHashMap<u64, String>) {
        let stemmer = english_stemmer();
        let mut names = FxHashMap::default();
        let mut out = Vec::new();
        let titles = [
            ("New round for the envoys", true),
            ("Envoys start a round", true),
            ("Round ends without a deal", true),
            ("Another round is set", true),
            ("New sanctions on shippers", false),
            ("Sanctions hit the rial", false),
            ("Fresh sanctions announced", false),
            ("Sanctions widened again", false),
        ];
        for (title, label) in titles {
            let (tokens, in_title) = tokenize_title_lead(&stemmer, title, "");
            let rule = RuleOutcome {
                linked: false,
                score: 0.0,
                miss: Some("miss-no-event"),
            };
            let features = features(&tokens, in_title, rule)
                .into_iter()
                .map(|f| {
                    names.insert(f.key, f.name());
                    (f.key, f.value)
                })
                .collect();
            out.push(Example { features, label });
        }
        (out, names)
    }

    #[test]
    fn training_learns_which_words_go_with_talks_and_is_deterministic() {
        let (examples, names) = examples();
        let model = train(&examples, &names, "rules".into());
        assert!(model.weights["title round"] > 0.0, "{model:?}");
        assert!(model.weights["title sanction"] < 0.0, "{model:?}");
        // A word in fewer than MIN_ITEMS items gets no weight.
        assert!(!model.weights.contains_key("title rial"), "{model:?}");
        assert_eq!(model.trained_on, 8);
        assert_eq!(train(&examples, &names, "rules".into()), model);
        // The model it learned scores a new headline by those words.
        let compiled = Compiled::new(&model, None).unwrap();
        let stemmer = english_stemmer();
        let (tokens, in_title) = tokenize_title_lead(&stemmer, "A round in Oslo", "");
        let rule = RuleOutcome {
            linked: false,
            score: 0.0,
            miss: Some("miss-no-event"),
        };
        let scoring = compiled.score(&tokens, in_title, rule);
        assert!(scoring.probability > 0.5, "{scoring:?}");
        assert_eq!(scoring.for_[0].0, "title round", "{scoring:?}");
    }
}
