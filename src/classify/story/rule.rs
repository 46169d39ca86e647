//! The story rule: which reports are one story. A story key holds a headline's words and
//! markers; [`StoryKey::joins`] decides with publication time as the clock.

use super::stage::Stage;
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
    pub outcome: Option<Stage>,
    /// A story announced that a report of the meeting held has joined (within
    /// [`STORY_SAME_MEETING`]): the meeting's story, whose later reports of any stage but
    /// called off join it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub held: bool,
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

/// Within this long of a story's first report, a report of talks announced and one of
/// talks held are one meeting: outlets preview the day's talks as they begin, and a
/// meeting's end brings word of the next one agreed at it. Further apart, the
/// announcement and the meeting are two stories.
pub const STORY_SAME_MEETING: std::time::Duration = std::time::Duration::from_secs(12 * 3600);

/// When a story's reports were published: the first (the stage's clock) and the latest
/// (the join window's).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StoryTimes {
    /// The report that opened it.
    pub opened: DateTime<Utc>,
    /// Its latest report.
    pub latest: DateTime<Utc>,
}

/// Beyond [`STORY_JOIN_WINDOW`], the share of a headline's words a story's reports must
/// already hold for it to join.
pub const STORY_WORD_SHARE: f64 = 0.5;

impl StoryKey {
    /// Whether a report with this key, published at `at`, joins a story whose key is
    /// `story` and whose reports were published at `times`: not told apart by a marker,
    /// and either within `window` of its latest report (the default is
    /// [`STORY_JOIN_WINDOW`]) or, within [`STORY_WORD_WINDOW`], sharing most of its words
    /// with the story.
    pub fn joins(
        &self,
        at: DateTime<Utc>,
        story: &StoryKey,
        times: StoryTimes,
        window: std::time::Duration,
    ) -> bool {
        let gap = apart(at, times.latest);
        let same_meeting = apart(at, times.opened) <= STORY_SAME_MEETING;
        if self.told_apart(story, same_meeting) {
            return false;
        }
        // Talks called off are followed by other news (new contact, a new date) as often as
        // by reports of the postponement: those join by their words or place, not by time.
        let by_time = !window.is_zero()
            && gap <= window
            && (story.outcome != Some(Stage::CalledOff) || self.follows_up(story));
        by_time || (gap <= STORY_WORD_WINDOW && self.shares_words(story))
    }

    /// Shares most words or a place with the story.
    fn follows_up(&self, story: &StoryKey) -> bool {
        self.shares_words(story) || self.places.iter().any(|p| story.places.contains(p))
    }

    /// At least [`STORY_WORD_SHARE`] of this headline's words are among the story's (the
    /// words of all its reports so far).
    fn shares_words(&self, story: &StoryKey) -> bool {
        !self.terms.is_empty()
            && self.shared_terms(story) as f64 >= STORY_WORD_SHARE * self.terms.len() as f64
    }

    /// Markers no rewording changes: a different venue, round or day, or a stage that
    /// conflicts (announced against held unless `same_meeting`, called off against
    /// anything), is a different story however many words the headlines share. A marker
    /// only one headline has says nothing: headlines leave things out.
    fn told_apart(&self, other: &StoryKey, same_meeting: bool) -> bool {
        disjoint(&self.places, &other.places)
            || disjoint(&self.weekdays, &other.weekdays)
            || ordinals_differ(&self.ordinals, &other.ordinals)
            || outcomes_conflict(self.outcome, other.outcome, same_meeting, other.held)
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
            self.outcome = other.outcome;
        }
        if self.outcome == Some(Stage::Scheduled) {
            self.held |= is_held(other.outcome) || other.held;
        }
    }
}

/// How far apart two publication times are.
fn apart(a: DateTime<Utc>, b: DateTime<Utc>) -> std::time::Duration {
    (a - b).abs().to_std().unwrap_or(std::time::Duration::MAX)
}

fn is_scheduled(stage: Option<Stage>) -> bool {
    stage == Some(Stage::Scheduled)
}

fn is_held(stage: Option<Stage>) -> bool {
    stage.is_some_and(Stage::is_held)
}

/// Talks announced and talks under way or over are two stories (an announcement is news,
/// and so is the meeting it announced) unless reported as one meeting
/// ([`STORY_SAME_MEETING`]); an announced story that a report of the meeting has joined
/// is the meeting's (`story_held`) and takes its later reports. Talks called off are news apart from any other: a report
/// saying so never joins a story that did not, and a story of talks called off takes no
/// report of another stage, only follow-ups that name none. Reports of one meeting may
/// say it began, say it ended, or say neither.
fn outcomes_conflict(
    report: Option<Stage>,
    story: Option<Stage>,
    same_meeting: bool,
    story_held: bool,
) -> bool {
    let called_off = |o: Option<Stage>| o == Some(Stage::CalledOff);
    (called_off(report) && !called_off(story))
        || (called_off(story) && report.is_some() && !called_off(report))
        || (!same_meeting && is_scheduled(report) && is_held(story))
        || (!same_meeting && !story_held && is_scheduled(story) && is_held(report))
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
