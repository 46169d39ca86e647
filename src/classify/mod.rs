//! Decides whether an article reports talks or a channel between the profile's two parties,
//! and says why.
//!
//! The scorer looks for a sentence that links both parties to an event phrase: "the US and
//! Iran resumed indirect talks" links them; "US sanctions Iran" and "US and China hold
//! talks" do not. A refusal in the same sentence cancels the event, and a background cue
//! ("in 2015", "collapsed") weakens it. Similarity to the corpus vocabulary adds a little on
//! top, so it can separate close calls, but it never makes an article relevant on its own.

mod profile;
pub mod text;

pub use profile::{CHANNEL_WINDOW, Events, LEXICON_FILE, Learned, Party, Profile, ProfileError};

use crate::config::ProfileSource;
use crate::model::{Article, Event, Verdict};
use rust_stemmers::Stemmer;
use std::collections::HashMap;
use std::path::Path;
use text::{Token, english_stemmer, stem_word, tokenize};

/// The profile used when the config names none.
pub const DEFAULT_PROFILE: &str = "us-iran";
/// Profiles compiled into the binary.
pub const BUILTIN_PROFILES: &[&str] = &["us-iran"];

/// The text of a built-in profile, generated from `corpus/us-iran` by
/// `parleyd profile build corpus/us-iran -o profiles/us-iran.toml`.
pub fn builtin_profile_text(name: &str) -> Option<&'static str> {
    match name {
        "us-iran" => Some(include_str!("../../profiles/us-iran.toml")),
        _ => None,
    }
}

/// A built-in profile by name.
///
/// # Errors
/// [`ProfileError::Invalid`] if the name is unknown (a build with a broken built-in profile
/// fails its tests, not here).
pub fn builtin_profile(name: &str) -> Result<Profile, ProfileError> {
    let origin = Path::new("builtin").join(name);
    let text = builtin_profile_text(name).ok_or_else(|| ProfileError::Invalid {
        path: origin.clone(),
        reason: format!("no built-in profile `{name}`"),
    })?;
    Profile::from_toml(text, &origin)
}

/// Score of a sentence that names both parties and an event, in the headline.
const LINK_IN_TITLE: f64 = 0.75;
/// The same in the summary: summaries mention more background, so a little less.
const LINK_IN_SUMMARY: f64 = 0.65;
/// An event sentence naming one party (or "both sides") when the article names both.
const LINK_INDIRECT: f64 = 0.45;
/// Taken off when the linking sentence reads as background.
const BACKGROUND_PENALTY: f64 = 0.25;
/// How much corpus similarity adds; below the gap between a link and no link.
const SIMILARITY_WEIGHT: f64 = 0.25;
/// Sentences quoted in reasons are cut to this many characters.
const REASON_SENTENCE_CHARS: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Party(usize),
    Event(Event),
    BothParties,
    Negation,
    Background,
    ChannelWord,
    ChannelContext,
}

#[derive(Debug, Clone)]
struct Phrase {
    stems: Vec<String>,
    role: Role,
    /// Only matches words written in capitals (`US`, not "us").
    needs_upper: bool,
}

/// A phrase found in the text.
#[derive(Debug, Clone)]
struct Found {
    role: Role,
    sentence: usize,
    /// Index of its first token.
    position: usize,
    surface: String,
}

/// A compiled profile, ready to classify. Cheap to share behind an `Arc`.
pub struct Classifier {
    profile: Profile,
    threshold: f64,
    /// Phrases indexed by their first stem, so each token costs one hash lookup.
    phrases: HashMap<String, Vec<Phrase>>,
    learned_norm: f64,
    stop_stems: Vec<String>,
    stemmer: Stemmer,
}

impl std::fmt::Debug for Classifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Classifier")
            .field("profile", &self.profile.name)
            .field("threshold", &self.threshold)
            .finish()
    }
}

impl Classifier {
    /// Compiles a profile; `threshold` overrides the profile's own.
    pub fn new(profile: Profile, threshold: Option<f64>) -> Classifier {
        let stemmer = english_stemmer();
        let mut phrases: HashMap<String, Vec<Phrase>> = HashMap::new();
        let mut add = |text: &str, role: Role| {
            let stems: Vec<String> = tokenize(&stemmer, &[text])
                .into_iter()
                .map(|t| t.stem)
                .collect();
            let Some(first) = stems.first().cloned() else {
                return;
            };
            let letters: Vec<char> = text.chars().filter(|c| c.is_alphabetic()).collect();
            let needs_upper = matches!(role, Role::Party(_))
                && letters.len() <= 4
                && letters.iter().all(|c| c.is_uppercase());
            phrases.entry(first).or_default().push(Phrase {
                stems,
                role,
                needs_upper,
            });
        };
        for (index, party) in profile.parties.iter().enumerate() {
            for alias in &party.aliases {
                add(alias, Role::Party(index));
            }
        }
        for phrase in &profile.events.talks {
            add(phrase, Role::Event(Event::Talks));
        }
        for phrase in &profile.events.channel {
            add(phrase, Role::Event(Event::Channel));
        }
        for phrase in &profile.events.both_parties {
            add(phrase, Role::BothParties);
        }
        for phrase in &profile.events.negations {
            add(phrase, Role::Negation);
        }
        for phrase in &profile.events.background {
            add(phrase, Role::Background);
        }
        for phrase in &profile.events.channel_words {
            add(phrase, Role::ChannelWord);
        }
        for phrase in &profile.events.channel_context {
            add(phrase, Role::ChannelContext);
        }
        // Longer phrases first, so "back channel" is preferred over a shorter overlap.
        for list in phrases.values_mut() {
            list.sort_by_key(|phrase| std::cmp::Reverse(phrase.stems.len()));
        }
        let learned_norm = profile
            .learned
            .terms
            .values()
            .map(|w| w * w)
            .sum::<f64>()
            .sqrt();
        let stop_stems = profile::stop_stems(&stemmer);
        Classifier {
            threshold: threshold.unwrap_or(profile.threshold),
            profile,
            phrases,
            learned_norm,
            stop_stems,
            stemmer,
        }
    }

    /// Loads the profile a config names.
    ///
    /// # Errors
    /// [`ProfileError`] naming the profile file.
    pub fn from_source(
        source: &ProfileSource,
        threshold: Option<f64>,
    ) -> Result<Classifier, ProfileError> {
        let profile = match source {
            ProfileSource::Builtin(name) => builtin_profile(name)?,
            ProfileSource::Path(path) => Profile::load(path)?,
        };
        Ok(Classifier::new(profile, threshold))
    }

    /// The profile in use.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The threshold in use.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    /// Classifies an article by its title and summary.
    pub fn classify_article(&self, article: &Article) -> Verdict {
        self.classify(&article.title, &article.summary)
    }

    /// Classifies a headline and a lead. Deterministic: the same text and profile always
    /// give the same verdict.
    pub fn classify(&self, title: &str, summary: &str) -> Verdict {
        let tokens = tokenize(&self.stemmer, &[title, summary]);
        let found = self.find_phrases(&tokens);
        let similarity = self.similarity(&tokens);
        let article_parties = [0, 1].map(|party| {
            found
                .iter()
                .find(|f| f.role == Role::Party(party))
                .map(|f| f.surface.clone())
        });
        let best = self.best_link(&found, &article_parties);
        let mut reasons = Vec::new();
        let (link_score, event) = match &best {
            Some(link) => {
                reasons.push(self.describe_parties(&found, link.sentence, &article_parties));
                reasons.push(format!(
                    "event: {} (\"{}\")",
                    link.event.as_str(),
                    link.event_surface
                ));
                reasons.push(format!(
                    "sentence: \"{}\"",
                    sentence_text(&tokens, link.sentence)
                ));
                if let Some(cue) = &link.background {
                    reasons.push(format!("background cue \"{cue}\": -{BACKGROUND_PENALTY}"));
                }
                (link.score, Some(link.event))
            }
            None => {
                reasons.push(self.describe_miss(&found, &article_parties));
                (0.0, None)
            }
        };
        let score = round3((link_score + SIMILARITY_WEIGHT * similarity).clamp(0.0, 1.0));
        let relevant = best.is_some() && score >= self.threshold;
        reasons.push(format!(
            "similarity to the {} corpus: {:.2}",
            self.profile.name, similarity
        ));
        reasons.push(format!(
            "score {score:.3} {} threshold {:.2}",
            if relevant { ">=" } else { "<" },
            self.threshold
        ));
        Verdict {
            relevant,
            event: if relevant { event } else { None },
            score,
            reasons,
        }
    }

    fn find_phrases(&self, tokens: &[Token]) -> Vec<Found> {
        let mut found = Vec::new();
        let mut i = 0;
        while i < tokens.len() {
            let mut advanced = 1;
            if let Some(candidates) = self.phrases.get(&tokens[i].stem) {
                for phrase in candidates {
                    if phrase_matches(phrase, tokens, i) {
                        let end = i + phrase.stems.len();
                        let surface = tokens[i..end]
                            .iter()
                            .map(|t| t.surface.as_str())
                            .collect::<Vec<_>>()
                            .join(" ");
                        found.push(Found {
                            role: phrase.role,
                            sentence: tokens[i].sentence,
                            position: i,
                            surface,
                        });
                        // Roles differ ("White House" is a party, "talks" an event), so a
                        // token may start several phrases; only skip past party names.
                        if matches!(phrase.role, Role::Party(_)) {
                            advanced = advanced.max(phrase.stems.len());
                        }
                    }
                }
            }
            i += advanced;
        }
        found.extend(channels_in_context(&found, tokens));
        found
    }

    fn best_link(&self, found: &[Found], article_parties: &[Option<String>; 2]) -> Option<Link> {
        let sentences = found.iter().map(|f| f.sentence).max().map_or(0, |m| m + 1);
        let mut best: Option<Link> = None;
        for sentence in 0..sentences {
            let here: Vec<&Found> = found.iter().filter(|f| f.sentence == sentence).collect();
            if here.iter().any(|f| f.role == Role::Negation) {
                continue;
            }
            // A channel is the more specific news when both kinds are named.
            let event = here
                .iter()
                .find(|f| f.role == Role::Event(Event::Channel))
                .or_else(|| here.iter().find(|f| f.role == Role::Event(Event::Talks)));
            let Some(event) = event else { continue };
            let Role::Event(kind) = event.role else {
                continue;
            };
            let has_party = |p: usize| here.iter().any(|f| f.role == Role::Party(p));
            let both_here = has_party(0) && has_party(1);
            let both_in_article = article_parties.iter().all(Option::is_some);
            let refers_to_both = here.iter().any(|f| f.role == Role::BothParties);
            let base = if both_here {
                if sentence == 0 {
                    LINK_IN_TITLE
                } else {
                    LINK_IN_SUMMARY
                }
            } else if both_in_article && (has_party(0) || has_party(1) || refers_to_both) {
                LINK_INDIRECT
            } else {
                continue;
            };
            let background = here
                .iter()
                .find(|f| f.role == Role::Background)
                .map(|f| f.surface.clone());
            let score = base
                - if background.is_some() {
                    BACKGROUND_PENALTY
                } else {
                    0.0
                };
            if best.as_ref().is_none_or(|b| score > b.score) {
                best = Some(Link {
                    sentence,
                    event: kind,
                    event_surface: event.surface.clone(),
                    background,
                    score,
                });
            }
        }
        best
    }

    fn describe_parties(
        &self,
        found: &[Found],
        sentence: usize,
        article_parties: &[Option<String>; 2],
    ) -> String {
        let names: Vec<String> = (0..2)
            .map(|party| {
                let in_sentence = found
                    .iter()
                    .find(|f| f.role == Role::Party(party) && f.sentence == sentence)
                    .map(|f| f.surface.clone());
                let surface = in_sentence
                    .or_else(|| article_parties[party].clone())
                    .unwrap_or_default();
                format!("{} (\"{}\")", self.profile.parties[party].name, surface)
            })
            .collect();
        format!("parties: {}", names.join(", "))
    }

    fn describe_miss(&self, found: &[Found], article_parties: &[Option<String>; 2]) -> String {
        let missing: Vec<&str> = (0..2)
            .filter(|p| article_parties[*p].is_none())
            .map(|p| self.profile.parties[p].name.as_str())
            .collect();
        if !missing.is_empty() {
            return format!("no mention of {}", missing.join(" or "));
        }
        let has_event = found.iter().any(|f| matches!(f.role, Role::Event(_)));
        if !has_event {
            return "both parties named, but no talks or channel event".to_string();
        }
        if let Some(negation) = found.iter().find(|f| f.role == Role::Negation) {
            return format!(
                "the event is negated (\"{}\") and no other sentence links the parties to it",
                negation.surface
            );
        }
        "no sentence links both parties to a talks or channel event".to_string()
    }

    /// Cosine similarity between the article's content stems and the learned terms.
    fn similarity(&self, tokens: &[Token]) -> f64 {
        if self.learned_norm == 0.0 {
            return 0.0;
        }
        let mut counts: HashMap<&str, f64> = HashMap::new();
        for token in tokens {
            if profile::is_content_stem(&token.stem, &self.stop_stems) {
                *counts.entry(token.stem.as_str()).or_default() += 1.0;
            }
        }
        let norm = counts.values().map(|c| c * c).sum::<f64>().sqrt();
        if norm == 0.0 {
            return 0.0;
        }
        let dot: f64 = counts
            .iter()
            .filter_map(|(stem, count)| self.profile.learned.terms.get(*stem).map(|w| w * count))
            .sum();
        round3(dot / (norm * self.learned_norm))
    }

    /// Stems a word the way the classifier does (for tools that inspect profiles).
    pub fn stem(&self, word: &str) -> String {
        stem_word(&self.stemmer, word)
    }
}

/// The sentence that linked the parties to an event.
#[derive(Debug, Clone)]
struct Link {
    sentence: usize,
    event: Event,
    event_surface: String,
    background: Option<String>,
    score: f64,
}

/// A channel word with a context word near it in the same sentence is a channel event,
/// quoted from the first of the two words to the last.
fn channels_in_context(found: &[Found], tokens: &[Token]) -> Vec<Found> {
    let mut out = Vec::new();
    for word in found.iter().filter(|f| f.role == Role::ChannelWord) {
        let context = found.iter().find(|c| {
            c.role == Role::ChannelContext
                && c.sentence == word.sentence
                && c.position.abs_diff(word.position) <= CHANNEL_WINDOW
        });
        if let Some(context) = context {
            let start = word.position.min(context.position);
            let end = word.position.max(context.position) + 1;
            let surface = tokens[start..end]
                .iter()
                .map(|t| t.surface.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            out.push(Found {
                role: Role::Event(Event::Channel),
                sentence: word.sentence,
                position: start,
                surface,
            });
        }
    }
    out
}

fn phrase_matches(phrase: &Phrase, tokens: &[Token], start: usize) -> bool {
    let end = start + phrase.stems.len();
    if end > tokens.len() {
        return false;
    }
    let sentence = tokens[start].sentence;
    if phrase.needs_upper && !tokens[start].upper {
        return false;
    }
    phrase
        .stems
        .iter()
        .zip(&tokens[start..end])
        .all(|(stem, token)| *stem == token.stem && token.sentence == sentence)
}

fn sentence_text(tokens: &[Token], sentence: usize) -> String {
    let words: Vec<&str> = tokens
        .iter()
        .filter(|t| t.sentence == sentence)
        .map(|t| t.surface.as_str())
        .collect();
    let mut text = words.join(" ");
    if let Some((cut, _)) = text.char_indices().nth(REASON_SENTENCE_CHARS) {
        text.truncate(cut);
        text.push('…');
    }
    text
}

fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}
