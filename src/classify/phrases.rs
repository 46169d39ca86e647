//! Finds the profile's phrases in an article's tokens: parties, events, cues, and events
//! made by a word in context.

use super::text::Token;
use super::{CONTEXT_WINDOW, Classifier};
use crate::model::Event;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
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
    Circumstance,
    Implied,
    OtherNews,
    Stalled,
    Revival,
    Opinion,
    Market,
}

impl Role {
    /// The cues that qualify events: what a party's name may contain without meaning it.
    /// Events are not among them (stems cannot tell "US negotiators", a name, from "US
    /// negotiations", an event), nor context words ("counterpart" in "his Iranian
    /// counterpart" is the context of "spoke").
    fn is_word_of_news(self) -> bool {
        matches!(
            self,
            Role::Negation
                | Role::Background
                | Role::OtherNews
                | Role::Circumstance
                | Role::Opinion
                | Role::Stalled
                | Role::Revival
                | Role::OffTopic
                | Role::Market
        )
    }

    pub(super) fn is_actor(self) -> bool {
        matches!(self, Role::Party(_) | Role::Other)
    }
}

#[derive(Debug, Clone)]
pub(super) struct Phrase {
    /// Each word's stem with its hash; the hash is compared first.
    pub(super) stems: Vec<(u64, String)>,
    pub(super) role: Role,
    /// Only matches words written in capitals (`US`, not "us").
    pub(super) needs_upper: bool,
}

/// A phrase found in the text: tokens `start..end`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Found {
    pub(super) role: Role,
    pub(super) sentence: usize,
    pub(super) start: usize,
    pub(super) end: usize,
}

impl Classifier {
    pub(super) fn find_phrases(&self, tokens: &[Token]) -> Vec<Found> {
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
        drop_words_inside_names(&mut found);
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
}

impl Found {
    /// The words of the phrase as written.
    pub(super) fn text(&self, tokens: &[Token]) -> String {
        surface(tokens, self.start, self.end)
    }
}

/// Removes actor mentions inside a "not a party" phrase ("Iran-backed", "Washington Post").
pub(super) fn drop_covered_actors(found: &mut Vec<Found>) {
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

/// Removes cues inside a longer party name: "bill" in "Bill Burns" is no legislation.
fn drop_words_inside_names(found: &mut Vec<Found>) {
    let names: Vec<(usize, usize)> = found
        .iter()
        .filter(|f| matches!(f.role, Role::Party(_)) && f.end - f.start > 1)
        .map(|f| (f.start, f.end))
        .collect();
    found.retain(|f| {
        let inside = names
            .iter()
            .any(|&(start, end)| f.start >= start && f.end <= end && f.end - f.start < end - start);
        !(inside && f.role.is_word_of_news())
    });
}

pub(super) fn surface(tokens: &[Token], start: usize, end: usize) -> String {
    tokens[start..end]
        .iter()
        .map(|t| &*t.surface)
        .collect::<Vec<_>>()
        .join(" ")
}

pub(super) fn phrase_matches(phrase: &Phrase, tokens: &[Token], start: usize) -> bool {
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
