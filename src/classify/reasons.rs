//! The human-readable reasons of a verdict: the parties, the event, the sentence, or why
//! there was no link.

use super::Classifier;
use super::link::MissReason;
use super::text::Token;

/// Sentences quoted in reasons are cut to this many characters.
const REASON_SENTENCE_CHARS: usize = 200;

impl Classifier {
    /// `parties: United States ("US"), Iran ("Tehran")`; a party the event clause does not
    /// name is implied by a phrase or named elsewhere in the article.
    pub(super) fn describe_parties(
        &self,
        parties: &[Option<String>; 2],
        implied_by: Option<&str>,
    ) -> String {
        let names: Vec<String> = (0..2)
            .map(|party| {
                let name = &self.profile.parties[party].name;
                match (&parties[party], implied_by) {
                    (Some(text), _) => format!("{name} (\"{text}\")"),
                    (None, Some(phrase)) => format!("{name} (implied by \"{phrase}\")"),
                    (None, None) => format!("{name} (named elsewhere in the article)"),
                }
            })
            .collect();
        format!("parties: {}", names.join(", "))
    }

    pub(super) fn describe_miss(&self, miss: &MissReason, tokens: &[Token]) -> String {
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
            MissReason::Opinion { event, cue } => format!(
                "\"{}\" is in an opinion headline (\"{}\"), not news",
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
}

pub(super) fn sentence_text(tokens: &[Token], sentence: usize) -> String {
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
