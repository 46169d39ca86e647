//! Story keys: the words and markers (place, round, weekday, outcome) that tell one
//! headline's story from another's.

use super::text::{Token, tokenize};
use super::{Classifier, Role};
use crate::model::strip_publisher_suffix;
pub use rule::{
    STORY_JOIN_WINDOW, STORY_OPEN_FOR, STORY_SAME_MEETING, STORY_WORD_SHARE, STORY_WORD_WINDOW,
    StoryKey, StoryTimes,
};

mod rule;
mod stage;

use rustc_hash::FxHashMap;
pub use stage::Stage;
use stage::outcome;
use std::sync::LazyLock;

/// Countries and the other names that fold into them, one line each (see the file).
const PLACES_FILE: &str = include_str!("../places.txt");

/// Place names in lower case, words joined by one space, to their country.
static PLACES: LazyLock<Places> = LazyLock::new(|| Places::parse(PLACES_FILE));

/// Ordinal words ("fourth round") and cardinal words ("round four"), by their number.
const ORDINAL_WORDS: &[&str] = &[
    "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
];
const CARDINAL_WORDS: &[&str] = &[
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
];
/// What gets numbered in reports of talks.
const ORDINAL_UNITS: &[&str] = &["round", "day", "session"];
const WEEKDAYS: &[&str] = &[
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];
struct Places {
    names: FxHashMap<String, String>,
    longest: usize,
}

impl Places {
    fn parse(text: &str) -> Places {
        let mut names = FxHashMap::default();
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (country, others) = line.split_once(':').unwrap_or((line, ""));
            let country = country.trim();
            for name in std::iter::once(country).chain(others.split(',')) {
                let words = name_words(name);
                if !words.is_empty() {
                    names.insert(words.join(" "), country.to_string());
                }
            }
        }
        let longest = names
            .keys()
            .map(|k| k.split(' ').count())
            .max()
            .unwrap_or(1);
        Places { names, longest }
    }
}

/// A place name as the words a headline would show it in, lower-cased.
fn name_words(name: &str) -> Vec<String> {
    name.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

impl Classifier {
    /// The key that identifies a headline's story (see [`StoryKey`]). Its terms are the
    /// content words by stem, without the parties (every alert names them, so they say
    /// nothing about which story it is) and without the publisher suffix.
    pub fn story_key(&self, title: &str) -> StoryKey {
        let title = strip_publisher_suffix(title);
        let tokens = tokenize(&self.stemmer, &[title]);
        let in_party = self.party_words(&tokens);
        let words: Vec<String> = tokens.iter().map(lower_word).collect();
        let mut terms: Vec<u64> = tokens
            .iter()
            .zip(&in_party)
            .filter_map(|(token, party)| (!party && token.content).then_some(token.stem_hash))
            .collect();
        terms.sort_unstable();
        terms.dedup();
        StoryKey {
            terms,
            places: places(&tokens, &words, &in_party),
            ordinals: ordinals(&words),
            weekdays: sorted_unique(
                words
                    .iter()
                    .filter(|w| WEEKDAYS.contains(&w.as_str()))
                    .cloned()
                    .collect(),
            ),
            outcome: outcome(&words),
            held: false,
        }
    }

    /// Which tokens belong to a mention of one of the parties.
    fn party_words(&self, tokens: &[Token]) -> Vec<bool> {
        let mut in_party = vec![false; tokens.len()];
        for found in self.find_phrases(tokens) {
            if let Role::Party(_) = found.role {
                in_party[found.start..found.end].fill(true);
            }
        }
        in_party
    }
}

/// The word as written, lower-cased, without a possessive "'s".
fn lower_word(token: &Token) -> String {
    let lower = token.surface.to_lowercase();
    match lower.strip_suffix("'s") {
        Some(stem) => stem.to_string(),
        None => lower,
    }
}

/// Countries named outside the parties' own names, longest match first. A name must start
/// with a capital, so "turkey" the bird or "chad" the verb are not places.
fn places(tokens: &[Token], words: &[String], in_party: &[bool]) -> Vec<String> {
    let table = &*PLACES;
    let mut found = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let capital = tokens[i]
            .surface
            .chars()
            .next()
            .is_some_and(char::is_uppercase);
        if !capital {
            i += 1;
            continue;
        }
        let longest_match = (1..=table.longest.min(words.len() - i))
            .rev()
            .filter(|&len| !in_party[i..i + len].iter().any(|p| *p))
            .find_map(|len| {
                let name = words[i..i + len].join(" ");
                table.names.get(&name).map(|country| (len, country))
            });
        match longest_match {
            Some((len, country)) => {
                found.push(country.clone());
                i += len;
            }
            None => i += 1,
        }
    }
    sorted_unique(found)
}

/// "round 4" for "fourth round", "4th round", "round four" and "round 4"; the same for days
/// and sessions.
fn ordinals(words: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    for (i, word) in words.iter().enumerate() {
        if !ORDINAL_UNITS.contains(&word.as_str()) {
            continue;
        }
        let before = i.checked_sub(1).and_then(|j| ordinal_number(&words[j]));
        let after = words.get(i + 1).and_then(|w| cardinal_number(w));
        if let Some(number) = before.or(after) {
            found.push(format!("{word} {number}"));
        }
    }
    sorted_unique(found)
}

/// "fourth" or "4th".
fn ordinal_number(word: &str) -> Option<u32> {
    let digits = word
        .strip_suffix("st")
        .or_else(|| word.strip_suffix("nd"))
        .or_else(|| word.strip_suffix("rd"))
        .or_else(|| word.strip_suffix("th"));
    if let Some(number) = digits.and_then(|d| d.parse().ok()) {
        return Some(number);
    }
    number_of(ORDINAL_WORDS, word)
}

/// "four" or "4" (after the unit: "round four").
fn cardinal_number(word: &str) -> Option<u32> {
    if let Ok(number) = word.parse::<u32>() {
        return (number < 100).then_some(number);
    }
    number_of(CARDINAL_WORDS, word)
}

/// The word's place in a list that starts at one.
fn number_of(words: &[&str], word: &str) -> Option<u32> {
    let index = words.iter().position(|w| *w == word)?;
    u32::try_from(index + 1).ok()
}

fn sorted_unique(mut list: Vec<String>) -> Vec<String> {
    list.sort_unstable();
    list.dedup();
    list
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::{DEFAULT_PROFILE, builtin_profile};

    fn key(title: &str) -> StoryKey {
        let classifier = Classifier::new(builtin_profile(DEFAULT_PROFILE).unwrap(), None);
        classifier.story_key(title)
    }

    /// Whether `b`, published two days after `a` (past the join-by-time window), joins
    /// its story: the words and the markers decide.
    fn same(a: &str, b: &str) -> bool {
        joins_after(a, b, 50)
    }

    /// Whether `b`, published `hours` after `a`, joins the story `a` opened.
    fn joins_after(a: &str, b: &str, hours: i64) -> bool {
        let at = chrono::DateTime::parse_from_rfc3339("2026-03-07T09:00:00Z")
            .unwrap()
            .to_utc();
        key(b).joins(
            at + chrono::Duration::hours(hours),
            &key(a),
            StoryTimes {
                opened: at,
                latest: at,
            },
            STORY_JOIN_WINDOW,
        )
    }

    #[test]
    fn reports_a_few_hours_apart_join_however_they_are_worded() {
        // The same meeting as three outlets might put it: no words in common but the
        // parties.
        let first = "US and Iranian envoys meet in Muscat";
        assert!(joins_after(
            first,
            "Rare contact between Washington and Tehran in Oman",
            3
        ));
        assert!(joins_after(
            first,
            "Iran calls first session with Americans constructive",
            20
        ));
        // Told apart even within hours: another venue, another round, a stage that conflicts.
        assert!(!joins_after(
            first,
            "US and Iranian envoys meet in Geneva",
            3
        ));
        assert!(!joins_after(
            "Third round of US-Iran talks ends in Muscat",
            "Fourth round of US-Iran talks ends in Muscat",
            3
        ));
        assert!(!joins_after(
            first,
            "US-Iran meeting in Muscat called off",
            3
        ));
        // Days later, only a report that shares most of its words joins.
        assert!(!joins_after(
            first,
            "Iran answers Washington through the Swiss",
            50
        ));
        assert!(joins_after(
            first,
            "US and Iranian envoys meet again in Muscat",
            50
        ));
        // After three days, nothing does.
        assert!(!joins_after(
            first,
            "US and Iranian envoys meet in Muscat",
            80
        ));
    }

    #[test]
    fn an_announcement_and_the_meeting_it_announces_are_two_stories() {
        assert_eq!(
            key("US and Iran to begin talks on Sunday").outcome,
            Some(Stage::Scheduled)
        );
        assert_eq!(
            key("US-Iran talks begin in Oman").outcome,
            Some(Stage::Started)
        );
        assert_eq!(
            key("Second round of talks is over, Iran says").outcome,
            Some(Stage::Ended)
        );
        assert!(!joins_after(
            "Oman announces US-Iran talks for Saturday",
            "US-Iran talks on Saturday end with a date for more",
            30
        ));
        // Told within hours of each other, the day's talks previewed and reported held
        // are one meeting, and so are a meeting's end and the next one agreed at it.
        assert!(joins_after(
            "US and Iranian envoys to hold talks in Muscat today",
            "US-Iran talks in Muscat end after three hours",
            6
        ));
        assert!(joins_after(
            "US-Iran talks in Muscat end after three hours",
            "Iran and US agree to meet again next week",
            2
        ));
        // Started and ended are the same meeting told at two moments.
        assert!(joins_after(
            "US-Iran talks begin in Oman",
            "US-Iran talks in Oman end after four hours",
            8
        ));
    }

    #[test]
    fn an_announced_story_that_the_meeting_joined_takes_the_meeting_s_end() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-03-07T08:00:00Z")
            .unwrap()
            .to_utc();
        let hours = chrono::Duration::hours;
        let mut story = key("US and Iranian envoys to hold talks in Muscat today");
        let begun = key("US-Iran talks begin in Muscat");
        let times = |latest| StoryTimes { opened: at, latest };
        assert!(begun.joins(at + hours(2), &story, times(at), STORY_JOIN_WINDOW));
        let end = key("US-Iran talks in Muscat end after a long day");
        // Without the meeting's report the end, 14 hours after the announcement, is
        // another story; with it, the end belongs to the meeting's story.
        assert!(!end.joins(at + hours(14), &story, times(at), STORY_JOIN_WINDOW));
        story.absorb(&begun);
        assert!(end.joins(
            at + hours(14),
            &story,
            times(at + hours(2)),
            STORY_JOIN_WINDOW
        ));
    }

    #[test]
    fn stages_are_stored_by_the_names_older_records_use() {
        for (stage, name) in [
            (Stage::Scheduled, "scheduled"),
            (Stage::Started, "started"),
            (Stage::Ended, "ended"),
            (Stage::CalledOff, "called off"),
        ] {
            assert_eq!(serde_json::to_value(stage).unwrap(), name);
            let old: StoryKey =
                serde_json::from_value(serde_json::json!({ "terms": [], "outcome": name }))
                    .unwrap();
            assert_eq!(old.outcome, Some(stage));
        }
    }

    #[test]
    fn talks_called_off_are_news_and_keep_their_follow_ups() {
        let off = "Oman says Saturday's US-Iran talks are postponed";
        // The postponement of a meeting already reported is news ...
        assert!(!joins_after(
            "US and Iran to hold talks in Oman on Saturday",
            off,
            5
        ));
        // ... a follow-up naming no stage is the same story ...
        assert!(joins_after(
            off,
            "Oman to set a new date for the US-Iran round",
            5
        ));
        // ... other news the next day, sharing neither words nor place, is not ...
        assert!(!joins_after(
            off,
            "Washington and Tehran exchange messages",
            20
        ));
        // ... and talks reported held afterwards are not.
        assert!(!joins_after(
            off,
            "US and Iranian envoys meet in Oman after all",
            5
        ));
    }

    #[test]
    fn places_fold_cities_into_countries_and_skip_the_parties() {
        assert_eq!(key("US and Iran hold talks in Muscat").places, ["Oman"]);
        assert_eq!(
            key("Omani mediators carry US message to Tehran").places,
            ["Oman"]
        );
        assert_eq!(
            key("Talks in Abu Dhabi after Vienna round").places,
            ["Austria", "United Arab Emirates"]
        );
        // Washington and Tehran are the parties here, not venues.
        assert!(key("Washington and Tehran hold talks").places.is_empty());
        assert_eq!(key("Iran's talks in Oman's capital").places, ["Oman"]);
        assert!(key("turkey prices rise before talks").places.is_empty());
    }

    #[test]
    fn ordinals_weekdays_and_outcomes_are_read_from_the_headline() {
        assert_eq!(
            key("US, Iran open fourth round of talks").ordinals,
            ["round 4"]
        );
        assert_eq!(
            key("Iran-US talks: round two in Rome").ordinals,
            ["round 2"]
        );
        assert_eq!(key("Talks enter 3rd day").ordinals, ["day 3"]);
        assert!(key("Next round of talks set").ordinals.is_empty());
        assert_eq!(
            key("US and Iran to meet on Saturday").weekdays,
            ["saturday"]
        );
        assert_eq!(key("US-Iran talks end in Oman").outcome, Some(Stage::Ended));
        assert_eq!(key("Iran and US wrap up talks").outcome, Some(Stage::Ended));
        assert_eq!(
            key("Iran-US talks postponed").outcome,
            Some(Stage::CalledOff)
        );
        // Talks held "to end the war" have not ended; "by the end of" is a time.
        assert_eq!(
            key("US and Iran hold talks to end the war").outcome,
            Some(Stage::Started)
        );
        assert_eq!(
            key("Envoys may meet in Istanbul by end of week").outcome,
            Some(Stage::Scheduled)
        );
        assert_eq!(
            key("Envoys met in Istanbul on Friday").outcome,
            Some(Stage::Started)
        );
        // A time ahead wins over a meeting in the present tense; a denied one is no stage.
        assert_eq!(
            key("US and Iranian envoys meet next week in Oman").outcome,
            Some(Stage::Scheduled)
        );
        assert_eq!(key("Iran will not meet US envoys").outcome, None);
        // Hopes of a deal are not a deal reached; reaching out is not an agreement.
        assert_eq!(
            key("US and Iran hope to reach deal in Muscat talks").outcome,
            None
        );
        assert_eq!(key("Oman says Iran has reached out to US").outcome, None);
        // Suspending enrichment is what talks are about, not talks called off.
        assert_eq!(
            key("Iran offers suspension of enrichment as talks begin").outcome,
            Some(Stage::Started)
        );
        assert_eq!(
            key("Talks to be held in Doha").outcome,
            Some(Stage::Scheduled)
        );
        assert_eq!(
            key("Iranian delegation heads to Muscat for US talks").outcome,
            Some(Stage::Scheduled)
        );
        assert_eq!(
            key("US and Iran agreed on a framework in Lausanne").outcome,
            Some(Stage::Ended)
        );
        assert_eq!(
            key("Oman announces postponement of US-Iran talks").outcome,
            Some(Stage::CalledOff)
        );
        assert_eq!(
            key("Talks close with 'framework'").outcome,
            Some(Stage::Ended)
        );
        assert_eq!(key("Iran, US close in on deal").outcome, None);
    }

    #[test]
    fn rewordings_of_one_event_are_one_story() {
        assert!(same(
            "Tehran and Washington hold indirect talks in Muscat",
            "US and Iran hold indirect talks in Oman - Daily Ledger"
        ));
        assert!(same(
            "Iran-US talks in Oman postponed, Oman says",
            "Oman says Iran-US talks postponed to next week"
        ));
    }

    #[test]
    fn a_different_venue_round_day_or_outcome_is_a_different_story() {
        assert!(!same(
            "US negotiators and Iranian counterparts meet in Vienna",
            "US negotiators and Iranian counterparts meet in Oslo"
        ));
        assert!(!same(
            "Iran and US hold second round of talks",
            "Iran and US hold third round of talks"
        ));
        assert!(!same(
            "US and Iran to hold talks on Saturday",
            "US and Iran to hold talks on Tuesday"
        ));
        assert!(!same(
            "US and Iran to hold fourth round of talks in Oman",
            "US and Iran fourth round of talks in Oman ends"
        ));
        // A marker only one headline has does not split them: headlines leave things out.
        assert!(same(
            "US and Iran to hold indirect talks in Oman on Saturday",
            "US and Iran to hold indirect talks on Saturday"
        ));
    }

    #[test]
    fn every_place_line_parses_to_names() {
        let table = &*PLACES;
        assert!(table.names.len() > 250, "{} names", table.names.len());
        assert_eq!(
            table.names.get("the hague").map(String::as_str),
            Some("Netherlands")
        );
        assert_eq!(table.names.get("oman").map(String::as_str), Some("Oman"));
    }
}
