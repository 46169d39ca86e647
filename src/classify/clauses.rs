//! Cuts an article into clauses and marks which actors take part in a clause's event and
//! which clauses only attribute ("Iran says").

use super::phrases::{Found, Role};
use super::text::Token;

/// For each found phrase, whether it is an actor taking part. An actor after a topic marker
/// in its clause ("talks on Iran", "discuss Iran's programme and US sanctions") is the
/// subject matter, unless "with", "between", "to" or "from" comes between; a third party
/// after "in" or "at" is the venue.
pub(super) fn topic_flags(
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
                && !is_venue(tokens, actor)
                && !marker_ends.iter().any(|&(end, marker_clause)| {
                    marker_clause == clause
                        && end <= actor.start
                        && !(end..actor.start).any(breaks_topic)
                })
        })
        .collect()
}

/// A third party's capital right after "in" or "at" is where the talks are, not who takes
/// part ("talks resume in Moscow", "meet at Geneva").
fn is_venue(tokens: &[Token], actor: &Found) -> bool {
    actor.role == Role::Other
        && actor
            .start
            .checked_sub(1)
            .is_some_and(|before| matches!(&*tokens[before].stem, "in" | "at"))
}

/// For each clause, whether it is made only of actors and attribution words, with at least
/// one actor: "Iran says", "US officials told reporters", "Araghchi:".
pub(super) fn attribution_clauses(
    found: &[Found],
    clauses: &[usize],
    clause_count: usize,
) -> Vec<bool> {
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
/// ("that", "as", "while") or a circumstance ("amid", "days after"), or after clause punctuation, except for a comma between two
/// actors ("Iran, US hold talks"), which lists them.
pub(super) fn clause_ids(tokens: &[Token], found: &[Found]) -> Vec<usize> {
    let mut actor_starts = vec![false; tokens.len() + 1];
    let mut actor_ends = vec![false; tokens.len() + 1];
    let mut starters = vec![false; tokens.len()];
    for f in found {
        if f.role.is_actor() {
            actor_starts[f.start] = true;
            actor_ends[f.end] = true;
        }
        if matches!(f.role, Role::ClauseStarter | Role::Circumstance) {
            starters[f.start] = true;
        }
    }
    // "days after" opens one clause, not two: the starter inside it starts nothing new.
    for f in found.iter().filter(|f| f.role == Role::Circumstance) {
        for starter in &mut starters[f.start + 1..f.end] {
            *starter = false;
        }
    }
    let mut ids = Vec::with_capacity(tokens.len());
    let mut clause = 0;
    for (i, token) in tokens.iter().enumerate() {
        if i > 0 {
            let new_sentence = token.sentence != tokens[i - 1].sentence;
            // "Iran, US", "Iran, the United States" and "Iran, Russia, and the US" list
            // actors in one clause.
            let joins = |t: &Token| matches!(&*t.stem, "the" | "and" | "or");
            let listing = actor_ends[i]
                && (actor_starts[i]
                    || (joins(token) && actor_starts[i + 1])
                    || (joins(token)
                        && tokens.get(i + 1).is_some_and(joins)
                        && actor_starts.get(i + 2).copied().unwrap_or(false)));
            if new_sentence || (token.break_before && !listing) || starters[i] {
                clause += 1;
            }
        }
        ids.push(clause);
    }
    ids
}
