//! Links an event to the parties taking part in its clause, scores the link, and says why
//! an article has none.

use super::clauses::{attribution_clauses, topic_flags};
use super::phrases::{Found, Role};
use super::text::Token;
use crate::model::Event;

/// Score of a clause that has both parties taking part in an event, in the headline.
pub(super) const LINK_IN_TITLE: f64 = 0.75;
/// The same in the summary: summaries mention more background, so a little less.
pub(super) const LINK_IN_SUMMARY: f64 = 0.65;
/// An event clause with one party (or "both sides") when the article has both parties
/// taking part in events elsewhere.
pub(super) const LINK_INDIRECT: f64 = 0.45;
/// An event clause with one party whose event phrase implies the other ("nuclear talks"
/// with Iran are the talks the US attends): as sure as a link in the summary, less than one
/// that names both in the headline.
pub(super) const LINK_IMPLIED: f64 = 0.6;
/// Taken off when a background cue is elsewhere in the linking sentence.
pub(super) const BACKGROUND_PENALTY: f64 = 0.25;
/// A negating word ("no", "not", "never", "won't") this many words or fewer before an
/// event negates it.
pub(super) const NEGATOR_REACH: usize = 4;

/// Why no event linked the parties: the most telling reason found.
#[derive(Debug, Clone, Copy)]
pub(super) enum MissReason {
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
    Opinion {
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
            MissReason::Opinion { .. } => 4,
            MissReason::Negated { .. } => 5,
            MissReason::NotNews(_) => 6,
        }
    }
}

/// The clause that linked the parties to an event.
#[derive(Debug, Clone, Copy)]
pub(super) struct Link {
    pub(super) kind: Event,
    pub(super) event: Found,
    pub(super) parties: [Option<Found>; 2],
    /// The phrase that stands for the party not named ("nuclear talks").
    pub(super) implied_by: Option<Found>,
    pub(super) background: Option<Found>,
    pub(super) score: f64,
}

/// One article's tokens, phrases and clauses, read together. Everything that several
/// events would ask again is computed once here.
pub(super) struct Analysis<'a> {
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
    pub(super) fn new(
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
        if self.borrows_main_clause(clause, &out) {
            out.extend(
                self.by_clause[clause - 1]
                    .iter()
                    .filter(|i| taking_part(i))
                    .map(|&i| self.found[i]),
            );
        }
        for (other, _) in self
            .attribution
            .iter()
            .enumerate()
            .filter(|(c, is)| **is && *c != clause && self.clause_sentence[*c] == sentence)
        {
            out.extend(self.in_clause(other).filter(|f| f.role.is_actor()));
        }
        let first_other = out
            .iter()
            .filter(|f| f.role == Role::Other)
            .map(|f| f.start)
            .min();
        if let Some(first_other) = first_other {
            out.retain(|party| {
                !self.found.iter().any(|e| {
                    matches!(e.role, Role::Event(_))
                        && first_other < e.start
                        && self.modifies(party, e)
                })
            });
        }
        out
    }

    /// "Iran" in "Trump and Netanyahu discuss Iran negotiations": a party named right before
    /// an event (or before "nuclear" and an event) says what the talks are about, and takes
    /// part in none of its sentence's events. It is read so only when a third party named
    /// before those talks takes part: alone ("Iran talks resume") or with the third party
    /// only as the occasion ("announces Iran talks at a meeting with Netanyahu") the name is
    /// a participant.
    ///
    /// Paired with another actor ("US-Iran talks", "Saudi-Iranian talks"), the names are
    /// the talks' participants; first in its clause ("Trump meets Netanyahu"), the name is
    /// the subject of a verb. A modifier follows another word of its clause: "for Iran
    /// nuclear discussions", "high-stakes Iran negotiations".
    fn modifies(&self, party: &Found, event: &Found) -> bool {
        let right_before = matches!(party.role, Role::Party(_))
            && party.sentence == event.sentence
            && party.end <= event.start
            && event.start - party.end <= 1
            && self.tokens[party.end..event.start]
                .iter()
                .all(|t| &*t.stem == "nuclear");
        if !right_before {
            return false;
        }
        let paired = self
            .found
            .iter()
            .any(|f| f.role.is_actor() && (f.end == party.start || f.start == party.end));
        let follows_a_word = party.start.checked_sub(1).is_some_and(|before| {
            self.clause_at(before) == self.clause_at(party.start)
                && !matches!(&*self.tokens[before].stem, "and" | "or")
        });
        // "Iran talks with the US": the talks are the party's, with the other.
        let with_after = self
            .tokens
            .get(event.end)
            .is_some_and(|t| matches!(&*t.stem, "with" | "between"));
        !paired && follows_a_word && !with_after
    }

    /// "US delegation lands in Muscat ahead of talks with Iranians", "Iran's envoy upbeat
    /// after sit-down with Kerry": an event clause opened by a starter or a circumstance
    /// that names one party and no third party takes the actors of the clause before it.
    fn borrows_main_clause(&self, clause: usize, own: &[Found]) -> bool {
        let opened = self.in_clause(clause).any(|f| {
            matches!(f.role, Role::ClauseStarter | Role::Circumstance)
                && f.start
                    .checked_sub(1)
                    .is_none_or(|before| self.clause_at(before) != Some(clause))
        });
        let one_party = own.iter().all(|f| matches!(f.role, Role::Party(_)))
            && own.windows(2).all(|w| w[0].role == w[1].role)
            && !own.is_empty();
        clause > 0
            && opened
            && one_party
            && self.clause_sentence[clause - 1] == self.clause_sentence[clause]
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
    pub(super) fn best_link(&self) -> Result<Link, MissReason> {
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
        // When no event in the headline links the parties and one of them is refused, or is
        // someone else's talks ("Iran and the E3 meet in Istanbul"), that is the headline's
        // news, and the lead naming both parties (as background, or as the subject of
        // those other talks) does not make talks between them news.
        let headline = || {
            events
                .iter()
                .zip(&outcomes)
                .filter(|((i, _), _)| self.found[*i].sentence == 0)
        };
        let headline_news = |wanted: fn(&MissReason) -> bool| {
            headline().find_map(|(_, outcome)| match outcome {
                Err(reason) if wanted(reason) => Some(*reason),
                _ => None,
            })
        };
        let headline_refusal = headline()
            .all(|(_, outcome)| !outcome.is_ok())
            .then(|| {
                headline_news(|r| {
                    matches!(r, MissReason::Negated { .. } | MissReason::Opinion { .. })
                })
                .or_else(|| {
                    headline_news(|r| matches!(r, MissReason::OneSided { other: Some(_), .. }))
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
        if let Some(cue) = self
            .other_news_headline(&link)
            .or_else(|| self.market_headline())
        {
            return Err(MissReason::Background {
                event: link.event,
                cue,
            });
        }
        if let Some(cue) = self.opinion_headline().filter(|_| link.event.sentence > 0) {
            return Err(MissReason::Opinion {
                event: link.event,
                cue,
            });
        }
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

    /// "Oil slips on signs of progress in US-Iran talks", "The rial rallies after the two
    /// presidents' call": a headline whose first clause is about a market is market news,
    /// and the talks in it or in its lead are what moved the market. A market in a later
    /// clause ("talks open as oil prices fall") is a circumstance of the talks, and a market
    /// the talks are about is their subject. Returns the market phrase.
    fn market_headline(&self) -> Option<Found> {
        self.found
            .iter()
            .zip(&self.clause_of)
            .find(|&(f, &clause)| {
                f.sentence == 0
                    && f.role == Role::Market
                    && clause == 0
                    && !self.after_topic_marker(f)
            })
            .map(|(f, _)| *f)
    }

    /// The talks' topic comes before `found` in its sentence, the list of subjects running
    /// over commas: "talks on", "negotiations about", "discuss". "Effects on the rial" is
    /// no topic of talks.
    fn after_topic_marker(&self, found: &Found) -> bool {
        let right_after_an_event = |marker: &Found| {
            self.tokens[marker.start].stem.starts_with("discuss")
                || self
                    .found
                    .iter()
                    .any(|e| matches!(e.role, Role::Event(_)) && e.end == marker.start)
        };
        self.found.iter().any(|f| {
            f.role == Role::TopicMarker
                && f.sentence == found.sentence
                && f.end <= found.start
                && right_after_an_event(f)
        })
    }

    /// A headline that says what should be done, with no one in it saying so ("Diplomacy
    /// must be strict"): an opinion piece, whose lead's talks are its subject, not news.
    fn opinion_headline(&self) -> Option<Found> {
        if self.headline_spoken() {
            return None;
        }
        self.found
            .iter()
            .find(|f| f.sentence == 0 && f.role == Role::Opinion)
            .copied()
    }

    /// Someone in the headline says it: an attribution clause ("Iran says") or a verb of
    /// saying.
    fn headline_spoken(&self) -> bool {
        self.attribution
            .iter()
            .enumerate()
            .any(|(c, is)| *is && self.clause_sentence[c] == 0)
            || self
                .found
                .iter()
                .any(|f| f.sentence == 0 && f.role == Role::Attribution && self.says(f))
    }

    /// "Why the US must quit negotiating with Iran": a headline clause that says what should
    /// be done, with no one in the headline saying it, is an opinion piece, not news of
    /// talks. With a speaker ("US must lift sanctions first, Iran says") it is a condition
    /// one side set, which is news.
    fn opinion_in_headline(&self, clause: usize) -> Option<Found> {
        if self.clause_sentence[clause] != 0 || self.headline_spoken() {
            return None;
        }
        self.in_clause(clause)
            .find(|f| f.role == Role::Opinion)
            .copied()
    }

    /// An attribution word that is a verb of saying ("says", "told"), not a title
    /// ("minister").
    fn says(&self, word: &Found) -> bool {
        matches!(
            &*self.tokens[word.start].stem,
            "say" | "said" | "tell" | "told" | "claim" | "confirm" | "add" | "insist"
        )
    }

    /// "amid stalled talks": a stalled state cancels an event unless its clause revives it
    /// ("revive stalled talks", "deadlock broken").
    fn stalled_without_revival(&self, clause: usize) -> Option<Found> {
        let stalled = self.in_clause(clause).find(|f| f.role == Role::Stalled)?;
        (!self.in_clause(clause).any(|f| f.role == Role::Revival)).then_some(*stalled)
    }

    /// "US sanctions Iran amid nuclear talks": an event in a circumstance clause ("amid",
    /// "ahead of") is background in the lead, and in the headline when the headline reports
    /// other news outside that clause: news words, or someone else's meeting ("Trump and
    /// Netanyahu meet amid Iran talks"). Without other news ("delegation lands in Muscat
    /// ahead of talks") a headline's talks are the news.
    fn circumstance_of_other_news(&self, clause: usize) -> Option<Found> {
        let cue = self
            .in_clause(clause)
            .find(|f| f.role == Role::Circumstance)?;
        let sentence = self.clause_sentence[clause];
        let elsewhere = |role: fn(Role) -> bool| {
            self.found
                .iter()
                .zip(&self.clause_of)
                .any(|(f, &c)| role(f.role) && f.sentence == sentence && c != clause)
        };
        let other_news = || elsewhere(|r| matches!(r, Role::OtherNews | Role::Market));
        let third_party_event = || {
            self.found.iter().zip(&self.clause_of).any(|(f, &c)| {
                matches!(f.role, Role::Event(_))
                    && f.sentence == sentence
                    && c != clause
                    && self.in_clause(c).any(|x| x.role == Role::Other)
            })
        };
        (sentence > 0 || other_news() || third_party_event()).then_some(*cue)
    }

    /// A link found only in the lead, under a headline that reports other news ("US
    /// sanctions Iranian shipping firms") and no event of its own, is background to that
    /// news. Returns the headline's other-news phrase.
    fn other_news_headline(&self, link: &Link) -> Option<Found> {
        if link.event.sentence == 0 || self.headline_has_news_event() {
            return None;
        }
        self.found
            .iter()
            .find(|f| f.sentence == 0 && f.role == Role::OtherNews)
            .copied()
    }

    /// The headline has an event of its own outside a circumstance clause ("a quiet line
    /// stays open", not "sanctions ahead of talks").
    fn headline_has_news_event(&self) -> bool {
        self.found.iter().zip(&self.clause_of).any(|(f, &c)| {
            f.sentence == 0
                && matches!(f.role, Role::Event(_))
                && !self.in_clause(c).any(|x| x.role == Role::Circumstance)
        })
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
        if let Some(cue) = self.stalled_without_revival(clause) {
            return Err(MissReason::Negated { event, cue });
        }
        if let Some(cue) = self.opinion_in_headline(clause) {
            return Err(MissReason::Opinion { event, cue });
        }
        if let Some(cue) = self
            .in_clause(clause)
            .find(|f| matches!(f.role, Role::Background | Role::OffTopic))
        {
            return Err(MissReason::Background { event, cue: *cue });
        }
        if let Some(cue) = self.circumstance_of_other_news(clause) {
            return Err(MissReason::Background { event, cue });
        }
        let mut parties: [Option<Found>; 2] = [None, None];
        for actor in participants {
            if let Role::Party(p) = actor.role {
                parties[p].get_or_insert(*actor);
            }
        }
        let other = participants.iter().find(|f| f.role == Role::Other).copied();
        let implied_by = self
            .in_clause(clause)
            .find(|f| f.role == Role::Implied)
            .copied()
            .filter(|_| other.is_none() && parties.iter().filter(|p| p.is_some()).count() == 1);
        let base = match parties {
            [Some(_), Some(_)] if event.sentence == 0 => LINK_IN_TITLE,
            [Some(_), Some(_)] => LINK_IN_SUMMARY,
            [None, None] => return Err(MissReason::NoParties { event }),
            _ => {
                let refers_to_both = self.in_clause(clause).any(|f| f.role == Role::BothParties);
                if implied_by.is_some() {
                    LINK_IMPLIED
                } else if other.is_none()
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
            implied_by,
            background,
            score,
        })
    }
}

/// "no", "not", "never", or a contraction ending in n't ("won't", "doesn't").
pub(super) fn is_negator(token: &Token) -> bool {
    matches!(&*token.stem, "no" | "not" | "never") || token.stem.ends_with("n't")
}
