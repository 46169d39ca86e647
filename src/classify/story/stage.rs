//! The stage a headline gives the talks (announced, begun, over, called off), read from
//! its words: reports at conflicting stages are different stories.

use serde::{Deserialize, Serialize};

/// The stage a headline gives the talks. Stored in story records by these names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Announced, or a delegation on its way: yet to happen.
    Scheduled,
    /// Begun, or met.
    Started,
    /// Over, or an outcome reached.
    Ended,
    /// Postponed, cancelled, suspended, collapsed.
    #[serde(rename = "called off")]
    CalledOff,
}

impl Stage {
    /// The meeting has taken place: begun or over.
    pub fn is_held(self) -> bool {
        matches!(self, Stage::Started | Stage::Ended)
    }
}

/// Phrases saying talks ended (or reached an outcome, which a meeting does as it ends),
/// and saying they were called off, as lower-case words (one to three words each).
const ENDED: &[&str] = &[
    "end",
    "ends",
    "ended",
    "conclude",
    "concludes",
    "concluded",
    "wrap up",
    "wraps up",
    "wrapped up",
    "closes",
    "close with",
    "closed with",
    "is over",
    "are over",
    "agreed on",
    "deal reached",
    "agreement reached",
    "reached a deal",
    "reached an agreement",
    "reach deal",
    "strike deal",
    "struck deal",
    "yields",
];
const CALLED_OFF: &[&str] = &[
    "postpone",
    "postpones",
    "postponed",
    "delayed",
    "cancel",
    "cancels",
    "cancelled",
    "canceled",
    "call off",
    "calls off",
    "called off",
    "suspend",
    "suspends",
    "suspended",
    "collapse",
    "collapses",
    "collapsed",
    "break down",
    "breaks down",
    "broke down",
    "stalled",
    "postponement",
    "cancellation",
];
/// Phrases saying talks have begun. Not "resume": headlines say "talks resume Monday" of
/// talks yet to happen as often as of talks under way.
const STARTED: &[&str] = &[
    "begin",
    "begins",
    "began",
    "start",
    "starts",
    "started",
    "kick off",
    "kicks off",
    "kicked off",
    "get under way",
    "under way",
    "underway",
    "opens",
    "opened",
    "launch",
    "launches",
    "launched",
    "convene",
    "convenes",
    "convened",
    "met",
    "held talks",
];
/// A meeting in the present tense: held, unless a time puts it ahead ("envoys meet next
/// week").
const MEETING: &[&str] = &["meet", "meets", "hold talks", "holds talks"];
/// Words before a word of beginning or meeting that put it in the future or make it a
/// possibility ("to begin", "may meet", "to be held").
const FUTURE_BEFORE: &[&str] = &[
    "to", "will", "would", "shall", "be", "may", "might", "could", "can",
];
/// Phrases saying talks are yet to happen (announced, or a delegation on its way): an
/// announcement is a story of its own, apart from the meeting it announces.
const SCHEDULED: &[&str] = &[
    "to be held",
    "will hold",
    "will meet",
    "to hold",
    "to meet",
    "set for",
    "set to",
    "scheduled",
    "slated",
    "announces",
    "expected to",
    "to host",
    "will host",
    "to take place",
    "will take place",
    "plan to",
    "plans to",
    "planned",
    "next week",
    "this weekend",
    "tomorrow",
    "heads to",
    "head to",
    "heading to",
    "travels to",
    "leaves for",
    "departs for",
    "en route",
];
/// Words before "end" that make it a noun or an intention, not talks ending ("to end the
/// war", "must end enrichment"); before any phrase of ending, an intention ("hope to reach
/// a deal", "could strike a deal").
const NOT_ENDING_BEFORE: &[&str] = &[
    "to", "the", "an", "no", "must", "should", "would", "could", "can", "will", "may", "might",
];
/// Words before a word of beginning or meeting that deny it ("will not meet").
const DENIED_BEFORE: &[&str] = &["not", "never", "won't", "no"];
/// Times that put a meeting told in the present tense in the future ("envoys meet next
/// week").
const AHEAD: &[&str] = &["next week", "this weekend", "tomorrow"];

/// The stage a headline gives the talks, when a phrase says so.
pub(super) fn outcome(words: &[String]) -> Option<Stage> {
    let mut ended = false;
    let mut started = false;
    let mut scheduled = false;
    let mut ahead = false;
    let mut meeting = false;
    for (i, word) in words.iter().enumerate() {
        let two = words.get(i + 1).map(|next| format!("{word} {next}"));
        let three = words
            .get(i + 2)
            .and_then(|third| two.as_ref().map(|t| format!("{t} {third}")));
        let says = |list: &[&str]| {
            list.contains(&word.as_str())
                || two.as_deref().is_some_and(|t| list.contains(&t))
                || three.as_deref().is_some_and(|t| list.contains(&t))
        };
        if says(CALLED_OFF) {
            return Some(Stage::CalledOff);
        }
        let before = |list: &[&str]| i > 0 && list.contains(&words[i - 1].as_str());
        // "by end of week" is a time, not talks ending.
        let a_time = words.get(i + 1).is_some_and(|next| next == "of");
        ended |= says(ENDED) && !before(NOT_ENDING_BEFORE) && !(word == "end" && a_time);
        // "to begin Sunday", "will open": talks yet to happen; "will not meet": none.
        let future = before(FUTURE_BEFORE);
        let denied = before(DENIED_BEFORE);
        started |= says(STARTED) && !future && !denied;
        meeting |= says(MEETING) && !future && !denied;
        scheduled |= (says(STARTED) || says(MEETING)) && future;
        scheduled |= says(SCHEDULED);
        ahead |= says(AHEAD);
    }
    // A report of talks that ended and of the next ones agreed is about the ones that
    // ended; one of talks that began and of their next session, about the beginning.
    if ended {
        Some(Stage::Ended)
    } else if started || (meeting && !ahead) {
        Some(Stage::Started)
    } else if scheduled {
        Some(Stage::Scheduled)
    } else {
        None
    }
}
