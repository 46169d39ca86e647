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
mod story;
pub mod text;

pub use profile::{
    CONTEXT_WINDOW, Contextual, Cues, Events, LEXICON_FILE, Learned, Party, Profile, ProfileError,
};

use crate::config::ProfileSource;
use crate::model::{Article, Event, Verdict};
use rust_stemmers::Stemmer;
use rustc_hash::FxHashMap;
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
/// A negating word ("no", "not", "never", "won't") this many words or fewer before an
/// event negates it.
const NEGATOR_REACH: usize = 4;

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
    /// Each word's stem with its hash; the hash is compared first.
    stems: Vec<(u64, String)>,
    role: Role,
    /// Only matches words written in capitals (`US`, not "us").
    needs_upper: bool,
}

/// A phrase found in the text: tokens `start..end`.
#[derive(Debug, Clone, Copy)]
struct Found {
    role: Role,
    sentence: usize,
    start: usize,
    end: usize,
}

/// A compiled profile, ready to classify. Cheap to share behind an `Arc`.
pub struct Classifier {
    profile: Profile,
    threshold: f64,
    /// Phrases indexed by the hash of their first stem, so each token costs one lookup.
    phrases: FxHashMap<u64, Vec<Phrase>>,
    /// The event each contextual group makes.
    contextual_events: Vec<Event>,
    /// The learned terms by stem hash, for constant-time lookup.
    learned: FxHashMap<u64, (String, f64)>,
    learned_norm: f64,
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
        let mut phrases: FxHashMap<u64, Vec<Phrase>> = FxHashMap::default();
        let mut add = |text: &str, role: Role| {
            let stems: Vec<(u64, String)> = tokenize(&stemmer, &[text])
                .into_iter()
                .map(|t| (t.stem_hash, t.stem.to_string()))
                .collect();
            let Some(&(first, _)) = stems.first() else {
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
        let participant_stems = PARTICIPANT_MARKERS
            .iter()
            .map(|w| stem_word(&stemmer, w))
            .collect();
        let learned = profile
            .learned
            .terms
            .iter()
            .map(|(stem, weight)| (text::stem_hash(stem), (stem.clone(), *weight)))
            .collect();
        Classifier {
            learned,
            threshold: threshold.unwrap_or(profile.threshold),
            contextual_events: profile.events.contextual.iter().map(|c| c.event).collect(),
            profile,
            phrases,
            learned_norm,
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
        let tokens = tokenize(&self.stemmer, &[title, text::strip_dateline(summary)]);
        let found = self.find_phrases(&tokens);
        let clauses = clause_ids(&tokens, &found);
        let analysis = Analysis::new(&tokens, &found, &clauses, &self.participant_stems);
        let similarity = self.similarity(&tokens);
        let outcome = analysis.best_link();
        let mut reasons = Vec::new();
        let (link_score, event) = match &outcome {
            Ok(link) => {
                let parties = link.parties.map(|p| p.map(|f| f.text(&tokens)));
                reasons.push(self.describe_parties(&parties));
                reasons.push(format!(
                    "event: {} (\"{}\")",
                    link.kind.as_str(),
                    link.event.text(&tokens)
                ));
                reasons.push(format!(
                    "sentence: \"{}\"",
                    sentence_text(&tokens, link.event.sentence)
                ));
                if let Some(cue) = &link.background {
                    reasons.push(format!(
                        "background cue \"{}\": -{BACKGROUND_PENALTY}",
                        cue.text(&tokens)
                    ));
                }
                (link.score, Some(link.kind))
            }
            Err(miss) => {
                reasons.push(self.describe_miss(miss, &tokens));
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
            let Some(candidates) = self.phrases.get(&tokens[start].stem_hash) else {
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
                    });
                }
            }
        }
        drop_covered_actors(&mut found);
        let contextual = self.contextual_events(&found);
        found.extend(contextual);
        found
    }

    /// A contextual word with one of its context words near it in the same sentence is an
    /// event, quoted from the first of the two words to the last.
    fn contextual_events(&self, found: &[Found]) -> Vec<Found> {
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

    fn describe_miss(&self, miss: &MissReason, tokens: &[Token]) -> String {
        match miss {
            MissReason::NotNews(label) => {
                format!(
                    "not news: the headline is labelled \"{}\"",
                    label.text(tokens)
                )
            }
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
            MissReason::Negated { event, cue } => format!(
                "\"{}\" is negated by \"{}\"",
                event.text(tokens),
                cue.text(tokens)
            ),
            MissReason::Background { event, cue } => format!(
                "\"{}\" is background (\"{}\")",
                event.text(tokens),
                cue.text(tokens)
            ),
            MissReason::OneSided {
                event,
                party,
                other,
            } => {
                let party = &self.profile.parties[*party].name;
                match other {
                    Some(other) => format!(
                        "\"{}\" is between {party} and {}, not both parties",
                        event.text(tokens),
                        other.text(tokens)
                    ),
                    None => format!("\"{}\" has only {party} taking part", event.text(tokens)),
                }
            }
            MissReason::NoParties { event } => {
                format!("\"{}\" has neither party taking part", event.text(tokens))
            }
        }
    }

    /// Cosine similarity between the article's content stems and the learned terms.
    fn similarity(&self, tokens: &[Token]) -> f64 {
        if self.learned_norm == 0.0 {
            return 0.0;
        }
        // Counting by sorting: cheaper than a hash map for a hundred words.
        let mut stems: Vec<(u64, &str)> = tokens
            .iter()
            .filter(|t| t.content)
            .map(|t| (t.stem_hash, &*t.stem))
            .collect();
        stems.sort_unstable();
        let (mut dot, mut norm_squared) = (0.0, 0.0);
        for run in stems.chunk_by(|a, b| a == b) {
            let count = run.len() as f64;
            norm_squared += count * count;
            let (hash, stem) = run[0];
            if let Some((learned_stem, weight)) = self.learned.get(&hash)
                && learned_stem == stem
            {
                dot += weight * count;
            }
        }
        if norm_squared == 0.0 {
            return 0.0;
        }
        round3(dot / (norm_squared.sqrt() * self.learned_norm))
    }
}

impl Found {
    /// The words of the phrase as written.
    fn text(&self, tokens: &[Token]) -> String {
        surface(tokens, self.start, self.end)
    }
}

/// Why no event linked the parties: the most telling reason found.
#[derive(Debug, Clone, Copy)]
enum MissReason {
    NotNews(Found),
    NoEvent,
    NoParties {
        event: Found,
    },
    OneSided {
        event: Found,
        party: usize,
        other: Option<Found>,
    },
    Background {
        event: Found,
        cue: Found,
    },
    Negated {
        event: Found,
        cue: Found,
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
#[derive(Debug, Clone, Copy)]
struct Link {
    kind: Event,
    event: Found,
    parties: [Option<Found>; 2],
    background: Option<Found>,
    score: f64,
}

/// One article's tokens, phrases and clauses, read together. Everything that several
/// events would ask again is computed once here.
struct Analysis<'a> {
    tokens: &'a [Token],
    found: &'a [Found],
    /// The clause of each found phrase.
    clause_of: Vec<usize>,
    /// The clause of each token.
    clause_of_token: Vec<usize>,
    /// Found phrases by clause.
    by_clause: Vec<Vec<usize>>,
    /// The sentence of each clause.
    clause_sentence: Vec<usize>,
    /// For each found phrase: an actor that takes part (not the subject matter).
    participating: Vec<bool>,
    /// For each clause: an attribution ("Iran says").
    attribution: Vec<bool>,
}

impl<'a> Analysis<'a> {
    fn new(
        tokens: &'a [Token],
        found: &'a [Found],
        clauses: &[usize],
        participant_stems: &[String],
    ) -> Analysis<'a> {
        let clause_count = clauses.last().map_or(0, |c| c + 1);
        let clause_of: Vec<usize> = found.iter().map(|f| clauses[f.start]).collect();
        let mut by_clause = vec![Vec::new(); clause_count];
        for (index, &clause) in clause_of.iter().enumerate() {
            by_clause[clause].push(index);
        }
        let mut clause_sentence = vec![0; clause_count];
        for (token, &clause) in tokens.iter().zip(clauses) {
            clause_sentence[clause] = token.sentence;
        }
        let participating = topic_flags(tokens, found, &clause_of, participant_stems);
        let attribution = attribution_clauses(found, clauses, clause_count);
        Analysis {
            tokens,
            found,
            clause_of,
            clause_of_token: clauses.to_vec(),
            by_clause,
            clause_sentence,
            participating,
            attribution,
        }
    }

    fn in_clause(&self, clause: usize) -> impl Iterator<Item = &Found> {
        self.by_clause[clause].iter().map(|&i| &self.found[i])
    }

    /// The actors taking part in an event: those in its clause that are not the subject
    /// matter; if its clause names none (an appositive such as "The talks, held in Oman,"),
    /// those in its sentence; and the speakers of the sentence's attribution clauses.
    fn participants(&self, event: usize) -> Vec<Found> {
        let clause = self.clause_of[event];
        let sentence = self.found[event].sentence;
        let taking_part = |&i: &usize| self.participating[i];
        let mut out: Vec<Found> = self.by_clause[clause]
            .iter()
            .filter(|i| taking_part(i))
            .map(|&i| self.found[i])
            .collect();
        if out.is_empty() {
            out = (0..self.found.len())
                .filter(|i| taking_part(i) && self.found[*i].sentence == sentence)
                .map(|i| self.found[i])
                .collect();
        }
        for (other, _) in self
            .attribution
            .iter()
            .enumerate()
            .filter(|(c, is)| **is && *c != clause && self.clause_sentence[*c] == sentence)
        {
            out.extend(self.in_clause(other).filter(|f| f.role.is_actor()));
        }
        out
    }

    fn not_news_label(&self) -> Option<Found> {
        // A label is the whole first clause of the headline: "Analysis:", "Book review:".
        let label_end = self.found.iter().zip(&self.clause_of).find_map(|(f, &c)| {
            (c == 0 && f.role == Role::NotNews && f.start == 0).then_some(*f)
        })?;
        let next = self.tokens.get(label_end.end)?;
        (next.sentence == 0 && next.break_before).then_some(label_end)
    }

    /// The strongest link in the article, or the most telling reason there is none.
    fn best_link(&self) -> Result<Link, MissReason> {
        if let Some(label) = self.not_news_label() {
            return Err(MissReason::NotNews(label));
        }
        let events: Vec<(usize, Vec<Found>)> = (0..self.found.len())
            .filter(|&i| matches!(self.found[i].role, Role::Event(_)))
            .map(|i| (i, self.participants(i)))
            .collect();
        // Parties taking part in any event anywhere: needed for "both sides" and for
        // summary sentences that name only one party.
        let mut article_parties = [false, false];
        for actor in events.iter().flat_map(|(_, p)| p) {
            if let Role::Party(p) = actor.role {
                article_parties[p] = true;
            }
        }
        let outcomes: Vec<Result<Link, MissReason>> = events
            .iter()
            .map(|(i, participants)| self.link(*i, participants, article_parties))
            .collect();
        // When every event in the headline is negated, the headline's message is a refusal,
        // and the lead restating the refused talks does not make them news.
        let headline = || {
            events
                .iter()
                .zip(&outcomes)
                .filter(|((i, _), _)| self.found[*i].sentence == 0)
        };
        let headline_refusal = headline()
            .all(|(_, outcome)| !outcome.is_ok())
            .then(|| {
                headline().find_map(|(_, outcome)| match outcome {
                    Err(reason @ MissReason::Negated { .. }) => Some(*reason),
                    _ => None,
                })
            })
            .flatten();
        let mut best: Option<Link> = None;
        let mut miss = headline_refusal.unwrap_or(MissReason::NoEvent);
        for ((index, _), outcome) in events.iter().zip(outcomes) {
            if headline_refusal.is_some() && self.found[*index].sentence > 0 {
                continue;
            }
            match outcome {
                Ok(link) => {
                    // On a tie the channel wins: it is the more specific news.
                    let better = best.as_ref().is_none_or(|b| {
                        link.score > b.score
                            || (link.score == b.score
                                && link.kind == Event::Channel
                                && b.kind != Event::Channel)
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
        let mut link = best.ok_or(miss)?;
        // A headline about a channel ("a quiet line stays open") names the news even when
        // the parties are only named in the lead.
        if link.kind == Event::Talks
            && let Some(channel) = self.found.iter().zip(&self.clause_of).find_map(|(f, &c)| {
                (f.sentence == 0
                    && f.role == Role::Event(Event::Channel)
                    && !self.in_clause(c).any(|x| x.role == Role::Negation))
                .then_some(*f)
            })
        {
            link.kind = Event::Channel;
            link.event = channel;
        }
        Ok(link)
    }

    /// "does not rule out", "never rejected": a negation that is itself negated.
    fn negated_itself(&self, negation: &Found) -> bool {
        negation
            .start
            .checked_sub(1)
            .is_some_and(|before| is_negator(&self.tokens[before]))
    }

    /// "no talks", "not negotiate", "won't hold talks", "never sit down": a negating word
    /// at most [`NEGATOR_REACH`] words before the event, in its clause.
    fn negator_before(&self, event: &Found, clause: usize) -> Option<Found> {
        let from = event.start.saturating_sub(NEGATOR_REACH);
        (from..event.start)
            .rev()
            .take_while(|&i| self.clause_at(i) == Some(clause))
            .find(|&i| is_negator(&self.tokens[i]) && !self.negates_a_negation(i))
            .map(|i| Found {
                role: Role::Negation,
                sentence: event.sentence,
                start: i,
                end: i + 1,
            })
    }

    /// The negating word at `i` negates a negation phrase right after it ("not rule out").
    fn negates_a_negation(&self, i: usize) -> bool {
        self.found
            .iter()
            .any(|f| f.role == Role::Negation && f.start == i + 1)
    }

    fn clause_at(&self, token: usize) -> Option<usize> {
        self.clause_of_token.get(token).copied()
    }

    fn link(
        &self,
        index: usize,
        participants: &[Found],
        article_parties: [bool; 2],
    ) -> Result<Link, MissReason> {
        let event = self.found[index];
        let Role::Event(kind) = event.role else {
            return Err(MissReason::NoEvent);
        };
        let clause = self.clause_of[index];
        if let Some(cue) = self
            .in_clause(clause)
            .find(|f| f.role == Role::Negation && !self.negated_itself(f))
        {
            return Err(MissReason::Negated { event, cue: *cue });
        }
        if let Some(cue) = self.negator_before(&event, clause) {
            return Err(MissReason::Negated { event, cue });
        }
        if let Some(cue) = self
            .in_clause(clause)
            .find(|f| matches!(f.role, Role::Background | Role::OffTopic))
        {
            return Err(MissReason::Background { event, cue: *cue });
        }
        let mut parties: [Option<Found>; 2] = [None, None];
        for actor in participants {
            if let Role::Party(p) = actor.role {
                parties[p].get_or_insert(*actor);
            }
        }
        let other = participants.iter().find(|f| f.role == Role::Other).copied();
        let base = match parties {
            [Some(_), Some(_)] if event.sentence == 0 => LINK_IN_TITLE,
            [Some(_), Some(_)] => LINK_IN_SUMMARY,
            [None, None] => return Err(MissReason::NoParties { event }),
            _ => {
                let refers_to_both = self.in_clause(clause).any(|f| f.role == Role::BothParties);
                if other.is_none()
                    && article_parties == [true, true]
                    && (refers_to_both || event.sentence > 0)
                {
                    LINK_INDIRECT
                } else {
                    return Err(MissReason::OneSided {
                        event,
                        party: usize::from(parties[0].is_none()),
                        other,
                    });
                }
            }
        };
        let background = self
            .found
            .iter()
            .find(|f| f.role == Role::Background && f.sentence == event.sentence)
            .copied();
        let score = base
            - if background.is_some() {
                BACKGROUND_PENALTY
            } else {
                0.0
            };
        Ok(Link {
            kind,
            event,
            parties,
            background,
            score,
        })
    }
}

/// "no", "not", "never", or a contraction ending in n't ("won't", "doesn't").
fn is_negator(token: &Token) -> bool {
    matches!(&*token.stem, "no" | "not" | "never") || token.stem.ends_with("n't")
}

/// For each found phrase, whether it is an actor taking part. An actor after a topic marker
/// in its clause ("talks on Iran", "discuss Iran's programme and US sanctions") is the
/// subject matter, unless "with", "between", "to" or "from" comes between.
fn topic_flags(
    tokens: &[Token],
    found: &[Found],
    clause_of: &[usize],
    participant_stems: &[String],
) -> Vec<bool> {
    let marker_ends: Vec<(usize, usize)> = found
        .iter()
        .zip(clause_of)
        .filter(|(f, _)| f.role == Role::TopicMarker)
        .map(|(f, &clause)| (f.end, clause))
        .collect();
    // Only a participant marker ends a topic; a list of subjects ("discuss Iran's programme
    // and US sanctions") stays the topic to the end of the clause.
    let breaks_topic = |i: usize| participant_stems.iter().any(|p| **p == *tokens[i].stem);
    found
        .iter()
        .zip(clause_of)
        .map(|(actor, &clause)| {
            actor.role.is_actor()
                && !marker_ends.iter().any(|&(end, marker_clause)| {
                    marker_clause == clause
                        && end <= actor.start
                        && !(end..actor.start).any(breaks_topic)
                })
        })
        .collect()
}

/// For each clause, whether it is made only of actors and attribution words, with at least
/// one actor: "Iran says", "US officials told reporters", "Araghchi:".
fn attribution_clauses(found: &[Found], clauses: &[usize], clause_count: usize) -> Vec<bool> {
    let mut covered_by = vec![None; clauses.len()];
    for f in found
        .iter()
        .filter(|f| f.role.is_actor() || f.role == Role::Attribution)
    {
        for slot in &mut covered_by[f.start..f.end] {
            // An actor wins over an attribution word covering the same token.
            if *slot != Some(true) {
                *slot = Some(f.role.is_actor());
            }
        }
    }
    let mut covered = vec![true; clause_count];
    let mut has_actor = vec![false; clause_count];
    for (slot, &clause) in covered_by.iter().zip(clauses) {
        match slot {
            Some(is_actor) => has_actor[clause] |= is_actor,
            None => covered[clause] = false,
        }
    }
    covered
        .iter()
        .zip(has_actor)
        .map(|(c, a)| *c && a)
        .collect()
}

/// Clause ids per token. A new clause starts with a new sentence, at a clause starter
/// ("that", "as", "while"), or after clause punctuation, except for a comma between two
/// actors ("Iran, US hold talks"), which lists them.
fn clause_ids(tokens: &[Token], found: &[Found]) -> Vec<usize> {
    let mut actor_starts = vec![false; tokens.len() + 1];
    let mut actor_ends = vec![false; tokens.len() + 1];
    let mut starters = vec![false; tokens.len()];
    for f in found {
        if f.role.is_actor() {
            actor_starts[f.start] = true;
            actor_ends[f.end] = true;
        }
        if f.role == Role::ClauseStarter {
            starters[f.start] = true;
        }
    }
    let mut ids = Vec::with_capacity(tokens.len());
    let mut clause = 0;
    for (i, token) in tokens.iter().enumerate() {
        if i > 0 {
            let new_sentence = token.sentence != tokens[i - 1].sentence;
            // "Iran, US" and "Iran, the United States" list actors in one clause.
            let listing = actor_ends[i]
                && (actor_starts[i] || (&*token.stem == "the" && actor_starts[i + 1]));
            if new_sentence || (token.break_before && !listing) || starters[i] {
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
        .map(|t| &*t.surface)
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
        .all(|(i, ((hash, stem), token))| {
            *hash == token.stem_hash
                && **stem == *token.stem
                && token.sentence == sentence
                && (i == 0 || !token.break_before)
        })
}

fn sentence_text(tokens: &[Token], sentence: usize) -> String {
    let words: Vec<&str> = tokens
        .iter()
        .filter(|t| t.sentence == sentence)
        .map(|t| &*t.surface)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn classifier() -> Classifier {
        Classifier::new(builtin_profile(DEFAULT_PROFILE).unwrap(), None)
    }

    fn verdict(title: &str, lead: &str) -> Verdict {
        classifier().classify(title, lead)
    }

    #[test]
    fn a_party_after_a_topic_marker_is_the_subject_not_a_participant() {
        let v = verdict("Trump and Putin discuss Iran's nuclear programme", "");
        assert!(!v.relevant, "{v:?}");
        assert!(v.reasons[0].contains("not both parties"), "{v:?}");
        assert!(verdict("US discusses sanctions relief with Iran", "").relevant);
    }

    #[test]
    fn the_speaker_of_an_attribution_clause_takes_part() {
        let v = verdict("Talks with Washington were useful, Iran says", "");
        assert!(v.relevant, "{v:?}");
        assert!(verdict("Araghchi: next round with Witkoff set for Sunday", "").relevant);
    }

    #[test]
    fn negation_acts_within_its_clause() {
        assert!(
            verdict(
                "Iran ready for talks with US, but refuses to give up missiles",
                ""
            )
            .relevant
        );
        assert!(!verdict("Iran refuses talks with US", "").relevant);
    }

    #[test]
    fn a_refused_headline_is_not_rescued_by_its_lead() {
        let v = verdict(
            "Iran halts indirect talks",
            "Iran has suspended negotiations with the United States, adding there was no point talking under fire.",
        );
        assert!(!v.relevant, "{v:?}");
        assert!(v.reasons[0].contains("negated"), "{v:?}");
    }

    #[test]
    fn labelled_pieces_are_not_news() {
        let v = verdict("Analysis: US and Iran resume talks in Oman", "");
        assert!(!v.relevant);
        assert!(v.reasons[0].starts_with("not news"), "{v:?}");
    }

    #[test]
    fn contextual_words_need_context_and_respect_exclusions() {
        assert!(verdict("Next round of US-Iran talks set for Rome", "").relevant);
        assert!(!verdict("US imposes new round of sanctions on Iran", "").relevant);
        assert!(verdict("Iran says channel with US envoy remains open", "").relevant);
        assert!(!verdict("US bans Iranian TV channel", "").relevant);
    }

    #[test]
    fn party_names_in_other_roles_do_not_count() {
        assert!(!verdict("US holds talks with Iran-backed militias in Iraq", "").relevant);
        assert!(!verdict("Talks with us: our podcast returns", "").relevant);
        assert!(!verdict("US and Iran wrestlers meet in world championship final", "").relevant);
    }

    #[test]
    fn a_channel_headline_names_the_event_kind() {
        let v = verdict(
            "Despite strikes, a quiet line stays open",
            "Tehran and Washington have continued to exchange messages through Swiss intermediaries.",
        );
        assert!(v.relevant, "{v:?}");
        assert_eq!(v.event, Some(Event::Channel));
    }

    #[test]
    fn reasons_name_parties_event_sentence_score_and_threshold() {
        let v = verdict("US and Iran resume indirect talks in Muscat", "");
        assert_eq!(
            v.reasons[0],
            "parties: United States (\"US\"), Iran (\"Iran\")"
        );
        assert_eq!(v.reasons[1], "event: talks (\"talks\")");
        assert_eq!(
            v.reasons[2],
            "sentence: \"US and Iran resume indirect talks in Muscat\""
        );
        assert!(
            v.reasons.last().unwrap().contains(">= threshold 0.60"),
            "{v:?}"
        );
    }
}
