//! Decides whether an article reports talks or a channel between the profile's two parties,
//! and says why.
//!
//! The scorer reads who does what to whom, clause by clause. An event phrase ("talks",
//! "hotline", "channel … open", "message … delivered") links the parties that take part in
//! its clause: "the US and Iran resumed indirect talks" links them; "US sanctions Iran" has no
//! event; "US and China hold talks on Iran" has Iran only as the subject matter (after "on"),
//! so the participants are the US and China. A refusal in the event's clause cancels it, as
//! does a background cue ("who mediated", "in 2015") or a headline label such as
//! "Analysis:". Similarity to the corpus vocabulary adds a little on top, so it can separate
//! close calls, but it never makes an article relevant on its own.

pub mod eval;
mod profile;
pub mod text;

pub use profile::{
    CONTEXT_WINDOW, Contextual, Cues, Events, LEXICON_FILE, Learned, Party, Profile, ProfileError,
};

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

/// Score of a clause that has both parties taking part in an event, in the headline.
const LINK_IN_TITLE: f64 = 0.75;
/// The same in the summary: summaries mention more background, so a little less.
const LINK_IN_SUMMARY: f64 = 0.65;
/// An event clause with one party (or "both sides") when the article has both parties
/// taking part in events elsewhere.
const LINK_INDIRECT: f64 = 0.45;
/// Taken off when a background cue is elsewhere in the linking sentence.
const BACKGROUND_PENALTY: f64 = 0.25;
/// How much corpus similarity adds; below the gap between a link and no link.
const SIMILARITY_WEIGHT: f64 = 0.25;
/// Sentences quoted in reasons are cut to this many characters.
const REASON_SENTENCE_CHARS: usize = 200;
/// A topic marker this many words or fewer before a party makes it the subject matter.
const TOPIC_REACH: usize = 3;
/// Words that make the next actor a participant even after a topic marker ("discuss
/// sanctions with Iran").
const PARTICIPANT_MARKERS: &[&str] = &["with", "between", "to", "from"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Party(usize),
    Other,
    Event(Event),
    ContextWord(usize),
    ContextCue(usize),
    ContextExclude(usize),
    ClauseStarter,
    Attribution,
    BothParties,
    Negation,
    Background,
    NotNews,
    TopicMarker,
    NotParty,
    OffTopic,
}

impl Role {
    fn is_actor(self) -> bool {
        matches!(self, Role::Party(_) | Role::Other)
    }
}

#[derive(Debug, Clone)]
struct Phrase {
    stems: Vec<String>,
    role: Role,
    /// Only matches words written in capitals (`US`, not "us").
    needs_upper: bool,
}

/// A phrase found in the text: tokens `start..end`.
#[derive(Debug, Clone)]
struct Found {
    role: Role,
    sentence: usize,
    start: usize,
    end: usize,
    surface: String,
}

/// A compiled profile, ready to classify. Cheap to share behind an `Arc`.
pub struct Classifier {
    profile: Profile,
    threshold: f64,
    /// Phrases indexed by their first stem, so each token costs one hash lookup.
    phrases: HashMap<String, Vec<Phrase>>,
    /// The event each contextual group makes.
    contextual_events: Vec<Event>,
    learned_norm: f64,
    stop_stems: Vec<String>,
    participant_stems: Vec<String>,
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
            let needs_upper =
                role.is_actor() && letters.len() <= 4 && letters.iter().all(|c| c.is_uppercase());
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
        let cues = &profile.cues;
        let lists: [(&[String], Role); 12] = [
            (&profile.others, Role::Other),
            (&profile.events.talks, Role::Event(Event::Talks)),
            (&profile.events.channel, Role::Event(Event::Channel)),
            (&cues.both_parties, Role::BothParties),
            (&cues.negations, Role::Negation),
            (&cues.background, Role::Background),
            (&cues.not_news, Role::NotNews),
            (&cues.topic_markers, Role::TopicMarker),
            (&cues.not_party, Role::NotParty),
            (&cues.off_topic, Role::OffTopic),
            (&cues.clause_starters, Role::ClauseStarter),
            (&cues.attribution, Role::Attribution),
        ];
        for (list, role) in lists {
            for phrase in list {
                add(phrase, role);
            }
        }
        for (group, contextual) in profile.events.contextual.iter().enumerate() {
            for word in &contextual.words {
                add(word, Role::ContextWord(group));
            }
            for word in &contextual.context {
                add(word, Role::ContextCue(group));
            }
            for word in &contextual.exclude {
                add(word, Role::ContextExclude(group));
            }
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
        let participant_stems = PARTICIPANT_MARKERS
            .iter()
            .map(|w| stem_word(&stemmer, w))
            .collect();
        Classifier {
            threshold: threshold.unwrap_or(profile.threshold),
            contextual_events: profile.events.contextual.iter().map(|c| c.event).collect(),
            profile,
            phrases,
            learned_norm,
            stop_stems,
            participant_stems,
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
        let clauses = clause_ids(&tokens, &found);
        let analysis = Analysis {
            tokens: &tokens,
            found: &found,
            clauses: &clauses,
            participant_stems: &self.participant_stems,
        };
        let similarity = self.similarity(&tokens);
        let outcome = analysis.best_link();
        let mut reasons = Vec::new();
        let (link_score, event) = match &outcome {
            Ok(link) => {
                reasons.push(self.describe_parties(&link.parties));
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
            Err(miss) => {
                reasons.push(self.describe_miss(miss));
                (0.0, None)
            }
        };
        let score = round3((link_score + SIMILARITY_WEIGHT * similarity).clamp(0.0, 1.0));
        let relevant = outcome.is_ok() && score >= self.threshold;
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
        for start in 0..tokens.len() {
            let Some(candidates) = self.phrases.get(&tokens[start].stem) else {
                continue;
            };
            for phrase in candidates {
                if phrase_matches(phrase, tokens, start) {
                    let end = start + phrase.stems.len();
                    found.push(Found {
                        role: phrase.role,
                        sentence: tokens[start].sentence,
                        start,
                        end,
                        surface: surface(tokens, start, end),
                    });
                }
            }
        }
        drop_covered_actors(&mut found);
        let contextual = self.contextual_events(&found, tokens);
        found.extend(contextual);
        found
    }

    /// A contextual word with one of its context words near it in the same sentence is an
    /// event, quoted from the first of the two words to the last.
    fn contextual_events(&self, found: &[Found], tokens: &[Token]) -> Vec<Found> {
        let mut out = Vec::new();
        for word in found {
            let Role::ContextWord(group) = word.role else {
                continue;
            };
            let near = |c: &&Found, role: Role| {
                c.role == role
                    && c.sentence == word.sentence
                    && c.start.abs_diff(word.start) <= CONTEXT_WINDOW
            };
            if found.iter().any(|c| near(&c, Role::ContextExclude(group))) {
                continue;
            }
            let context = found.iter().find(|c| near(c, Role::ContextCue(group)));
            if let Some(context) = context {
                let start = word.start.min(context.start);
                let end = word.end.max(context.end);
                out.push(Found {
                    role: Role::Event(self.contextual_events[group]),
                    sentence: word.sentence,
                    start,
                    end,
                    surface: surface(tokens, start, end),
                });
            }
        }
        out
    }

    fn describe_parties(&self, parties: &[Option<String>; 2]) -> String {
        let names: Vec<String> = (0..2)
            .map(|party| {
                format!(
                    "{} (\"{}\")",
                    self.profile.parties[party].name,
                    parties[party].clone().unwrap_or_default()
                )
            })
            .collect();
        format!("parties: {}", names.join(", "))
    }

    fn describe_miss(&self, miss: &MissReason) -> String {
        match miss {
            MissReason::NotNews(label) => format!("not news: the headline is labelled \"{label}\""),
            MissReason::NoEvent => {
                let names: Vec<&str> = self
                    .profile
                    .parties
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect();
                format!(
                    "no talks or channel event involving {}",
                    names.join(" and ")
                )
            }
            MissReason::Negated { event, cue } => {
                format!("\"{event}\" is negated by \"{cue}\"")
            }
            MissReason::Background { event, cue } => {
                format!("\"{event}\" is background (\"{cue}\")")
            }
            MissReason::OneSided {
                event,
                party,
                others,
            } => {
                let party = &self.profile.parties[*party].name;
                match others {
                    Some(other) => {
                        format!("\"{event}\" is between {party} and {other}, not both parties")
                    }
                    None => format!("\"{event}\" has only {party} taking part"),
                }
            }
            MissReason::NoParties { event } => {
                format!("\"{event}\" has neither party taking part")
            }
        }
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

/// Why no event linked the parties: the most telling reason found.
#[derive(Debug, Clone, PartialEq)]
enum MissReason {
    NotNews(String),
    NoEvent,
    NoParties {
        event: String,
    },
    OneSided {
        event: String,
        party: usize,
        others: Option<String>,
    },
    Background {
        event: String,
        cue: String,
    },
    Negated {
        event: String,
        cue: String,
    },
}

impl MissReason {
    /// Higher is more telling: a negated event says more than a missing one.
    fn rank(&self) -> u8 {
        match self {
            MissReason::NoEvent => 0,
            MissReason::NoParties { .. } => 1,
            MissReason::OneSided { .. } => 2,
            MissReason::Background { .. } => 3,
            MissReason::Negated { .. } => 4,
            MissReason::NotNews(_) => 5,
        }
    }
}

/// The clause that linked the parties to an event.
#[derive(Debug, Clone)]
struct Link {
    sentence: usize,
    event: Event,
    event_surface: String,
    parties: [Option<String>; 2],
    background: Option<String>,
    score: f64,
}

/// One article's tokens, phrases and clauses, read together.
struct Analysis<'a> {
    tokens: &'a [Token],
    found: &'a [Found],
    clauses: &'a [usize],
    participant_stems: &'a [String],
}

impl Analysis<'_> {
    fn clause_of(&self, found: &Found) -> usize {
        self.clauses[found.start]
    }

    fn in_clause(&self, clause: usize) -> impl Iterator<Item = &Found> {
        self.found
            .iter()
            .filter(move |f| self.clause_of(f) == clause)
    }

    /// An actor right after a topic marker ("talks on Iran", "discuss Iran's programme") is
    /// the subject matter, unless "with", "between", "to" or another actor comes between.
    fn is_topic(&self, actor: &Found) -> bool {
        let clause = self.clause_of(actor);
        self.found.iter().any(|marker| {
            marker.role == Role::TopicMarker
                && self.clause_of(marker) == clause
                && marker.end <= actor.start
                && actor.start - marker.end <= TOPIC_REACH
                && !(marker.end..actor.start).any(|i| {
                    self.participant_stems.contains(&self.tokens[i].stem)
                        || self.found.iter().any(|f| f.role.is_actor() && f.start == i)
                })
        })
    }

    /// The actors taking part in an event: those in its clause that are not the subject
    /// matter; if its clause names none (an appositive such as "The talks, held in Oman,"),
    /// those in its sentence.
    fn participants(&self, event: &Found) -> Vec<&Found> {
        let clause = self.clause_of(event);
        let mut in_clause: Vec<&Found> = self
            .in_clause(clause)
            .filter(|f| f.role.is_actor() && !self.is_topic(f))
            .collect();
        if in_clause.is_empty() {
            in_clause = self
                .found
                .iter()
                .filter(|f| f.sentence == event.sentence && f.role.is_actor() && !self.is_topic(f))
                .collect();
        }
        // The speaker of "Iran says" or "Araghchi:" takes part in what the sentence reports.
        for other in self.attribution_clauses(event.sentence) {
            if other != clause {
                in_clause.extend(self.in_clause(other).filter(|f| f.role.is_actor()));
            }
        }
        in_clause
    }

    /// Clauses of a sentence made only of actors and attribution words, with at least one
    /// actor: "Iran says", "US officials told reporters", "Araghchi:".
    fn attribution_clauses(&self, sentence: usize) -> Vec<usize> {
        let mut clauses: Vec<usize> = self
            .tokens
            .iter()
            .enumerate()
            .filter(|(_, t)| t.sentence == sentence)
            .map(|(i, _)| self.clauses[i])
            .collect();
        clauses.dedup();
        clauses
            .into_iter()
            .filter(|&clause| {
                let mut has_actor = false;
                let all_covered = (0..self.tokens.len())
                    .filter(|&i| self.clauses[i] == clause)
                    .all(|i| {
                        let covering = self.found.iter().find(|f| {
                            f.start <= i
                                && i < f.end
                                && (f.role.is_actor() || f.role == Role::Attribution)
                        });
                        has_actor |= covering.is_some_and(|f| f.role.is_actor());
                        covering.is_some()
                    });
                all_covered && has_actor
            })
            .collect()
    }

    fn not_news_label(&self) -> Option<String> {
        // A label is the whole first clause of the headline: "Analysis:", "Book review:".
        let first_clause_end = self
            .clauses
            .iter()
            .position(|&c| c != 0)
            .unwrap_or(self.tokens.len());
        if first_clause_end == self.tokens.len()
            || self
                .tokens
                .get(first_clause_end)
                .is_some_and(|t| t.sentence != 0)
        {
            return None;
        }
        self.found
            .iter()
            .find(|f| f.role == Role::NotNews && f.start == 0 && f.end == first_clause_end)
            .map(|f| f.surface.clone())
    }

    /// The strongest link in the article, or the most telling reason there is none.
    fn best_link(&self) -> Result<Link, MissReason> {
        if let Some(label) = self.not_news_label() {
            return Err(MissReason::NotNews(label));
        }
        let events: Vec<&Found> = self
            .found
            .iter()
            .filter(|f| matches!(f.role, Role::Event(_)))
            .collect();
        // Parties taking part in any event anywhere: needed for "both sides" and for
        // summary sentences that name only one party.
        let mut article_parties = [false, false];
        for event in &events {
            for actor in self.participants(event) {
                if let Role::Party(p) = actor.role {
                    article_parties[p] = true;
                }
            }
        }
        let mut best: Option<Link> = None;
        let mut miss = MissReason::NoEvent;
        for event in events {
            match self.link(event, article_parties) {
                Ok(link) => {
                    // On a tie the channel wins: it is the more specific news.
                    let better = best.as_ref().is_none_or(|b| {
                        link.score > b.score
                            || (link.score == b.score
                                && link.event == Event::Channel
                                && b.event != Event::Channel)
                    });
                    if better {
                        best = Some(link);
                    }
                }
                Err(reason) => {
                    if reason.rank() > miss.rank() {
                        miss = reason;
                    }
                }
            }
        }
        best.ok_or(miss)
    }

    fn link(&self, event: &Found, article_parties: [bool; 2]) -> Result<Link, MissReason> {
        let Role::Event(kind) = event.role else {
            return Err(MissReason::NoEvent);
        };
        let clause = self.clause_of(event);
        let surface = event.surface.clone();
        if let Some(cue) = self.in_clause(clause).find(|f| f.role == Role::Negation) {
            return Err(MissReason::Negated {
                event: surface,
                cue: cue.surface.clone(),
            });
        }
        if let Some(cue) = self
            .in_clause(clause)
            .find(|f| matches!(f.role, Role::Background | Role::OffTopic))
        {
            return Err(MissReason::Background {
                event: surface,
                cue: cue.surface.clone(),
            });
        }
        let participants = self.participants(event);
        let mut parties: [Option<String>; 2] = [None, None];
        for actor in &participants {
            if let Role::Party(p) = actor.role {
                parties[p].get_or_insert_with(|| actor.surface.clone());
            }
        }
        let other = participants
            .iter()
            .find(|f| f.role == Role::Other)
            .map(|f| f.surface.clone());
        let base = match (&parties, &other) {
            ([Some(_), Some(_)], _) if event.sentence == 0 => LINK_IN_TITLE,
            ([Some(_), Some(_)], _) => LINK_IN_SUMMARY,
            ([None, None], _) => return Err(MissReason::NoParties { event: surface }),
            (_, Some(_)) | (_, None) => {
                let refers_to_both = self.in_clause(clause).any(|f| f.role == Role::BothParties);
                if other.is_none()
                    && article_parties == [true, true]
                    && (refers_to_both || event.sentence > 0)
                {
                    LINK_INDIRECT
                } else {
                    let party = usize::from(parties[0].is_none());
                    return Err(MissReason::OneSided {
                        event: surface,
                        party,
                        others: other,
                    });
                }
            }
        };
        let background = self
            .found
            .iter()
            .find(|f| f.role == Role::Background && f.sentence == event.sentence)
            .map(|f| f.surface.clone());
        let score = base
            - if background.is_some() {
                BACKGROUND_PENALTY
            } else {
                0.0
            };
        Ok(Link {
            sentence: event.sentence,
            event: kind,
            event_surface: surface,
            parties,
            background,
            score,
        })
    }
}

/// Clause ids per token. A new clause starts with a new sentence, at a clause starter
/// ("that", "as", "while"), or after clause punctuation, except for a comma between two
/// actors ("Iran, US hold talks"), which lists them.
fn clause_ids(tokens: &[Token], found: &[Found]) -> Vec<usize> {
    let actor_ends_at = |i: usize| found.iter().any(|f| f.role.is_actor() && f.end == i);
    let actor_starts_at = |i: usize| found.iter().any(|f| f.role.is_actor() && f.start == i);
    let starter_at = |i: usize| {
        found
            .iter()
            .any(|f| f.role == Role::ClauseStarter && f.start == i)
    };
    let mut ids = Vec::with_capacity(tokens.len());
    let mut clause = 0;
    for (i, token) in tokens.iter().enumerate() {
        if i > 0 {
            let new_sentence = token.sentence != tokens[i - 1].sentence;
            let listing = actor_ends_at(i) && actor_starts_at(i);
            if new_sentence || (token.break_before && !listing) || starter_at(i) {
                clause += 1;
            }
        }
        ids.push(clause);
    }
    ids
}

/// Removes actor mentions inside a "not a party" phrase ("Iran-backed", "Washington Post").
fn drop_covered_actors(found: &mut Vec<Found>) {
    let covers: Vec<(usize, usize)> = found
        .iter()
        .filter(|f| f.role == Role::NotParty)
        .map(|f| (f.start, f.end))
        .collect();
    found.retain(|f| {
        !(f.role.is_actor()
            && covers
                .iter()
                .any(|(start, end)| f.start >= *start && f.end <= *end))
    });
}

fn surface(tokens: &[Token], start: usize, end: usize) -> String {
    tokens[start..end]
        .iter()
        .map(|t| t.surface.as_str())
        .collect::<Vec<_>>()
        .join(" ")
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
    // A phrase never spans clause punctuation: "American, Iranian teams" is two actors,
    // not the phrase "American Iranian".
    phrase
        .stems
        .iter()
        .zip(&tokens[start..end])
        .enumerate()
        .all(|(i, (stem, token))| {
            *stem == token.stem && token.sentence == sentence && (i == 0 || !token.break_before)
        })
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
