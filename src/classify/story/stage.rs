//! The stage a headline gives the talks (announced, begun, over, called off), read from
//! its words: reports at conflicting stages are different stories.

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
    "agree on",
    "agreed on",
    "agrees on",
    "reach deal",
    "reached",
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
    "suspension",
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
    "meet",
    "meets",
    "met",
    "hold talks",
    "holds talks",
    "held talks",
];
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
    "heads to",
    "head to",
    "heading to",
    "travels to",
    "leaves for",
    "departs for",
    "en route",
];
/// Words before "end" that make it a noun or an intention, not talks ending ("to end the
/// war", "must end enrichment").
const NOT_ENDING_BEFORE: &[&str] = &[
    "to", "the", "an", "no", "must", "should", "would", "could", "can", "will",
];

/// The stage a headline gives the talks: "called off", "ended", "started" or
/// "scheduled", when a phrase says so.
pub(super) fn outcome(words: &[String]) -> Option<String> {
    let mut ended = false;
    let mut started = false;
    let mut scheduled = false;
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
            return Some("called off".to_string());
        }
        let intention = i > 0 && NOT_ENDING_BEFORE.contains(&words[i - 1].as_str());
        // "by the end of the week" is a time, not talks ending.
        let a_time = words.get(i + 1).is_some_and(|next| next == "of");
        ended |= says(ENDED) && !(word == "end" && (intention || a_time));
        // "to begin Sunday", "will open": talks yet to happen.
        let future = i > 0 && FUTURE_BEFORE.contains(&words[i - 1].as_str());
        started |= says(STARTED) && !future;
        scheduled |= says(STARTED) && future;
        scheduled |= says(SCHEDULED);
    }
    // A report of talks that ended and of the next ones agreed is about the ones that
    // ended; one of talks that began and of their next session, about the beginning.
    if ended {
        Some("ended".to_string())
    } else if started {
        Some("started".to_string())
    } else if scheduled {
        Some("scheduled".to_string())
    } else {
        None
    }
}
