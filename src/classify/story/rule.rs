//! The story rule: which reports are one story. A story key holds a headline's words and
//! markers; [`StoryKey::joins`] decides with publication time as the clock.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What identifies a headline's story, for telling a new report of a known story from news
/// (built by [`crate::Classifier::story_key`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StoryKey {
    /// Content-word stems without the parties and the publisher suffix, sorted and
    /// de-duplicated.
    pub terms: Vec<u64>,
    /// Countries the headline names, cities folded into their country ("Muscat" is Oman).
    #[serde(default)]
    pub places: Vec<String>,
    /// Numbered rounds, days and sessions ("round 4", "day 3").
    #[serde(default)]
    pub ordinals: Vec<String>,
    /// Days of the week named ("saturday").
    #[serde(default)]
    pub weekdays: Vec<String>,
    /// The stage the headline gives the talks: "scheduled", "started", "ended" or
    /// "called off".
    #[serde(default)]
    pub outcome: Option<String>,
}

/// Reports published this close to a story's latest report join it unless a marker tells
/// them apart, whatever their words: outlets word one event very differently, and reports
/// of one event cluster within a day or so, while the parties' next development usually
/// comes days later.
pub const STORY_JOIN_WINDOW: std::time::Duration = std::time::Duration::from_secs(36 * 3600);

/// Beyond [`STORY_JOIN_WINDOW`], up to this long after a story's latest report, a report
/// joins only when its headline shares words with the story's ([`STORY_WORD_SHARE`]).
pub const STORY_WORD_WINDOW: std::time::Duration = std::time::Duration::from_secs(72 * 3600);

/// How long after it opens a story takes reports at all: the daemon closes it then (by
/// the time it committed the story), and the replay of `eval --stories` does the same by
/// publication time.
pub const STORY_OPEN_FOR: std::time::Duration = std::time::Duration::from_secs(72 * 3600);

/// Beyond [`STORY_JOIN_WINDOW`], the share of a headline's words a story's reports must
/// already hold for it to join.
pub const STORY_WORD_SHARE: f64 = 0.5;

impl StoryKey {
    /// Whether a report with this key, published at `at`, joins a story whose key is
    /// `story` and whose latest report was published at `latest`: not told apart by a
    /// marker, and either within `window` (the default is [`STORY_JOIN_WINDOW`]) or,
    /// within [`STORY_WORD_WINDOW`], sharing most of its words with the story.
    pub fn joins(
        &self,
        at: DateTime<Utc>,
        story: &StoryKey,
        latest: DateTime<Utc>,
        window: std::time::Duration,
    ) -> bool {
        let gap = (at - latest)
            .abs()
            .to_std()
            .unwrap_or(std::time::Duration::MAX);
        if self.told_apart(story) {
            return false;
        }
        (!window.is_zero() && gap <= window)
            || (gap <= STORY_WORD_WINDOW && self.shares_words(story))
    }

    /// At least [`STORY_WORD_SHARE`] of this headline's words are among the story's (the
    /// words of all its reports so far).
    fn shares_words(&self, story: &StoryKey) -> bool {
        !self.terms.is_empty()
            && self.shared_terms(story) as f64 >= STORY_WORD_SHARE * self.terms.len() as f64
    }

    /// Markers no rewording changes: a different venue, round or day, or a stage that
    /// conflicts (announced against held, called off against anything), is a different
    /// story however many words the headlines share. A marker only one headline has says
    /// nothing: headlines leave things out.
    fn told_apart(&self, other: &StoryKey) -> bool {
        disjoint(&self.places, &other.places)
            || disjoint(&self.weekdays, &other.weekdays)
            || ordinals_differ(&self.ordinals, &other.ordinals)
            || outcomes_conflict(self.outcome.as_deref(), other.outcome.as_deref())
    }

    /// How many of this key's terms the other has: ranks the stories a report could join.
    pub fn shared_terms(&self, other: &StoryKey) -> usize {
        self.terms
            .iter()
            .filter(|t| other.terms.binary_search(t).is_ok())
            .count()
    }

    /// Adds a joining report's words and markers, so later reports can match any of them.
    pub fn absorb(&mut self, other: &StoryKey) {
        for list in [
            (&mut self.places, &other.places),
            (&mut self.weekdays, &other.weekdays),
            (&mut self.ordinals, &other.ordinals),
        ] {
            list.0.extend(list.1.iter().cloned());
            list.0.sort_unstable();
            list.0.dedup();
        }
        self.terms.extend(&other.terms);
        self.terms.sort_unstable();
        self.terms.dedup();
        if self.outcome.is_none() {
            self.outcome.clone_from(&other.outcome);
        }
    }
}

/// Talks announced and talks under way or over are two stories (an announcement is news,
/// and so is the meeting it announced); talks called off are a story apart from any
/// other. Reports of one meeting may say it began, say it ended, or say neither.
fn outcomes_conflict(a: Option<&str>, b: Option<&str>) -> bool {
    const CALLED_OFF: &str = "called off";
    const SCHEDULED: &str = "scheduled";
    let held = |o: Option<&str>| matches!(o, Some("started" | "ended"));
    (a == Some(CALLED_OFF)) != (b == Some(CALLED_OFF))
        || (a == Some(SCHEDULED) && held(b))
        || (b == Some(SCHEDULED) && held(a))
}

/// Both name something and they share nothing.
fn disjoint(a: &[String], b: &[String]) -> bool {
    !a.is_empty() && !b.is_empty() && !a.iter().any(|x| b.contains(x))
}

/// Some unit ("round") is numbered in both, never with the same number.
fn ordinals_differ(a: &[String], b: &[String]) -> bool {
    fn unit(ordinal: &str) -> &str {
        ordinal.split(' ').next().unwrap_or_default()
    }
    a.iter().any(|x| {
        let same_unit = |ordinal: &&String| unit(ordinal) == unit(x);
        b.iter().any(|o| unit(o) == unit(x)) && !a.iter().filter(same_unit).any(|o| b.contains(o))
    })
}
